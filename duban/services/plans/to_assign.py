"""What there is to assign (交办): the measures to run, the tasks a measure
yields under the assignment policy (with the escalation policy tasks get), the
ones whose deadline has passed or is close at assignment, and how many tasks
each measure has. Reads only; :mod:`duban.services.plans.assignment` writes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.domain.assignment import (
    AssignmentPolicy,
    LateTask,
    MeasureToAssign,
    Responsible,
    TaskSpec,
    late_at_assignment,
    plan_tasks,
)
from duban.domain.errors import NotFoundError
from duban.domain.escalation import Anchor
from duban.domain.plan_draft import Role
from duban.domain.workdays import WorkCalendar
from duban.services.ladder.core import policy_for
from duban.services.plans.catalog import find_plan
from duban.timeutil import DEFAULT_ZONE
from models import (
    Department,
    EscalationPolicyRow,
    Measure,
    Plan,
    Responsibility,
    Task,
)


@dataclass
class MeasureRef:
    """A measure to run a flow for: plan key, number and title."""

    plan: str
    number: int
    title: str
    assignable: bool
    measure_id: int | None = None


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
    zone: tzinfo = DEFAULT_ZONE,
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
        new, assigned_on=now.astimezone(zone).date(), calendar=calendar, policy=policy
    )


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
