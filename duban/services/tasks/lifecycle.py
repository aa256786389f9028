"""Act on a task: 签收, 进度反馈, 报结, 办结, 退回, 延期申请 and its decision, 调整期限.

Every action runs in one transaction of its own that

1. loads the task and checks the action with the domain rules
   (:func:`duban.domain.lifecycle.next_state`, :func:`check_extension_request`)
   and the acting department;
2. updates the task with a compare-and-set on ``version``
   (``UPDATE tasks ... WHERE id = :id AND version = :v``); when no row matches,
   someone else changed the task since it was read and
   :class:`ConcurrentChangeError` is raised;
3. appends one :class:`~models.TaskEvent` (who, when, what, from and to state,
   note, data) and any extension request or indicator readings.

Any refusal raises a :class:`~duban.domain.errors.DubanError` whose Chinese
message names the task (or extension request) and the reason, and leaves the
database unchanged. No action is taken at a moment before the task was
assigned. Time is the ``now`` argument (an aware datetime); its day
in the display zone (Asia/Shanghai) is what date rules compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from typing import Any, cast

from sqlalchemy import CursorResult, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.indicators import DEFAULT_BOUND, range_problem
from duban.domain.lifecycle import (
    Action,
    ActorRole,
    TaskState,
    TransitionError,
    check_extension_request,
    next_state,
)
from duban.domain.workdays import CalendarError, WorkCalendar
from duban.services.tasks.attachments import StoredFile, attachment_rows
from duban.services.tasks.queries import (
    EXTENSION_STATUS_LABELS,
    LOCAL_ZONE,
    find_department,
    indicator_name,
    local_date,
    match_indicator,
    numeric_targets,
)
from models import ExtensionRequest, IndicatorReading, Target, Task, TaskEvent


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
class _Actor:
    role: ActorRole
    name: str
    department: str | None = None


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
    _check_now(now)
    with session_factory.begin() as session:
        task = _load_task(session, task_id, now)
        who = _department_actor(session, task, department, actor)
        to = _next(task, Action.ACKNOWLEDGE, who)
        return _record(
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
    _check_now(now)
    with session_factory.begin() as session:
        task = _load_task(session, task_id, now)
        who = _department_actor(session, task, department, actor)
        to = _next(task, Action.REPORT, who)
        _require_text(note, task_id, "进度反馈须填写进展情况")
        targets = session.scalars(
            select(Target).where(Target.measure_id == task.measure_id).order_by(Target.position)
        ).all()
        parsed = _indicator_values(
            task, numeric_targets(task, targets), values, value, bound=value_bound
        )
        data = {"values": {indicator_name(t): v for t, v in parsed}} if parsed else None
        result = _record(
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
    _check_now(now)
    with session_factory.begin() as session:
        task = _load_task(session, task_id, now)
        who = _department_actor(session, task, department, actor)
        to = _next(task, Action.SUBMIT, who)
        _require_text(note, task_id, "报结须填写办理情况及佐证材料")
        result = _record(
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
    _check_now(now)
    with session_factory.begin() as session:
        task = _load_task(session, task_id, now)
        who = _department_actor(session, task, department, actor)
        to = _next(task, Action.REQUEST_EXTENSION, who, note=reason)
        pending = bool(
            session.scalar(
                select(
                    exists().where(
                        ExtensionRequest.task_id == task.id, ExtensionRequest.status == "pending"
                    )
                )
            )
        )
        try:
            check_extension_request(
                as_of=local_date(now, zone), due=task.due, new_due=new_due, pending=pending
            )
        except TransitionError as err:
            raise TransitionError(err.message, where=_where(task.id)) from None
        _check_covered(calendar, new_due, task.id)
        version = _compare_and_set(session, task, to, None, expected_version, now=now)
        extension = ExtensionRequest(
            task_id=task.id,
            requested_at=now,
            requested_by=who.name,
            reason=reason.strip(),
            current_due=task.due,
            new_due=new_due,
            status="pending",
        )
        session.add(extension)
        session.flush()
        data = {
            "extension_id": extension.id,
            "current_due": task.due.isoformat(),
            "new_due": new_due.isoformat(),
        }
        event_id = _append_event(
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
    _check_now(now)
    with session_factory.begin() as session:
        task = _load_task(session, task_id, now)
        who = _coordinator(actor, task.id)
        to = _next(task, Action.APPROVE, who)
        return _record(
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
    _check_now(now)
    with session_factory.begin() as session:
        task = _load_task(session, task_id, now)
        who = _coordinator(actor, task.id)
        to = _next(task, Action.RETURN, who, note=reason)
        return _record(
            session,
            task,
            Action.RETURN,
            who,
            to,
            now=now,
            note=reason,
            expected_version=expected_version,
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
    _check_now(now)
    with session_factory.begin() as session:
        task = _load_task(session, task_id, now)
        who = _coordinator(actor, task.id)
        to = _next(task, Action.CHANGE_DUE, who, note=reason)
        if new_due == task.due:
            raise TransitionError(
                f"新期限与当前期限相同({new_due.isoformat()})", where=_where(task.id)
            )
        _check_covered(calendar, new_due, task.id)
        return _record(
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


def _where(task_id: int) -> str:
    return f"任务 #{task_id}"


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware datetime")


def _load_task(session: Session, task_id: int, now: datetime) -> Task:
    """The task; NotFoundError if there is none, TransitionError when ``now``
    is before it was assigned (no one acts on a task before it exists)."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError(f"找不到任务 #{task_id}(可用 duban tasks 查看任务列表)")
    if now < task.assigned_at:
        raise TransitionError(
            f"办理时间 {_local(now)} 早于任务交办时间 {_local(task.assigned_at)},不能办理",
            where=_where(task.id),
        )
    return task


def _check_covered(calendar: WorkCalendar, day: date, task_id: int) -> None:
    """The new date must be one the calendar can count working days to. The
    refusal names the year, not where its data would go: a department reads it."""
    try:
        calendar.is_workday(day)
    except CalendarError as err:
        if err.year is None:
            raise
        raise TransitionError(
            f"新期限 {day.isoformat()} 无法受理:工作日历尚无{err.year}年的节假日安排",
            where=_where(task_id),
        ) from None


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


def _department_actor(session: Session, task: Task, department: str, person: str | None) -> _Actor:
    """The acting department, which must be the task's."""
    acting = find_department(department, session=session)
    if acting.id != task.department_id:
        raise TransitionError(f"{acting.name}无权办理{task.department.name}的任务 #{task.id}")
    person = (person or "").strip()
    name = f"{acting.name}({person})" if person else acting.name
    return _Actor(ActorRole.DEPARTMENT, name, department=acting.name)


def _coordinator(actor: str, task_id: int) -> _Actor:
    name = (actor or "").strip()
    if not name:
        raise TransitionError("须填写经办人", where=_where(task_id))
    return _Actor(ActorRole.COORDINATOR, name)


def _next(task: Task, action: Action, who: _Actor, *, note: str | None = None) -> TaskState:
    try:
        return next_state(TaskState(task.state), action, who.role, note=note)
    except TransitionError as err:
        raise TransitionError(err.message, where=_where(task.id)) from None


def _require_text(text: str | None, task_id: int, message: str) -> None:
    if not (text and text.strip()):
        raise TransitionError(message, where=_where(task_id))


def _record(
    session: Session,
    task: Task,
    action: Action,
    who: _Actor,
    to: TaskState,
    *,
    now: datetime,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """Compare-and-set the task, then append the event."""
    version = _compare_and_set(session, task, to, changes, expected_version, now=now)
    event_id = _append_event(session, task, action, who, to, now=now, note=note, data=data)
    return ActionResult(
        task_id=task.id,
        action=action,
        event_id=event_id,
        from_state=TaskState(task.state),
        to_state=to,
        due=(changes or {}).get("due", task.due),
        version=version,
    )


def _compare_and_set(
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
            "任务已被他人修改(版本不符),本次操作未生效,请刷新后重试", where=_where(task.id)
        )
    return version + 1


def _append_event(
    session: Session,
    task: Task,
    action: Action,
    who: _Actor,
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
    _check_now(now)
    action = Action.APPROVE_EXTENSION if approved else Action.REFUSE_EXTENSION
    with session_factory.begin() as session:
        extension = session.get(ExtensionRequest, extension_id)
        if extension is None:
            raise NotFoundError(f"找不到延期申请 #{extension_id}")
        task = _load_task(session, extension.task_id, now)
        where = f"延期申请 #{extension.id}(任务 #{task.id})"
        if extension.status != "pending":
            label = EXTENSION_STATUS_LABELS.get(extension.status, extension.status)
            raise TransitionError(f"该申请已审批({label}),不能再次审批", where=where)
        who = _coordinator(actor, task.id)
        to = _next(task, action, who)
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
        result = _record(
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
        extension.status = "approved" if approved else "refused"
        extension.decided_at = now
        extension.decided_by = who.name
        extension.decision_note = note.strip() if note and note.strip() else None
        session.flush()
        return replace(result, extension_id=extension.id)


def _indicator_values(
    task: Task,
    targets: list[Target],
    values: Mapping[str, object] | None,
    bare: object,
    *,
    bound: float,
) -> list[tuple[Target, float]]:
    """The reported values matched to the task's numeric targets, validated."""
    where = _where(task.id)
    names = "、".join(f"“{indicator_name(t)}”" for t in targets)
    pairs: list[tuple[Target, object]] = []
    if bare is not None:
        if not targets:
            raise TransitionError("本任务没有数值指标,不能报送指标值", where=where)
        if len(targets) > 1:
            raise TransitionError(
                f"本任务有{len(targets)}个数值指标,请用“指标=数值”分别填写:{names}", where=where
            )
        pairs.append((targets[0], bare))
    for key, raw in (values or {}).items():
        if not targets:
            raise TransitionError(f"本任务没有数值指标,不能报送“{key}”", where=where)
        target = match_indicator(key, targets)
        if target is None:
            raise TransitionError(f"本任务没有指标“{key}”,可报送的指标:{names}", where=where)
        pairs.append((target, raw))
    seen: set[int] = set()
    parsed: list[tuple[Target, float]] = []
    for target, raw in pairs:
        if target.id in seen:
            raise TransitionError(f"指标“{indicator_name(target)}”填写了两次", where=where)
        seen.add(target.id)
        parsed.append((target, _number(raw, target, where, bound=bound)))
    return parsed


def _number(raw: object, target: Target, where: str, *, bound: float) -> float:
    """``raw`` as a finite number within the target's range; text may end in
    the target's unit or %."""
    number: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        for suffix in (target.unit or "", "%", "%"):
            if suffix and text.endswith(suffix):
                text = text[: -len(suffix)].strip()
                break
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            number = None
    shown = str(raw) if len(str(raw)) <= 40 else f"{str(raw)[:40]}…"
    if number is None:
        raise TransitionError(f"指标“{indicator_name(target)}”的值“{shown}”不是数字", where=where)
    problem = range_problem(number, target.unit, target.value, bound=bound)
    if problem is not None:
        raise TransitionError(f"指标“{indicator_name(target)}”的值“{shown}”{problem}", where=where)
    return number
