"""延期: a department asks for a later due date; a coordinator approves (the
task's due date moves) or refuses. Each step is a task action like the others
(:mod:`duban.services.tasks.transitions`): one transaction, a compare-and-set
on the task, one event; the request itself is an :class:`~models.ExtensionRequest`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import NotFoundError
from duban.domain.labels import EXTENSION_STATUS_LABELS
from duban.domain.lifecycle import (
    Action,
    ExtensionStatus,
    TaskState,
    TransitionError,
    check_extension_request,
)
from duban.domain.workdays import WorkCalendar
from duban.services.tasks.facts import LOCAL_ZONE, local_date
from duban.services.tasks.transitions import (
    ActionResult,
    append_event,
    check_covered,
    check_now,
    compare_and_set,
    coordinator,
    department_actor,
    load_task,
    next_state_of,
    record,
    task_where,
)
from models import ExtensionRequest, Task


def request_extension(
    task_id: int,
    *,
    department: str,
    new_due: date,
    reason: str,
    now: datetime,
    calendar: WorkCalendar,
    session_factory: sessionmaker[Session],
    actor: str | None = None,
    expected_version: int | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> ActionResult:
    """延期申请: ask to move the due date to ``new_due``, giving a reason.

    Allowed on an open task, on or before its current due date (the local day
    of ``now``), for a later date, with no other request pending. Creates a
    pending ExtensionRequest (its id is ``extension_id``); the due date does
    not move until a coordinator approves. Raises TransitionError naming the
    year when ``new_due`` lies in a year the calendar does not cover; see
    :func:`acknowledge` for the rest.
    """
    check_now(now)
    with session_factory.begin() as session:
        task = load_task(session, task_id, now)
        who = department_actor(session, task, department, actor)
        to = next_state_of(task, Action.REQUEST_EXTENSION, who, note=reason)
        _check_request(session, task, new_due, calendar=calendar, as_of=local_date(now, zone))
        version = compare_and_set(session, task, to, None, expected_version, now=now)
        extension = ExtensionRequest(
            task_id=task.id,
            requested_at=now,
            requested_by=who.name,
            reason=reason.strip(),
            current_due=task.due,
            new_due=new_due,
            status=ExtensionStatus.PENDING,
        )
        session.add(extension)
        session.flush()
        data = {
            "extension_id": extension.id,
            "current_due": task.due.isoformat(),
            "new_due": new_due.isoformat(),
        }
        event_id = append_event(
            session, task, Action.REQUEST_EXTENSION, who, to, now=now, note=reason, data=data
        )
        return ActionResult(
            task_id=task.id,
            action=Action.REQUEST_EXTENSION,
            event_id=event_id,
            from_state=TaskState(task.state),
            to_state=to,
            due=task.due,
            version=version,
            extension_id=extension.id,
        )


def approve_extension(
    extension_id: int,
    *,
    actor: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    note: str | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """同意延期: approve a pending extension request; the task's ``due`` moves
    to the requested date (``original_due`` never moves).

    Raises NotFoundError (no such request), TransitionError (already decided,
    task no longer open, or the requested date is not later than the task's
    due date now), ConcurrentChangeError.
    """
    return _decide_extension(
        extension_id,
        approved=True,
        actor=actor,
        now=now,
        note=note,
        session_factory=session_factory,
        expected_version=expected_version,
    )


def refuse_extension(
    extension_id: int,
    *,
    actor: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    note: str | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """不同意延期: refuse a pending extension request; the due date stays.
    Refusals as :func:`approve_extension`."""
    return _decide_extension(
        extension_id,
        approved=False,
        actor=actor,
        now=now,
        note=note,
        session_factory=session_factory,
        expected_version=expected_version,
    )


def _decide_extension(
    extension_id: int,
    *,
    approved: bool,
    actor: str,
    now: datetime,
    note: str | None,
    session_factory: sessionmaker[Session],
    expected_version: int | None,
) -> ActionResult:
    check_now(now)
    action = Action.APPROVE_EXTENSION if approved else Action.REFUSE_EXTENSION
    with session_factory.begin() as session:
        extension = session.get(ExtensionRequest, extension_id)
        if extension is None:
            raise NotFoundError(f"找不到延期申请 #{extension_id}")
        task = load_task(session, extension.task_id, now)
        where = f"延期申请 #{extension.id}(任务 #{task.id})"
        if extension.status != ExtensionStatus.PENDING:
            label = EXTENSION_STATUS_LABELS.get(extension.status, extension.status)
            raise TransitionError(f"该申请已审批({label}),不能再次审批", where=where)
        who = coordinator(actor, task.id)
        to = next_state_of(task, action, who)
        changes: dict[str, Any] = {}
        data: dict[str, Any] = {"extension_id": extension.id}
        if approved:
            if extension.new_due <= task.due:
                raise TransitionError(
                    f"申请的新期限 {extension.new_due.isoformat()} "
                    f"不晚于任务当前期限 {task.due.isoformat()},无需延期",
                    where=where,
                )
            changes["due"] = extension.new_due
            data |= {"from_due": task.due.isoformat(), "to_due": extension.new_due.isoformat()}
        result = record(
            session,
            task,
            action,
            who,
            to,
            now=now,
            note=note,
            data=data,
            changes=changes,
            expected_version=expected_version,
        )
        extension.status = ExtensionStatus.APPROVED if approved else ExtensionStatus.REFUSED
        extension.decided_at = now
        extension.decided_by = who.name
        extension.decision_note = note.strip() if note and note.strip() else None
        session.flush()
        return replace(result, extension_id=extension.id)


def _check_request(
    session: Session, task: Task, new_due: date, *, calendar: WorkCalendar, as_of: date
) -> None:
    """Refuse (TransitionError naming the task) a request the domain's rules do
    not allow on ``as_of``, one beside a pending request, or a ``new_due`` the
    calendar cannot count to."""
    pending = bool(
        session.scalar(
            select(
                exists().where(
                    ExtensionRequest.task_id == task.id,
                    ExtensionRequest.status == ExtensionStatus.PENDING,
                )
            )
        )
    )
    try:
        check_extension_request(as_of=as_of, due=task.due, new_due=new_due, pending=pending)
    except TransitionError as err:
        raise TransitionError(err.message, where=task_where(task.id)) from None
    check_covered(calendar, new_due, task.id)
