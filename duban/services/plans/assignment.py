"""Turn an imported measure into department tasks (交办), idempotently.

Each task is created in its own small transaction together with its 交办 event
and its 交办通知 notice, with ``INSERT … ON CONFLICT DO NOTHING`` on the task's
identity (measure, department, role, deadline). So a rerun — after success,
after a crash halfway, or concurrently on another worker — finds what exists
and adds only what is missing: never a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.db import insert_for
from duban.domain.assignment import (
    AssignmentPolicy,
    LateTask,
    MeasureToAssign,
    Responsible,
    TaskIdentity,
    TaskSpec,
    late_at_assignment,
    plan_tasks,
    with_grace,
)
from duban.domain.errors import NotFoundError
from duban.domain.escalation import Anchor, StepKey
from duban.domain.lifecycle import Action, TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.plan_draft import Role
from duban.domain.workdays import WorkCalendar
from duban.services.ladder.core import policy_for
from duban.services.plans.catalog import find_plan
from duban.services.plans.withdrawal import Cancelled, cancel_withdrawn
from duban.services.task_events import system_event
from models import (
    Department,
    EscalationPolicyRow,
    Measure,
    Notice,
    Plan,
    Responsibility,
    Task,
)

ASSIGN_STEP = "assigned"
ZONE = ZoneInfo("Asia/Shanghai")


def assign_step_key(assigned_at: datetime) -> str:
    """The 交办通知 notice's step key, as the escalation ladder names it."""
    return StepKey.on(ASSIGN_STEP, assigned_at.astimezone(ZONE).date()).format()


@dataclass
class MeasureRef:
    """A measure to run a flow for: plan key, number and title."""

    plan: str
    number: int
    title: str
    assignable: bool
    measure_id: int | None = None


@dataclass
class AssignResult:
    plan: str
    measure: int
    title: str
    created: list[int] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)
    obsolete: list[int] = field(default_factory=list)
    # Tasks the plan no longer yields, cancelled by this run (已撤销).
    cancelled: list[Cancelled] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.existing)

    def as_dict(self) -> dict[str, object]:
        return {
            "plan": self.plan,
            "measure": self.measure,
            "title": self.title,
            "created": len(self.created),
            "existing": len(self.existing),
            "obsolete": len(self.obsolete),
            "cancelled": [c.as_dict() for c in self.cancelled],
        }


def measures_to_run(
    session_factory: sessionmaker[Session], *, plan: str | None, measure: int | None
) -> list[MeasureRef]:
    """The measures ``duban assign`` runs flows for (all of a plan, or one)."""
    with session_factory() as session:
        plan_row = find_plan(plan, session=session)
        query = (
            select(Measure)
            .where(Measure.plan_id == plan_row.id)
            .options(selectinload(Measure.responsibilities))
            .order_by(Measure.number)
        )
        if measure is not None:
            query = query.where(Measure.number == measure)
        rows = list(session.scalars(query))
        if measure is not None and not rows:
            raise NotFoundError(f"方案“{plan_row.key}”中没有第{measure}项措施")
        return [
            MeasureRef(
                plan=plan_row.key,
                number=m.number,
                title=m.title,
                assignable=any(r.role == Role.LEAD.value for r in m.responsibilities),
            )
            for m in rows
        ]


def measure_id_of(session_factory: sessionmaker[Session], *, plan: str | None, measure: int) -> int:
    """The id of measure ``measure`` of ``plan``; NotFoundError if there is none."""
    with session_factory() as session:
        plan_row = find_plan(plan, session=session)
        found = session.scalar(
            select(Measure.id).where(Measure.plan_id == plan_row.id, Measure.number == measure)
        )
        if found is None:
            raise NotFoundError(f"方案“{plan_row.key}”中没有第{measure}项措施")
        return found


def measure_refs(session_factory: sessionmaker[Session], ids: list[int]) -> list[MeasureRef]:
    """Plan key, number and title of the measures with these ids, by plan and number."""
    with session_factory() as session:
        rows = session.execute(
            select(Plan.key, Measure.number, Measure.title, Measure.id)
            .join(Plan, Plan.id == Measure.plan_id)
            .where(Measure.id.in_(ids))
            .order_by(Plan.key, Measure.number)
        ).all()
        return [
            MeasureRef(plan=k, number=n, title=t, assignable=True, measure_id=i)
            for k, n, t, i in rows
        ]


def _measure_input(session: Session, measure: Measure) -> MeasureToAssign:
    districts = tuple(
        session.scalars(
            select(Department.name).where(Department.kind == "district").order_by(Department.id)
        )
    )
    responsible: list[Responsibility] = sorted(
        measure.responsibilities, key=lambda r: (r.role != Role.LEAD.value, r.position)
    )
    return MeasureToAssign(
        number=measure.number,
        title=measure.title,
        responsible=tuple(
            Responsible(
                named_as=r.named_as,
                role=Role(r.role),
                departments=districts if r.collective else (r.department.name,),  # type: ignore[union-attr]
            )
            for r in responsible
        ),
        target_dates=tuple(t.due for t in measure.targets if t.due is not None),
    )


def planned_tasks(
    session_factory: sessionmaker[Session],
    *,
    plan: str | None,
    measure: int,
    calendar: WorkCalendar,
    policy: AssignmentPolicy | None = None,
) -> tuple[int, str, str, list[TaskSpec], dict[str, int]]:
    """What assigning ``measure`` would create: (measure id, plan key, title,
    task specs, department ids by name). Writes nothing; raises NotFoundError,
    DubanError (no lead) or CalendarError (a year the calendar does not know)."""
    with session_factory() as session:
        plan_row = find_plan(plan, session=session)
        measure_row = session.scalar(
            select(Measure)
            .where(Measure.plan_id == plan_row.id, Measure.number == measure)
            .options(
                selectinload(Measure.responsibilities).selectinload(Responsibility.department),
                selectinload(Measure.targets),
            )
        )
        if measure_row is None:
            raise NotFoundError(f"方案“{plan_row.key}”中没有第{measure}项措施")
        specs = plan_tasks(
            _measure_input(session, measure_row),
            calendar=calendar,
            horizon=plan_row.horizon,
            policy=policy,
        )
        department_ids = dict(
            session.execute(
                select(Department.name, Department.id).where(
                    Department.name.in_({s.department for s in specs})
                )
            ).all()
        )
        return measure_row.id, plan_row.key, measure_row.title, specs, department_ids


def effective_policy(
    session_factory: sessionmaker[Session], policy: AssignmentPolicy | None
) -> AssignmentPolicy:
    """``policy`` with the first reminder's lead taken from the escalation policy
    in force (its earliest 到期提醒), which new tasks will follow."""
    policy = policy or AssignmentPolicy()
    with session_factory() as session:
        current = session.scalar(
            select(EscalationPolicyRow.id).where(EscalationPolicyRow.current.is_(True)).limit(1)
        )
        ladder = policy_for(session, current)
    leads = [s.workdays for s in ladder.steps if s.anchor is Anchor.BEFORE_DUE]
    return replace(policy, reminder_lead_workdays=max(leads, default=0))


def late_tasks(
    session_factory: sessionmaker[Session],
    *,
    plan: str | None,
    measure: int,
    now: datetime,
    calendar: WorkCalendar,
    policy: AssignmentPolicy | None = None,
) -> list[LateTask]:
    """The tasks assigning ``measure`` at ``now`` would create late (due date
    passed, or within the first reminder's lead; see duban.domain.assignment),
    for the coordinator to confirm first. Tasks that exist already are not
    listed (they are not created again). Writes nothing."""
    policy = effective_policy(session_factory, policy)
    measure_id, _key, _title, specs, department_ids = planned_tasks(
        session_factory, plan=plan, measure=measure, calendar=calendar, policy=policy
    )
    with session_factory() as session:
        existing = {
            (department_id, role, deadline)
            for department_id, role, deadline in session.execute(
                select(Task.department_id, Task.role, Task.deadline).where(
                    Task.measure_id == measure_id
                )
            )
        }
    new = [
        s for s in specs
        if (department_ids[s.department], s.role.value, s.deadline) not in existing
    ]
    return late_at_assignment(
        new, assigned_on=now.astimezone(ZONE).date(), calendar=calendar, policy=policy
    )


def assign_measure(
    session_factory: sessionmaker[Session],
    *,
    plan: str | None,
    measure: int,
    now: datetime,
    calendar: WorkCalendar,
    policy: AssignmentPolicy | None = None,
    on_task_created: Callable[[int], None] | None = None,
) -> AssignResult:
    """Create the measure's missing tasks, then cancel those the plan no longer
    yields (see :mod:`duban.services.plans.withdrawal`); return what was created,
    found and cancelled.

    A task late at assignment (its due date passed, or within the first
    reminder's lead) is created due ``policy.grace_workdays`` working days
    after ``now`` (its deadline stays the plan's date); callers that face a
    coordinator ask first (:func:`late_tasks`).

    ``on_task_created(n)`` is called after the n-th new task is committed (a
    seam for progress and for fault-injection tests). Raises NotFoundError for
    an unknown plan or measure, DubanError for a measure without a lead, and
    CalendarError when a due date lies outside the calendar's years — before
    anything is written.
    """
    policy = effective_policy(session_factory, policy)
    measure_id, plan_key, title, specs, department_ids = planned_tasks(
        session_factory, plan=plan, measure=measure, calendar=calendar, policy=policy
    )
    specs = with_grace(
        specs,
        late_at_assignment(
            specs, assigned_on=now.astimezone(ZONE).date(), calendar=calendar, policy=policy
        ),
    )
    result = AssignResult(plan=plan_key, measure=measure, title=title)
    ids: dict[tuple[str, str, date], int] = {}
    for spec in specs:
        task_id, created = _create_task(
            session_factory, measure_id, department_ids[spec.department], spec, now
        )
        ids[(spec.department, spec.role.value, spec.deadline)] = task_id
        (result.created if created else result.existing).append(task_id)
        if created and on_task_created is not None:
            on_task_created(len(result.created))
    result.obsolete = _obsolete(session_factory, measure_id, set(result.created + result.existing))
    if result.obsolete:
        result.cancelled = cancel_withdrawn(
            session_factory,
            measure_id=measure_id,
            measure_number=measure,
            yielded=[TaskIdentity(s.deadline, s.role, s.department, s.named_as) for s in specs],
            task_ids=ids,
            now=now,
        )
    return result


def _create_task(
    session_factory: sessionmaker[Session],
    measure_id: int,
    department_id: int,
    spec: TaskSpec,
    now: datetime,
) -> tuple[int, bool]:
    """Insert one task with its event and notice in one transaction.

    Returns ``(task id, created)``; an existing task is left untouched.
    """
    with session_factory.begin() as session:
        inserted = session.execute(
            insert_for(session, Task)
            .values(
                measure_id=measure_id,
                department_id=department_id,
                named_as=spec.named_as,
                role=spec.role.value,
                deadline=spec.deadline,
                due=spec.due,
                original_due=spec.due,
                state=TaskState.ASSIGNED.value,
                assigned_at=now,
                version=1,
                # The policy in force now stays with the task; the sweep looks at it at once.
                policy_id=select(EscalationPolicyRow.id)
                .where(EscalationPolicyRow.current.is_(True))
                .limit(1)
                .scalar_subquery(),
                next_action_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=["measure_id", "department_id", "role", "deadline"]
            )
            .returning(Task.id)
        ).scalar_one_or_none()
        if inserted is None:
            existing = session.scalar(
                select(Task.id).where(
                    Task.measure_id == measure_id,
                    Task.department_id == department_id,
                    Task.role == spec.role.value,
                    Task.deadline == spec.deadline,
                )
            )
            assert existing is not None
            return existing, False
        session.add(
            system_event(
                inserted,
                Action.ASSIGN,
                at=now,
                from_state=None,
                to_state=TaskState.ASSIGNED.value,
                note=_late_note(spec),
                data={
                    "due": spec.due.isoformat(),
                    "deadline": spec.deadline.isoformat(),
                    **({"plan_due": spec.plan_due.isoformat()} if spec.plan_due else {}),
                },
            )
        )
        session.add(
            Notice(
                task_id=inserted,
                step=assign_step_key(now),
                due_at=now,
                status=NoticeStatus.PENDING,
                created_at=now,
                level=0,
            )
        )
        return inserted, True


def _late_note(spec: TaskSpec) -> str | None:
    if spec.plan_due is None:
        return None
    return (
        f"方案时限 {spec.plan_due.isoformat()} 在交办时已过或临近,经督办科确认交办,"
        f"办理期限自交办日起计算,定为 {spec.due.isoformat()}"
    )


def _obsolete(
    session_factory: sessionmaker[Session], measure_id: int, current: set[int]
) -> list[int]:
    """Tasks of the measure that the current plan no longer yields (kept, reported)."""
    with session_factory() as session:
        ids = session.scalars(select(Task.id).where(Task.measure_id == measure_id))
        return sorted(set(ids) - current)


def tasks_per_measure(
    session_factory: sessionmaker[Session], numbers: list[int], *, plan: str | None
) -> dict[int, int]:
    """How many tasks each of the measures ``numbers`` of ``plan`` has."""
    if not numbers:
        return {}
    with session_factory() as session:
        plan_row = find_plan(plan, session=session)
        rows = session.execute(
            select(Measure.number, func.count(Task.id))
            .join(Task, Task.measure_id == Measure.id)
            .where(Measure.plan_id == plan_row.id, Measure.number.in_(numbers))
            .group_by(Measure.number)
        ).all()
        return {int(number): int(count) for number, count in rows}
