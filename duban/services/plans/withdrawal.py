"""Tasks a changed plan no longer yields: cancelling them.

What will happen to each task is decided before anything is written
(:func:`duban.services.plans.fates.task_fates`, shown by the import report);
:func:`cancel_withdrawn` does it when the measure is assigned again.

Cancelling a task, in one transaction of its own: the state becomes
``cancelled`` (已撤销) with an event naming the reason and the successor;
its next action and any calendar wait are cleared, so the sweep never looks
at it again; its pending notices are superseded and taken out of every
delivery not yet being sent (a digest waiting for the next office morning, a
retry; one left empty is superseded), so nothing about the task goes out
after its cancellation notice;
and one 任务撤销通知 is queued for its department (step ``task_cancelled``,
unique per task, so a rerun never sends a second). When the successor belongs
to the same department, its 签收 and the progress already reported (events
and indicator values) are carried over to it. A task already 已办结 stays as
it is: it is history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.assignment import (
    CANCELLING_FATES,
    TaskIdentity,
)
from duban.domain.escalation import TASK_CANCELLED, StepKey
from duban.domain.labels import TASK_ROLE_LABELS
from duban.domain.lifecycle import Action, ActorRole, TaskState, next_state
from duban.domain.outbox import DELIVERY_WAITING, DeliveryStatus, NoticeStatus
from duban.services.notices import queue_notice
from duban.services.plans.fates import CANCELLABLE, TaskFate, task_fates
from duban.services.task_events import system_event
from models import (
    Delivery,
    DeliveryItem,
    Department,
    IndicatorReading,
    Notice,
    Task,
    TaskEvent,
)


@dataclass
class Cancelled:
    """A task :func:`cancel_withdrawn` cancelled (JSON-able via ``as_dict``)."""

    task_id: int
    department: str
    role: str
    deadline: date
    reason: str
    successor_id: int | None = None
    successor: str = ""
    carried_reports: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "task": self.task_id,
            "department": self.department,
            "role": self.role,
            "deadline": self.deadline.isoformat(),
            "reason": self.reason,
            "successor": self.successor_id,
            "successor_text": self.successor,
            "carried_reports": self.carried_reports,
        }


def cancel_withdrawn(
    session_factory: sessionmaker[Session],
    *,
    measure_id: int,
    measure_number: int,
    yielded: Sequence[TaskIdentity],
    task_ids: dict[tuple[str, str, date], int],
    now: datetime,
) -> list[Cancelled]:
    """Cancel the measure's tasks that ``yielded`` (the plan as it now reads)
    no longer contains; ``task_ids`` maps (department, role, deadline) of the
    yielded tasks to their ids. Each task in its own transaction; a task
    changed meanwhile into a state that cannot be cancelled is skipped.
    Returns what was cancelled."""
    with session_factory() as session:
        fates = task_fates(session, measure_id, measure_number, yielded)
    done: list[Cancelled] = []
    for fate in fates.fates:
        if fate.fate not in CANCELLING_FATES:
            continue
        successor_id = None
        if fate.successor_department is not None:
            assert fate.successor_role is not None and fate.successor_deadline is not None
            successor_id = task_ids.get(
                (fate.successor_department, fate.successor_role, fate.successor_deadline)
            )
            fate.successor_id = successor_id
        cancelled = _cancel_one(session_factory, fate, successor_id, now=now)
        if cancelled is not None:
            done.append(cancelled)
    return done


def _reason(fate: TaskFate) -> str:
    if fate.successor_id is None:
        return f"工作方案修订后,措施{fate.measure}不再包含本单位此项任务"
    if fate.successor_department == fate.department:
        if fate.successor_role != fate.role:
            role = TASK_ROLE_LABELS.get(fate.successor_role or "", "")
            return f"工作方案修订后,本单位在措施{fate.measure}中的职责改为“{role}”"
        return f"工作方案修订后,措施{fate.measure}的完成时限改为 {fate.successor_deadline}"
    return f"工作方案修订后,措施{fate.measure}改由{fate.successor_department}承担"


def _cancel_one(
    session_factory: sessionmaker[Session],
    fate: TaskFate,
    successor_id: int | None,
    *,
    now: datetime,
) -> Cancelled | None:
    reason = _reason(fate)
    message = reason + (f";由{fate.successor_text()}接替" if successor_id else "")
    with session_factory.begin() as session:
        task = session.get(Task, fate.task_id, with_for_update=True)
        if task is None or TaskState(task.state) not in CANCELLABLE:
            return None
        from_state = TaskState(task.state)
        to = next_state(from_state, Action.CANCEL, ActorRole.SYSTEM, note=reason)
        session.execute(
            update(Task)
            .where(Task.id == task.id, Task.version == task.version)
            .values(
                state=to.value,
                version=task.version + 1,
                next_action_at=None,
                calendar_wait_year=None,
                replaced_by_id=successor_id,
            )
            .execution_options(synchronize_session=False)
        )
        session.add(
            system_event(
                task.id,
                Action.CANCEL,
                at=now,
                from_state=from_state.value,
                to_state=to.value,
                note=message,
                data={"reason": reason, "successor": successor_id},
            )
        )
        _withdraw_unsent(session, task.id)
        queue_notice(
            session,
            task.id,
            step=StepKey(TASK_CANCELLED.name).format(),
            level=TASK_CANCELLED.level,
            now=now,
            note=message,
        )
        carried = 0
        if successor_id is not None and fate.successor_department == fate.department:
            carried = _carry_over(session, task, successor_id, now=now)
        session.flush()
    return Cancelled(
        task_id=fate.task_id,
        department=fate.department,
        role=fate.role,
        deadline=fate.deadline,
        reason=reason,
        successor_id=successor_id,
        successor=fate.successor_text(),
        carried_reports=carried,
    )


WITHDRAWN = "任务已撤销"


def _withdraw_unsent(session: Session, task_id: int) -> None:
    """Supersede the task's pending notices, taking them out of deliveries not
    yet being sent. A delivery left empty is closed as superseded, with the
    reason. A delivery being sent right now keeps
    its items: its outcome then marks them (at worst one message already on
    its way still arrives)."""
    pending = list(
        session.scalars(
            select(Notice)
            .where(Notice.task_id == task_id, Notice.status == NoticeStatus.PENDING)
            .with_for_update()
        )
    )
    for notice in pending:
        items = list(
            session.scalars(select(DeliveryItem).where(DeliveryItem.notice_id == notice.id))
        )
        kept = 0
        for item in items:
            status = session.scalar(select(Delivery.status).where(Delivery.id == item.delivery_id))
            if status == DeliveryStatus.SENDING:
                # Its sender may be recording the outcome, holding the delivery
                # and waiting for this notice: never wait for it in turn.
                kept += 1
                continue
            # The lock routing and claiming take (see outbox._open_delivery).
            delivery = session.get(Delivery, item.delivery_id, with_for_update={"key_share": True})
            if delivery is None or delivery.status not in DELIVERY_WAITING:
                kept += 1
                continue
            session.delete(item)
            session.flush()
            left = session.scalar(
                select(DeliveryItem.id).where(DeliveryItem.delivery_id == delivery.id).limit(1)
            )
            if left is not None:
                continue
            delivery.status = DeliveryStatus.SUPERSEDED
            delivery.last_error = f"所载通知均因{WITHDRAWN}不再发送"
            session.flush()
        if not kept:
            notice.status, notice.reason = NoticeStatus.SUPERSEDED, WITHDRAWN


def _copy_report(session: Session, event: TaskEvent, task_id: int, *, carried_from: int) -> None:
    """A copy of the progress report ``event`` and its indicator values on ``task_id``."""
    copy = TaskEvent(
        task_id=task_id,
        at=event.at,
        action=event.action,
        actor_role=event.actor_role,
        actor=event.actor,
        from_state=event.from_state,
        to_state=event.to_state,
        note=event.note,
        data={**(event.data or {}), "carried_from": carried_from},
    )
    session.add(copy)
    session.flush()
    for reading in session.scalars(
        select(IndicatorReading).where(IndicatorReading.event_id == event.id)
    ):
        session.add(
            IndicatorReading(
                task_id=task_id,
                target_id=reading.target_id,
                event_id=copy.id,
                value=reading.value,
                reported_on=reading.reported_on,
            )
        )


def _carry_over(session: Session, old: Task, successor_id: int, *, now: datetime) -> int:
    """Give the successor (same department and measure) the old task's 签收 and
    progress reports with their indicator values, once: only while the
    successor is untouched (still 已交办, no report of its own). Returns the
    number of reports carried."""
    successor = session.get(Task, successor_id, with_for_update=True)
    if successor is None or TaskState(successor.state) is not TaskState.ASSIGNED:
        return 0
    if old.acknowledged_at is None:
        return 0
    reports = list(
        session.scalars(
            select(TaskEvent)
            .where(TaskEvent.task_id == old.id, TaskEvent.action == Action.REPORT.value)
            .order_by(TaskEvent.id)
        )
    )
    state = TaskState.IN_PROGRESS if reports else TaskState.ACKNOWLEDGED
    carried_note = f"承接自已撤销的任务#{old.id}"
    session.add(
        system_event(
            successor.id,
            Action.ACKNOWLEDGE,
            at=now,
            from_state=TaskState.ASSIGNED.value,
            to_state=TaskState.ACKNOWLEDGED.value,
            note=f"{carried_note}(原签收时间 {old.acknowledged_at.isoformat()})",
            data={"carried_from": old.id},
        )
    )
    for event in reports:
        _copy_report(session, event, successor.id, carried_from=old.id)
    session.execute(
        update(Task)
        .where(Task.id == successor.id, Task.version == successor.version)
        .values(
            state=state.value,
            acknowledged_at=old.acknowledged_at,
            version=successor.version + 1,
            # The ladder looks again: no 签收提醒 for a task already taken up.
            next_action_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return len(reports)


def cancelled_since(
    session_factory: sessionmaker[Session], *, plan: str, numbers: Sequence[int], since: datetime
) -> list[Cancelled]:
    """The tasks of measures ``numbers`` of ``plan`` cancelled at or after
    ``since`` (what measure flows run elsewhere did), by task id."""
    from models import Measure, Plan

    found: list[Cancelled] = []
    with session_factory() as session:
        rows = session.execute(
            select(TaskEvent, Task, Department.name)
            .join(Task, Task.id == TaskEvent.task_id)
            .join(Department, Department.id == Task.department_id)
            .join(Measure, Measure.id == Task.measure_id)
            .join(Plan, Plan.id == Measure.plan_id)
            .where(
                TaskEvent.action == Action.CANCEL.value,
                TaskEvent.at >= since,
                Plan.key == plan,
                Measure.number.in_(list(numbers)),
            )
            .order_by(Task.id)
        ).all()
        for event, task, name in rows:
            data = event.data or {}
            successor = session.get(Task, task.replaced_by_id) if task.replaced_by_id else None
            text = ""
            if successor is not None:
                other = session.get(Department, successor.department_id)
                role = TASK_ROLE_LABELS.get(successor.role, successor.role)
                text = (
                    f"任务#{successor.id} {other.name if other else ''}"
                    f"({role},期限 {successor.deadline.isoformat()})"
                )
            found.append(
                Cancelled(
                    task_id=task.id,
                    department=name,
                    role=task.role,
                    deadline=task.deadline,
                    reason=str(data.get("reason") or event.note or ""),
                    successor_id=task.replaced_by_id,
                    successor=text,
                )
            )
    return found
