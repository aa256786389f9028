"""Due dates that follow from the calendar, recomputed when it changes.

A task whose due date follows from the plan by rule (not moved by an approved
extension, a coordinator's 调整期限 or a grace period at assignment) gets the
date the rule gives with the calendar as it now reads: the lead's is the
deadline or the working day before it, a supporting unit's
``support_lead_workdays`` working days before the lead's. A date that moves is
recorded in the task's log with the rule that moved it, and one 期限调整通知
(step ``due_moved``) is queued per task. :func:`look_again` makes the next
round look at every open task again. Running either again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.assignment import AssignmentPolicy
from duban.domain.escalation import DUE_MOVED, StepKey
from duban.domain.lifecycle import OPEN_STATES, Action, ActorRole, ExtensionStatus, TaskState
from duban.domain.workdays import CalendarError, Unpublished, WorkCalendar
from duban.services.notices import queue_notice
from duban.services.task_events import system_event
from models import Department, ExtensionRequest, Task, TaskEvent

LIVE_STATES = [s.value for s in OPEN_STATES] + [TaskState.SUBMITTED.value]


@dataclass
class MovedDue:
    task_id: int
    department: str
    measure: int
    old: date
    new: date
    rule: str


def look_again(session_factory: sessionmaker[Session], *, now: datetime) -> int:
    """Make every open task due for the next round (its steps are re-dated with
    the calendar as it now reads); returns how many."""
    with session_factory.begin() as session:
        result = session.execute(
            update(Task)
            .where(
                Task.state.in_([s.value for s in OPEN_STATES]),
                or_(Task.next_action_at.is_(None), Task.next_action_at > now),
            )
            .values(next_action_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def recompute_due_dates(
    session_factory: sessionmaker[Session],
    *,
    calendar: WorkCalendar,
    now: datetime,
    policy: AssignmentPolicy | None = None,
    years: Sequence[int] = (),
) -> list[MovedDue]:
    """Move every rule-derived due date (see the module doc) that the calendar
    now places elsewhere; each task in its own transaction. ``years`` name
    the arrangements that changed (for the log). Returns what moved."""
    policy = policy or AssignmentPolicy()
    with session_factory() as session:
        candidates = list(
            session.scalars(
                select(Task.id)
                .where(Task.state.in_(LIVE_STATES))
                .order_by(Task.measure_id, Task.id)
            )
        )
    moved: list[MovedDue] = []
    for task_id in candidates:
        with session_factory.begin() as session:
            change = _move_one(session, task_id, calendar, policy, now=now, years=years)
        if change is not None:
            moved.append(change)
    return moved


def _due_by_rule(
    task: Task, calendar: WorkCalendar, policy: AssignmentPolicy
) -> tuple[date, str] | None:
    """The due date the plan's rule gives ``task`` with ``calendar``, and the rule
    in words; None while a year it needs is not known."""
    try:
        lead_due = calendar.workday_on_or_before(task.deadline)
    except CalendarError:
        return None  # the deadline's year is not known (any more): leave it
    if task.role == "lead":
        rule = (
            f"牵头单位期限为完成时限 {task.deadline.isoformat()} 当日,"
            "遇非工作日提前至前一工作日"
        )
        return lead_due, rule
    new = calendar.maybe_add_workdays(lead_due, -policy.support_lead_workdays)
    if isinstance(new, Unpublished):
        return None
    rule = (
        f"配合单位期限为牵头单位期限 {lead_due.isoformat()} 前"
        f"{policy.support_lead_workdays}个工作日"
    )
    return new, rule


def _move_one(
    session: Session,
    task_id: int,
    calendar: WorkCalendar,
    policy: AssignmentPolicy,
    *,
    now: datetime,
    years: Sequence[int],
) -> MovedDue | None:
    task = session.get(Task, task_id, with_for_update=True)
    if task is None or task.state not in LIVE_STATES or not _rule_derived(session, task):
        return None
    ruled = _due_by_rule(task, calendar, policy)
    if ruled is None or ruled[0] == task.due:
        return None
    new, rule = ruled
    arrangement = "、".join(f"{y}年" for y in years) + "节假日安排" if years else "节假日安排"
    note = (
        f"{arrangement}已更新:按“{rule}”,期限由 {task.due.isoformat()} "
        f"调整为 {new.isoformat()}"
    )
    old = task.due
    session.execute(
        update(Task)
        .where(Task.id == task.id, Task.version == task.version)
        .values(due=new, original_due=new, version=task.version + 1, next_action_at=now)
        .execution_options(synchronize_session=False)
    )
    session.add(
        system_event(
            task.id,
            Action.CHANGE_DUE,
            at=now,
            from_state=task.state,
            to_state=task.state,
            note=note,
            data={"from": old.isoformat(), "to": new.isoformat(), "rule": rule,
                  "calendar_years": list(years)},
        )
    )
    if task.state != TaskState.SUBMITTED.value:
        queue_notice(
            session,
            task.id,
            step=StepKey.on(DUE_MOVED.name, new).format(),
            level=DUE_MOVED.level,
            now=now,
            note=note,
        )
    department = session.get(Department, task.department_id)
    return MovedDue(
        task_id=task.id,
        department=department.name if department else "",
        measure=task.measure.number,
        old=old,
        new=new,
        rule=rule,
    )


def _rule_derived(session: Session, task: Task) -> bool:
    """Whether the task's due date is what the assignment rules give (so a new
    calendar may move it): never moved by an approved extension or by a
    coordinator, and not set from a grace period at assignment."""
    if session.scalar(
        select(ExtensionRequest.id)
        .where(
            ExtensionRequest.task_id == task.id,
            ExtensionRequest.status == ExtensionStatus.APPROVED,
        )
        .limit(1)
    ):
        return False
    events = session.execute(
        select(TaskEvent.action, TaskEvent.actor_role, TaskEvent.data).where(
            TaskEvent.task_id == task.id
        )
    ).all()
    for action, role, data in events:
        if action == Action.CHANGE_DUE.value and role != ActorRole.SYSTEM.value:
            return False
        if action == Action.ASSIGN.value and data and data.get("plan_due"):
            return False
    return True
