"""The one write path every task action takes (see :mod:`duban.services.tasks.lifecycle`).

Load the task (never before it was assigned), check the action with the
domain's rules for the actor, compare-and-set the task on ``version`` (and
set ``next_action_at`` so the sweep re-evaluates it), append the
:class:`~models.TaskEvent`. A refusal is a :class:`TransitionError` naming
the task; a lost race a :class:`ConcurrentChangeError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.lifecycle import (
    Action,
    ActorRole,
    TaskState,
    TransitionError,
    next_state,
)
from duban.domain.workdays import CalendarError, WorkCalendar
from duban.services.tasks.queries import (
    LOCAL_ZONE,
    find_department,
)
from models import Task, TaskEvent


class ConcurrentChangeError(DubanError):
    """The task changed between reading and writing it; nothing was written."""


@dataclass(frozen=True)
class ActionResult:
    """What an action did: the event it appended and the task afterwards.

    ``extension_id`` is set by :func:`request_extension` and the extension
    decisions; ``values`` holds the indicator values a report stored, by
    indicator name.
    """

    task_id: int
    action: Action
    event_id: int
    from_state: TaskState
    to_state: TaskState
    due: date
    version: int
    extension_id: int | None = None
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Actor:
    role: ActorRole
    name: str
    department: str | None = None


def task_where(task_id: int) -> str:
    return f"任务 #{task_id}"


def check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware datetime")


def load_task(session: Session, task_id: int, now: datetime) -> Task:
    """The task; NotFoundError if there is none, TransitionError when ``now``
    is before it was assigned (no one acts on a task before it exists)."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError(f"找不到任务 #{task_id}(可用 duban tasks 查看任务列表)")
    if now < task.assigned_at:
        raise TransitionError(
            f"办理时间 {local_time(now)} 早于任务交办时间 {local_time(task.assigned_at)},不能办理",
            where=task_where(task.id),
        )
    return task


def check_covered(calendar: WorkCalendar, day: date, task_id: int) -> None:
    """The new date must be one the calendar can count working days to. The
    refusal names the year, not where its data would go: a department reads it."""
    try:
        calendar.is_workday(day)
    except CalendarError as err:
        if err.year is None:
            raise
        raise TransitionError(
            f"新期限 {day.isoformat()} 无法受理:工作日历尚无{err.year}年的节假日安排",
            where=task_where(task_id),
        ) from None


def local_time(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


def department_actor(session: Session, task: Task, department: str, person: str | None) -> Actor:
    """The acting department, which must be the task's."""
    acting = find_department(department, session=session)
    if acting.id != task.department_id:
        raise TransitionError(f"{acting.name}无权办理{task.department.name}的任务 #{task.id}")
    person = (person or "").strip()
    name = f"{acting.name}({person})" if person else acting.name
    return Actor(ActorRole.DEPARTMENT, name, department=acting.name)


def coordinator(actor: str, task_id: int) -> Actor:
    name = (actor or "").strip()
    if not name:
        raise TransitionError("须填写经办人", where=task_where(task_id))
    return Actor(ActorRole.COORDINATOR, name)


def next_state_of(task: Task, action: Action, who: Actor, *, note: str | None = None) -> TaskState:
    try:
        return next_state(TaskState(task.state), action, who.role, note=note)
    except TransitionError as err:
        raise TransitionError(err.message, where=task_where(task.id)) from None


def require_text(text: str | None, task_id: int, message: str) -> None:
    if not (text and text.strip()):
        raise TransitionError(message, where=task_where(task_id))


def record(
    session: Session,
    task: Task,
    action: Action,
    who: Actor,
    to: TaskState,
    *,
    now: datetime,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """Compare-and-set the task, then append the event."""
    version = compare_and_set(session, task, to, changes, expected_version, now=now)
    event_id = append_event(session, task, action, who, to, now=now, note=note, data=data)
    return ActionResult(
        task_id=task.id,
        action=action,
        event_id=event_id,
        from_state=TaskState(task.state),
        to_state=to,
        due=(changes or {}).get("due", task.due),
        version=version,
    )


def compare_and_set(
    session: Session,
    task: Task,
    to: TaskState,
    changes: Mapping[str, Any] | None,
    expected_version: int | None,
    *,
    now: datetime,
) -> int:
    """Set state, ``changes`` and version + 1 where the version is still the one
    read (or ``expected_version``); returns the new version. Every change also
    sets ``next_action_at = now``, so the next sweep re-evaluates the ladder."""
    version = task.version if expected_version is None else expected_version
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Task)
            .where(Task.id == task.id, Task.version == version)
            .values(state=to.value, version=version + 1, next_action_at=now, **(changes or {}))
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise ConcurrentChangeError(
            "任务已被他人修改(版本不符),本次操作未生效,请刷新后重试", where=task_where(task.id)
        )
    return version + 1


def append_event(
    session: Session,
    task: Task,
    action: Action,
    who: Actor,
    to: TaskState,
    *,
    now: datetime,
    note: str | None,
    data: dict[str, Any] | None,
) -> int:
    if who.department is not None:
        data = {"department": who.department, **(data or {})}
    event = TaskEvent(
        task_id=task.id,
        at=now,
        action=action.value,
        actor_role=who.role.value,
        actor=who.name,
        from_state=task.state,
        to_state=to.value,
        note=note.strip() if note and note.strip() else None,
        data=data,
    )
    session.add(event)
    session.flush()
    return event.id
