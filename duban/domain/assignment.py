"""Assignment rules: which tasks a measure yields, with which due dates.

* one task per responsible department per deadline, keeping its role;
* each distinct target date is a milestone (deadline); a measure with no
  dated target gets the plan's horizon;
* a supporting department is due ``support_lead_workdays`` working days before
  the lead, so the lead can consolidate its input;
* a collective name (各区) expands to one task per district in the directory;
* a due date on a non-working day moves to the previous working day;
* a task whose due date has passed by the day it is assigned, or leaves less
  than the first reminder's lead time (``reminder_lead_workdays``), is *late*:
  assigning it needs the coordinator's confirmation. One already past becomes
  due ``grace_workdays`` working days after assignment (the plan's date stays
  its deadline), so its ladder starts from assignment — never an immediate
  催办; one merely near keeps its date (nothing is overdue yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from duban.domain.errors import DubanError
from duban.domain.labels import TASK_ROLE_LABELS
from duban.domain.plan_draft import Role
from duban.domain.workdays import Unpublished, WorkCalendar


@dataclass(frozen=True)
class AssignmentPolicy:
    support_lead_workdays: int = 10
    # Used when a measure has no dated target and the plan names no horizon.
    default_horizon: date = date(2020, 12, 31)
    # A late task (see the module doc) gets this many working days from assignment.
    grace_workdays: int = 15
    # The first reminder's lead (the ladder's earliest 到期提醒), in working days.
    reminder_lead_workdays: int = 10


@dataclass(frozen=True)
class Responsible:
    """A responsibility as imported: ``departments`` are the official names it
    stands for (one, or every district for 各区)."""

    named_as: str
    role: Role
    departments: tuple[str, ...]


@dataclass(frozen=True)
class MeasureToAssign:
    number: int
    title: str
    responsible: tuple[Responsible, ...]
    target_dates: tuple[date, ...] = ()


@dataclass(frozen=True, order=True)
class TaskSpec:
    """One task to exist. Identity: (measure, department, role, deadline)."""

    measure: int
    deadline: date
    role: Role
    department: str
    named_as: str = field(compare=False)
    due: date = field(compare=False)
    # Set when the task is late at assignment: the due date the plan gave,
    # which ``due`` replaces with the grace period's end.
    plan_due: date | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[int, str, str, date]:
        return (self.measure, self.department, self.role.value, self.deadline)


def deadlines_of(
    measure: MeasureToAssign, horizon: date | None, policy: AssignmentPolicy
) -> list[date]:
    """The measure's milestones: distinct target dates, else the horizon."""
    dates = sorted(set(measure.target_dates))
    return dates or [horizon or policy.default_horizon]


@dataclass(frozen=True, order=True)
class TaskIdentity:
    """Which task a measure yields, without its due date (no calendar needed)."""

    deadline: date
    role: Role
    department: str
    named_as: str = field(compare=False)


def task_identities(
    measure: MeasureToAssign, *, horizon: date | None, policy: AssignmentPolicy | None = None
) -> list[TaskIdentity]:
    """The tasks ``measure`` yields, by deadline, role (lead first) and order.

    Raises DubanError when the measure has no lead."""
    policy = policy or AssignmentPolicy()
    if not any(r.role is Role.LEAD for r in measure.responsible):
        raise DubanError(f"措施{measure.number}没有牵头单位,无法交办")
    found: list[TaskIdentity] = []
    for deadline in deadlines_of(measure, horizon, policy):
        seen: dict[str, Role] = {}
        for role in (Role.LEAD, Role.SUPPORTING):
            for resp in measure.responsible:
                if resp.role is not role:
                    continue
                for department in resp.departments:
                    if department in seen:
                        continue  # a lead also listed as supporting (or via 各区) leads
                    seen[department] = role
                    found.append(TaskIdentity(deadline, role, department, resp.named_as))
    return found


def plan_tasks(
    measure: MeasureToAssign,
    *,
    calendar: WorkCalendar,
    horizon: date | None,
    policy: AssignmentPolicy | None = None,
) -> list[TaskSpec]:
    """The tasks ``measure`` yields (see :func:`task_identities`) with their due dates.

    Raises CalendarError (from ``calendar``) when a due date falls in a year the
    calendar does not cover; DubanError when the measure has no lead.
    """
    policy = policy or AssignmentPolicy()
    specs: list[TaskSpec] = []
    dues: dict[date, tuple[date, date]] = {}
    for found in task_identities(measure, horizon=horizon, policy=policy):
        if found.deadline not in dues:
            lead_due = calendar.workday_on_or_before(found.deadline)
            support_due = calendar.add_workdays(lead_due, -policy.support_lead_workdays)
            dues[found.deadline] = (lead_due, support_due)
        lead_due, support_due = dues[found.deadline]
        specs.append(
            TaskSpec(
                measure=measure.number,
                deadline=found.deadline,
                role=found.role,
                department=found.department,
                named_as=found.named_as,
                due=lead_due if found.role is Role.LEAD else support_due,
            )
        )
    return specs


@dataclass(frozen=True)
class LateTask:
    """A task late at assignment: the plan's due date, whether it has already
    passed (else it is within the first reminder's lead), and the due date it
    gets (the grace period's end when passed, else its own)."""

    spec: TaskSpec
    plan_due: date
    passed: bool
    grace_due: date

    def describe(self) -> str:
        role = TASK_ROLE_LABELS[self.spec.role]
        head = f"措施{self.spec.measure} {self.spec.department}({role}):方案时限 "
        if self.passed:
            return f"{head}{self.plan_due.isoformat()}已过,将改为 {self.grace_due.isoformat()}"
        return f"{head}{self.plan_due.isoformat()}临近,不足首次到期提醒的提前量,保持不变"


def late_at_assignment(
    specs: list[TaskSpec],
    *,
    assigned_on: date,
    calendar: WorkCalendar,
    policy: AssignmentPolicy | None = None,
) -> list[LateTask]:
    """The specs that are late when assigned on ``assigned_on`` (see the module
    doc), with the due date the grace period gives them. Raises CalendarError
    when the grace period ends in a year the calendar does not know."""
    policy = policy or AssignmentPolicy()
    late: list[LateTask] = []
    for spec in specs:
        first = calendar.maybe_add_workdays(spec.due, -policy.reminder_lead_workdays)
        passed = spec.due < assigned_on
        if not passed and (isinstance(first, Unpublished) or first >= assigned_on):
            continue
        grace_due = spec.due
        if passed:
            grace_due = calendar.add_workdays(
                calendar.workday_on_or_before(assigned_on), policy.grace_workdays
            )
        late.append(LateTask(spec, spec.due, passed, grace_due))
    return late


def with_grace(specs: list[TaskSpec], late: list[LateTask]) -> list[TaskSpec]:
    """``specs`` with each past one's due date moved to its grace date."""
    moved = {item.spec.key: item for item in late if item.passed}
    return [
        replace(spec, due=moved[spec.key].grace_due, plan_due=spec.due)
        if spec.key in moved
        else spec
        for spec in specs
    ]


class Fate(StrEnum):
    """What a re-imported plan means for an existing task."""

    STAY = "stay"  # the plan still yields it
    REPLACED = "replaced"  # cancelled; a new task takes over
    CANCELLED = "cancelled"  # cancelled; nothing takes over
    FINISHED = "finished"  # no longer yielded but already 已办结: kept as history


# The fates assignment acts on: it cancels these tasks.
CANCELLING_FATES = frozenset({Fate.REPLACED, Fate.CANCELLED})


FATE_LABELS = {
    Fate.STAY: "保留",
    Fate.REPLACED: "撤销,由新任务接替",
    Fate.CANCELLED: "撤销",
    Fate.FINISHED: "已办结,保留记录",
}


@dataclass(frozen=True)
class Withdrawn:
    """A task the changed plan no longer yields (``key`` is the caller's, e.g. its id)."""

    key: int
    department: str
    role: Role
    deadline: date


def successors(
    withdrawn: list[Withdrawn], new: list[TaskIdentity]
) -> dict[int, TaskIdentity | None]:
    """Which new task takes over from each withdrawn one (None: none does).

    In order of preference: the same department at another deadline or in
    another role (a moved date, a supporting unit made lead) — its progress
    carries over; else the one task of the same role and deadline, or the
    only one of the same role (a
    changed lead: the old lead's task is taken over by the new lead's, even
    when that unit's own earlier task is carried into it too)."""
    found: dict[int, TaskIdentity | None] = {}
    for old in withdrawn:
        mine = [n for n in new if n.department == old.department]
        if mine:
            found[old.key] = min(
                mine,
                key=lambda n: (n.role is not old.role, abs((n.deadline - old.deadline).days)),
            )
            continue
        slot = [n for n in new if n.role is old.role and n.deadline == old.deadline]
        if len(slot) != 1:
            slot = [n for n in new if n.role is old.role]  # a new lead and a new date
        found[old.key] = slot[0] if len(slot) == 1 else None
    return found
