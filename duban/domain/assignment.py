"""Assignment rules: which tasks a measure yields, with which due dates.

* one task per responsible department per deadline, keeping its role;
* each distinct target date is a milestone (deadline); a measure with no
  dated target gets the plan's horizon;
* a supporting department is due ``support_lead_workdays`` working days before
  the lead, so the lead can consolidate its input;
* a collective name (各区) expands to one task per district in the directory;
* a due date on a non-working day moves to the previous working day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from duban.domain.errors import DubanError
from duban.domain.plan_draft import Role
from duban.domain.workdays import WorkCalendar


@dataclass(frozen=True)
class AssignmentPolicy:
    support_lead_workdays: int = 10
    # Used when a measure has no dated target and the plan names no horizon.
    default_horizon: date = date(2020, 12, 31)


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

    @property
    def key(self) -> tuple[int, str, str, date]:
        return (self.measure, self.department, self.role.value, self.deadline)


def deadlines_of(
    measure: MeasureToAssign, horizon: date | None, policy: AssignmentPolicy
) -> list[date]:
    """The measure's milestones: distinct target dates, else the horizon."""
    dates = sorted(set(measure.target_dates))
    return dates or [horizon or policy.default_horizon]


def plan_tasks(
    measure: MeasureToAssign,
    *,
    calendar: WorkCalendar,
    horizon: date | None,
    policy: AssignmentPolicy | None = None,
) -> list[TaskSpec]:
    """The tasks ``measure`` yields, sorted by deadline, role (lead first) and order.

    Raises CalendarError (from ``calendar``) when a due date falls in a year the
    calendar does not cover; DubanError when the measure has no lead.
    """
    policy = policy or AssignmentPolicy()
    if not any(r.role is Role.LEAD for r in measure.responsible):
        raise DubanError(f"措施{measure.number}没有牵头单位,无法交办")
    specs: list[TaskSpec] = []
    for deadline in deadlines_of(measure, horizon, policy):
        lead_due = calendar.workday_on_or_before(deadline)
        support_due = calendar.add_workdays(lead_due, -policy.support_lead_workdays)
        seen: dict[str, Role] = {}
        for role in (Role.LEAD, Role.SUPPORTING):
            for resp in measure.responsible:
                if resp.role is not role:
                    continue
                for department in resp.departments:
                    if department in seen:
                        continue  # a lead also listed as supporting (or via 各区) leads
                    seen[department] = role
                    specs.append(
                        TaskSpec(
                            measure=measure.number,
                            deadline=deadline,
                            role=role,
                            department=department,
                            named_as=resp.named_as,
                            due=lead_due if role is Role.LEAD else support_due,
                        )
                    )
    return specs
