"""Act on a task: 签收, 进度反馈, 报结, 办结, 退回, 调整期限 (延期申请 and its decision
are in :mod:`duban.services.tasks.extensions`; the indicator values a report
carries are read by :mod:`duban.services.tasks.readings`).

Every action runs in one transaction of its own that

1. loads the task and checks the action with the domain rules
   (:func:`duban.domain.lifecycle.next_state`, :func:`check_extension_request`)
   and the acting department;
2. updates the task with a compare-and-set on ``version``
   (``UPDATE tasks ... WHERE id = :id AND version = :v``); when no row matches,
   someone else changed the task since it was read and
   :class:`~duban.services.tasks.transitions.ConcurrentChangeError` is raised;
3. appends one :class:`~models.TaskEvent` (who, when, what, from and to state,
   note, data) and any extension request or indicator readings.

Steps 1 to 3 are :mod:`duban.services.tasks.transitions`, shared by every action.

Any refusal raises a :class:`~duban.domain.errors.DubanError` whose Chinese
message names the task (or extension request) and the reason, and leaves the
database unchanged. No action is taken at a moment before the task was
assigned. Time is the ``now`` argument (an aware datetime); its day
in the display zone (Asia/Shanghai) is what date rules compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.indicators import DEFAULT_BOUND
from duban.domain.lifecycle import (
    Action,
    TransitionError,
)
from duban.domain.workdays import WorkCalendar
from duban.services.tasks.attachments import StoredFile, attachment_rows
from duban.services.tasks.facts import LOCAL_ZONE, indicator_name, local_date, numeric_targets
from duban.services.tasks.readings import indicator_values
from duban.services.tasks.transitions import (
    ActionResult,
    check_covered,
    check_now,
    coordinator,
    department_actor,
    load_task,
    next_state_of,
    record,
    require_text,
    task_where,
)
from models import IndicatorReading, Target

# --- department actions --------------------------------------------------------


def acknowledge(
    task_id: int,
    *,
    department: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    actor: str | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """签收: the task's department confirms receipt (assigned → acknowledged).

    ``department`` is a name or alias of the acting department and must be the
    task's; ``actor`` optionally names the person. ``expected_version``, when
    given, is the version the caller saw (a stale one is a concurrent change).
    Raises NotFoundError (task or department unknown), TransitionError (not
    allowed now, or not this department's task), ConcurrentChangeError.
    """
    check_now(now)
    with session_factory.begin() as session:
        task = load_task(session, task_id, now)
        who = department_actor(session, task, department, actor)
        to = next_state_of(task, Action.ACKNOWLEDGE, who)
        return record(
            session,
            task,
            Action.ACKNOWLEDGE,
            who,
            to,
            now=now,
            changes={"acknowledged_at": now},
            expected_version=expected_version,
        )


def report(
    task_id: int,
    *,
    department: str,
    note: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    values: Mapping[str, object] | None = None,
    value: object = None,
    actor: str | None = None,
    expected_version: int | None = None,
    zone: tzinfo = LOCAL_ZONE,
    value_bound: float = DEFAULT_BOUND,
) -> ActionResult:
    """进度反馈: a progress report (free text) with optional indicator values.

    ``values`` maps an indicator (its name, or a part of it naming one target
    only) to a number or numeric text (a trailing unit such as % is allowed).
    A bare ``value`` is accepted when the task has exactly one numeric target.
    The numeric targets are those of :func:`~duban.services.tasks.queries.numeric_targets`.
    Each value must be finite and within its unit's range
    (:func:`duban.domain.indicators.value_range`; ``value_bound`` is
    ``DUBAN_INDICATOR_MAX``). Each becomes an IndicatorReading dated the local
    day of ``now``. Raises TransitionError for an empty note, an unknown
    indicator, a value that is not a number or out of range (naming the
    indicator) or a bare value when the task has no or several numeric
    targets; see :func:`acknowledge` for the rest.
    """
    check_now(now)
    with session_factory.begin() as session:
        task = load_task(session, task_id, now)
        who = department_actor(session, task, department, actor)
        to = next_state_of(task, Action.REPORT, who)
        require_text(note, task_id, "进度反馈须填写进展情况")
        targets = session.scalars(
            select(Target).where(Target.measure_id == task.measure_id).order_by(Target.position)
        ).all()
        parsed = indicator_values(
            task, numeric_targets(task, targets), values, value, bound=value_bound
        )
        data = {"values": {indicator_name(t): v for t, v in parsed}} if parsed else None
        result = record(
            session,
            task,
            Action.REPORT,
            who,
            to,
            now=now,
            note=note,
            data=data,
            expected_version=expected_version,
        )
        day = local_date(now, zone)
        for target, number in parsed:
            session.add(
                IndicatorReading(
                    task_id=task.id,
                    target_id=target.id,
                    event_id=result.event_id,
                    value=number,
                    reported_on=day,
                )
            )
        session.flush()
        return replace(result, values={indicator_name(t): v for t, v in parsed})


def submit(
    task_id: int,
    *,
    department: str,
    note: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    actor: str | None = None,
    expected_version: int | None = None,
    attachments: Sequence[StoredFile] = (),
) -> ActionResult:
    """报结: the department reports the task done; ``note`` (what was done and
    the evidence) is required. Sets ``submitted_at``. ``attachments`` (files
    already in place, see :func:`duban.services.tasks.attachments.staged_files`) are
    recorded with the event in the same transaction. Refusals as
    :func:`acknowledge`."""
    check_now(now)
    with session_factory.begin() as session:
        task = load_task(session, task_id, now)
        who = department_actor(session, task, department, actor)
        to = next_state_of(task, Action.SUBMIT, who)
        require_text(note, task_id, "报结须填写办理情况及佐证材料")
        result = record(
            session,
            task,
            Action.SUBMIT,
            who,
            to,
            now=now,
            note=note,
            changes={"submitted_at": now},
            expected_version=expected_version,
        )
        session.add_all(
            attachment_rows(
                list(attachments), task_id=task.id, event_id=result.event_id,
                uploaded_by=who.name, now=now,
            )
        )
        return result


# --- coordinator actions -------------------------------------------------------


def approve(
    task_id: int,
    *,
    actor: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    note: str | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """办结: a coordinator (``actor``) accepts a submitted task. Sets ``approved_at``.

    Raises NotFoundError, TransitionError (not submitted, or no actor),
    ConcurrentChangeError.
    """
    check_now(now)
    with session_factory.begin() as session:
        task = load_task(session, task_id, now)
        who = coordinator(actor, task.id)
        to = next_state_of(task, Action.APPROVE, who)
        return record(
            session,
            task,
            Action.APPROVE,
            who,
            to,
            now=now,
            note=note,
            changes={"approved_at": now},
            expected_version=expected_version,
        )


def return_(
    task_id: int,
    *,
    actor: str,
    reason: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    expected_version: int | None = None,
) -> ActionResult:
    """退回: a coordinator sends a submitted task back with a required reason
    (→ returned; the department may report and submit again). Refusals as
    :func:`approve`."""
    check_now(now)
    with session_factory.begin() as session:
        task = load_task(session, task_id, now)
        who = coordinator(actor, task.id)
        to = next_state_of(task, Action.RETURN, who, note=reason)
        return record(
            session,
            task,
            Action.RETURN,
            who,
            to,
            now=now,
            note=reason,
            expected_version=expected_version,
        )


def change_due(
    task_id: int,
    *,
    actor: str,
    new_due: date,
    reason: str,
    now: datetime,
    calendar: WorkCalendar,
    session_factory: sessionmaker[Session],
    expected_version: int | None = None,
) -> ActionResult:
    """调整期限: a coordinator moves an open or submitted task's due date, with a
    required reason (``original_due`` never moves; this is not an extension).

    Raises TransitionError when the date is unchanged, the reason empty, or
    ``new_due`` lies outside the calendar; see :func:`approve`.
    """
    check_now(now)
    with session_factory.begin() as session:
        task = load_task(session, task_id, now)
        who = coordinator(actor, task.id)
        to = next_state_of(task, Action.CHANGE_DUE, who, note=reason)
        if new_due == task.due:
            raise TransitionError(
                f"新期限与当前期限相同({new_due.isoformat()})", where=task_where(task.id)
            )
        check_covered(calendar, new_due, task.id)
        return record(
            session,
            task,
            Action.CHANGE_DUE,
            who,
            to,
            now=now,
            note=reason,
            data={"from_due": task.due.isoformat(), "to_due": new_due.isoformat()},
            changes={"due": new_due},
            expected_version=expected_version,
        )


# --- the machinery -------------------------------------------------------------


