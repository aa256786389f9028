"""iCalendar feeds: one per department, the due dates and report deadlines
of its tasks, for Outlook or a phone calendar to subscribe to.

:func:`department_ics` returns the feed's text; the CLI writes it
(``duban report ics``) and the web app serves it at a signed URL. Events are
all-day and transparent (deadlines, not meetings). Their UIDs are stable
(``duban-task-<id>-due@duban``, ``duban-task-<id>-report-<period end>@duban``),
so a subscribed calendar updates an event in place when a due date moves
(extension approved) or a status changes, and drops report deadlines a task
no longer owes once it is submitted.

By default a feed holds what the department still has to do soon: the due
dates of its open tasks and their report deadlines dated from
:data:`WINDOW_BEFORE` ago to ``days`` ahead (:data:`DEFAULT_DAYS`, at most
:data:`MAX_DAYS`), and the tasks cancelled with a due date in that window
(marked CANCELLED, so a calendar that imported them drops them); the feed's
description states the window. ``everything`` gives every task and every date.
The feed costs what it holds: the tasks are read as plain columns
(:func:`~duban.services.tasks.lights.light_tasks`, only those that may have a
date in the window) and the text is written line by line
(:mod:`~duban.services.reports.ics_text`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from urllib.parse import quote

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import NotFoundError
from duban.domain.labels import TASK_ROLE_LABELS
from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.status import StatusPolicy, report_periods
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ics_text import CRLF, content_line, day, text, utc_moment
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.lights import LitTask, light_tasks
from duban.services.tasks.queries import find_department
from duban.services.tasks.views import status_fields
from models import Department, Measure, Plan, Target, Task

PRODID = "-//duban//督办//ZH"
UID_DOMAIN = "duban"
REFRESH = "PT1H"
# The default feed's window of dates: from WINDOW_BEFORE ago to ``days`` ahead.
WINDOW_BEFORE = timedelta(days=31)
DEFAULT_DAYS = 60
MAX_DAYS = 366
# A report deadline falls this long after its period's end at the most (N
# working days, with a long holiday): only for choosing the tasks to read.
_REPORT_SPAN = timedelta(days=62)
_OPEN = [s.value for s in OPEN_STATES]


@dataclass(frozen=True)
class _FeedTask:
    """What a task's events say of it."""

    lit: LitTask
    plan_title: str
    measure_title: str
    targets: tuple[str, ...]

    @property
    def cancelled(self) -> bool:
        return self.lit.cancelled


def department_ics(
    session_factory: sessionmaker[Session],
    *,
    department: str | int,
    now: datetime,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    base_url: str | None = None,
    zone: tzinfo = LOCAL_ZONE,
    link_token: str | None = None,
    everything: bool = False,
    days: int = DEFAULT_DAYS,
) -> str:
    """The feed of ``department`` (a name, an alias, or a department id) over
    every plan, with statuses as of ``now`` (aware; also the DTSTAMP): its open
    tasks' dates from a month ago to ``days`` ahead (see the module), or with
    ``everything`` every task and date.

    With ``base_url`` each event links to its task; with ``link_token`` too
    (the department's link, as the web serves the feed at it) the link opens
    the department's page of the task without signing in, as a notice's does.

    Raises NotFoundError when the department is unknown, ValueError when
    ``days`` is not within 1 … :data:`MAX_DAYS`. A department without tasks
    gets a valid, empty calendar.
    """
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be within 1 … {MAX_DAYS}, not {days}")
    policy = policy or StatusPolicy()
    today = now.astimezone(zone).date()
    window = None if everything else (today - WINDOW_BEFORE, today + timedelta(days=days))
    with session_factory() as session:
        found = _department(session, department)
        tasks = _feed_tasks(session, found.id, as_of=today, calendar=calendar, policy=policy,
                            zone=zone, window=window)
        name = found.name
    lines = _calendar(name, zone, window)
    stamp = utc_moment(now)  # DTSTAMP is UTC
    for task in tasks:
        link = _task_link(task.lit.task_id, base_url, link_token)
        if window is None or window[0] <= task.lit.due <= window[1]:
            lines += _due_event(task, stamp, link)
        for event in _report_events(task, stamp, calendar, policy, link, window):
            lines += event
    lines.append("END:VCALENDAR")
    return CRLF.join(lines) + CRLF


def _calendar(name: str, zone: tzinfo, window: tuple[date, date] | None) -> list[str]:
    """The feed's opening lines, named after department ``name`` and saying
    which dates it holds, refreshed hourly."""
    if window is None:
        what = "全部任务的完成时限与进度报送截止日"
    else:
        what = (f"未办结任务在 {window[0].isoformat()} 至 {window[1].isoformat()} "
                "的完成时限与进度报送截止日")
    return [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        content_line("PRODID", text(PRODID)),
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        content_line("X-WR-CALNAME", text(f"督办事项 · {name}")),
        content_line("X-WR-CALDESC", text(f"{name}承担的督办任务:{what}")),
        content_line("X-WR-TIMEZONE", text(str(zone))),
        content_line("REFRESH-INTERVAL", REFRESH, "VALUE=DURATION"),
        content_line("X-PUBLISHED-TTL", REFRESH),
    ]


def _feed_tasks(
    session: Session,
    department_id: int,
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    zone: tzinfo,
    window: tuple[date, date] | None,
) -> list[_FeedTask]:
    """The department's tasks with a date in ``window`` (all of them without
    one), each with its status, measure, plan and targets."""
    where: list[ColumnElement[bool]] = [Task.department_id == department_id]
    if window is not None:
        where.append(_may_have_a_date_in(window, zone))
    lit = light_tasks(session, where=where, as_of=as_of, calendar=calendar, zone=zone,
                      policy=policy)
    if not lit:
        return []
    measures = select(Task.measure_id).where(*where)
    titles = {
        measure_id: (measure_title, plan_title)
        for measure_id, measure_title, plan_title in session.execute(
            select(Measure.id, Measure.title, Plan.title)
            .join(Plan, Plan.id == Measure.plan_id)
            .where(Measure.id.in_(measures))
        )
    }
    targets: dict[int, list[tuple[date | None, str]]] = defaultdict(list)
    for measure_id, due, target_text in session.execute(
        select(Target.measure_id, Target.due, Target.text)
        .where(Target.measure_id.in_(measures))
        .order_by(Target.measure_id, Target.position)
    ):
        targets[measure_id].append((due, target_text))
    return [
        _FeedTask(
            lit=task,
            measure_title=titles[task.measure_id][0],
            plan_title=titles[task.measure_id][1],
            targets=_targets_of(targets[task.measure_id], task.deadline),
        )
        for task in lit
    ]


def _may_have_a_date_in(window: tuple[date, date], zone: tzinfo) -> ColumnElement[bool]:
    """Open or cancelled, due within ``window``, or open and owing reports
    whose deadline may fall in it (assigned before its end, due no earlier
    than a report period that may end in it)."""
    start, end = window
    return and_(
        Task.state.in_([*_OPEN, TaskState.CANCELLED.value]),
        or_(
            Task.due.between(start, end),
            and_(
                Task.state.in_(_OPEN),
                Task.due >= start - _REPORT_SPAN,
                Task.assigned_at < datetime.combine(end + timedelta(days=1), time.min, zone),
            ),
        ),
    )


def _targets_of(targets: list[tuple[date | None, str]], deadline: date) -> tuple[str, ...]:
    """The measure's targets of the task's deadline (all of them when the
    measure has no dated target), as the ledger lists them."""
    dated = any(due is not None for due, _text in targets)
    return tuple(t for due, t in targets if not dated or due == deadline)


def _task_link(task_id: int, base_url: str | None, link_token: str | None) -> str | None:
    """The task's page (opened with the department's link when ``link_token``
    is given), or None without ``base_url``."""
    if not base_url:
        return None
    url = f"{base_url.rstrip('/')}/tasks/{task_id}"
    return f"{url}?k={quote(link_token, safe='')}" if link_token else url


def _department(session: Session, department: str | int) -> Department:
    if isinstance(department, int):
        found = session.get(Department, department)
        if found is None:
            raise NotFoundError(f"找不到编号为 {department} 的单位")
        return found
    return find_department(department, session=session)


def _event(
    uid: str,
    on: date,
    summary: str,
    stamp: str,
    description: list[str],
    link: str | None,
    cancelled: bool,
) -> list[str]:
    """An all-day, transparent event's lines."""
    lines = [
        "BEGIN:VEVENT",
        content_line("UID", text(f"{uid}@{UID_DOMAIN}")),
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{day(on)}",
        f"DTEND;VALUE=DATE:{day(on + timedelta(days=1))}",
        content_line("SUMMARY", text(summary)),
        "TRANSP:TRANSPARENT",
        content_line("CATEGORIES", text("督办")),
        content_line("DESCRIPTION", text("\n".join(description))),
    ]
    if link:
        lines.append(content_line("URL", link))
    if cancelled:  # 已撤销: a subscribed calendar drops the event (same UID)
        lines.append("STATUS:CANCELLED")
    lines.append("END:VEVENT")
    return lines


def _due_event(task: _FeedTask, stamp: str, link: str | None) -> list[str]:
    lit = task.lit
    labels = status_fields(lit.state, lit.assessment)
    role = TASK_ROLE_LABELS.get(lit.role, lit.role)
    mark = "到期" if lit.state in OPEN_STATES else labels["state_label"]
    summary = f"【{mark}】措施{lit.measure} {task.measure_title}({role})"
    lines = [
        f"方案:{task.plan_title}",
        f"措施{lit.measure}:{task.measure_title}",
        f"责任单位:{lit.department}({role})",
        f"完成时限:{lit.due.isoformat()}",
    ]
    if lit.facts.original_due != lit.due:
        lines.append(f"原定时限:{lit.facts.original_due.isoformat()}")
    lines.append(
        f"状态:{labels['state_label']},{labels['status_label']},{labels['light_label']}"
    )
    lines.extend(f"目标:{target}" for target in task.targets)
    if link:
        lines.append(f"办理:{link}")
    return _event(f"duban-task-{lit.task_id}-due", lit.due, summary, stamp, lines, link,
                  task.cancelled)


def _report_events(
    task: _FeedTask,
    stamp: str,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    link: str | None,
    window: tuple[date, date] | None = None,
) -> Iterator[list[str]]:
    """Report deadlines of the periods the task owes (ending before it was
    submitted, and by its due date), those dated within ``window`` if given."""
    lit = task.lit
    until = lit.due
    if lit.submitted_on is not None:
        until = min(until, lit.submitted_on - timedelta(days=1))
    if until <= lit.assigned_on:
        return
    role = TASK_ROLE_LABELS.get(lit.role, lit.role)
    for period in report_periods(lit.assigned_on, until, calendar, policy):
        deadline = period.known_deadline
        shown_on = deadline or period.period_end
        if window is not None and not window[0] <= shown_on <= window[1]:
            continue
        quarter = f"{period.period_end.year}年{period.period_end.month}月底前"
        summary = f"【进度报送】措施{lit.measure} {task.measure_title}({quarter}进展)"
        if deadline is None:
            # The deadline's year has no holiday notice yet: shown on the period's
            # last day, marked; the same UID moves it once the date is known.
            summary += f"(报送截止日期{period.deadline_text})"
        lines = [
            f"措施{lit.measure}:{task.measure_title}",
            f"责任单位:{lit.department}({role})",
            f"报送截止:{period.deadline_text}",
            f"报送内容:截至 {period.period_end.isoformat()} 的工作进展",
        ]
        if link:
            lines.append(f"报送:{link}")
        yield _event(
            f"duban-task-{lit.task_id}-report-{period.period_end.isoformat()}",
            shown_on, summary, stamp, lines, link, task.cancelled,
        )

