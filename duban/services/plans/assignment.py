"""Turn an imported measure into department tasks (交办), idempotently.

Each task is created in its own small transaction together with its 交办 event
and its 交办通知 notice, with ``INSERT … ON CONFLICT DO NOTHING`` on the task's
identity (measure, department, role, deadline). So a rerun — after success,
after a crash halfway, or concurrently on another worker — finds what exists
and adds only what is missing: never a duplicate. What a measure yields is
read by :mod:`duban.services.plans.to_assign`; tasks a changed plan no longer
yields are cancelled by :mod:`duban.services.plans.withdrawal`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.db import insert_for
from duban.domain.assignment import (
    CANCELLING_FATES,
    AssignmentPolicy,
    TaskIdentity,
    TaskSpec,
    late_at_assignment,
    with_grace,
)
from duban.domain.escalation import StepKey
from duban.domain.lifecycle import Action, TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.workdays import WorkCalendar
from duban.services.plans.fates import task_fates
from duban.services.plans.to_assign import (
    effective_policy,
    planned_tasks,
)
from duban.services.plans.withdrawal import Cancelled, cancel_withdrawn
from duban.services.task_events import system_event
from duban.timeutil import DEFAULT_ZONE
from models import (
    EscalationPolicyRow,
    Notice,
    Task,
)

ASSIGN_STEP = "assigned"


def assign_step_key(assigned_at: datetime, zone: tzinfo = DEFAULT_ZONE) -> str:
    """The 交办通知 notice's step key, as the escalation ladder names it (the
    day of ``assigned_at`` in the organisation's ``zone``)."""
    return StepKey.on(ASSIGN_STEP, assigned_at.astimezone(zone).date()).format()


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


def assign_measure(
    session_factory: sessionmaker[Session],
    *,
    plan: str | None,
    measure: int,
    now: datetime,
    calendar: WorkCalendar,
    policy: AssignmentPolicy | None = None,
    on_task_created: Callable[[int], None] | None = None,
    zone: tzinfo = DEFAULT_ZONE,
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
            specs, assigned_on=now.astimezone(zone).date(), calendar=calendar, policy=policy
        ),
    )
    result = AssignResult(plan=plan_key, measure=measure, title=title)
    ids: dict[tuple[str, str, date], int] = {}
    for spec in specs:
        task_id, created = _create_task(
            session_factory, measure_id, department_ids[spec.department], spec, now, zone
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
            yielded=_yielded(specs),
            task_ids=ids,
            now=now,
        )
    return result


def assignment_would_change(
    session_factory: sessionmaker[Session],
    *,
    plan: str | None,
    measure: int,
    calendar: WorkCalendar,
    policy: AssignmentPolicy | None = None,
) -> bool:
    """Whether :func:`assign_measure` would change anything now: a task the
    plan yields that does not exist yet (by the identity its insert conflicts
    on), or an open task the plan no longer yields (which it would cancel).
    Reads the plan and the fates as :func:`assign_measure` does; writes
    nothing. Raises as :func:`assign_measure` does before writing."""
    policy = effective_policy(session_factory, policy)
    measure_id, _key, _title, specs, department_ids = planned_tasks(
        session_factory, plan=plan, measure=measure, calendar=calendar, policy=policy
    )
    with session_factory() as session:
        existing = set(
            session.execute(
                select(Task.department_id, Task.role, Task.deadline).where(
                    Task.measure_id == measure_id
                )
            ).all()
        )
        if any(
            (department_ids[s.department], s.role.value, s.deadline) not in existing
            for s in specs
        ):
            return True
        fates = task_fates(session, measure_id, measure, _yielded(specs))
    return any(f.fate in CANCELLING_FATES for f in fates.fates)


def _yielded(specs: list[TaskSpec]) -> list[TaskIdentity]:
    return [TaskIdentity(s.deadline, s.role, s.department, s.named_as) for s in specs]


def _create_task(
    session_factory: sessionmaker[Session],
    measure_id: int,
    department_id: int,
    spec: TaskSpec,
    now: datetime,
    zone: tzinfo,
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
        _record_assignment(session, inserted, spec, now=now, zone=zone)
        return inserted, True


def _record_assignment(
    session: Session, task_id: int, spec: TaskSpec, *, now: datetime, zone: tzinfo
) -> None:
    """The new task's 交办 event and its 交办通知 notice (due now)."""
    session.add(
        system_event(
            task_id,
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
            task_id=task_id,
            step=assign_step_key(now, zone),
            due_at=now,
            status=NoticeStatus.PENDING,
            created_at=now,
            level=0,
        )
    )


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


