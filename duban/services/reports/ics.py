"""iCalendar feeds: one per department, the due dates and report deadlines
of its tasks, for Outlook or a phone calendar to subscribe to.

:func:`department_ics` returns the feed's text; the CLI writes it
(``duban report ics``) and the web app serves it at a signed URL. Events are
all-day and transparent (deadlines, not meetings). Their UIDs are stable
(``duban-task-<id>-due@duban``, ``duban-task-<id>-report-<period end>@duban``),
so a subscribed calendar updates an event in place when a due date moves
(extension approved) or a status changes, and drops report deadlines a task
no longer owes once it is submitted.

By default a feed holds what the department still has to do: the due dates
of its open tasks and their report deadlines dated from :data:`WINDOW_BEFORE`
ago to ``days`` ahead (:data:`DEFAULT_DAYS`, at most :data:`MAX_DAYS`), the
due date of every open task already past due however long ago (an overdue
task is still to be done, and a subscribed calendar deletes an event the feed
stops carrying), and the tasks cancelled with a due date in the window
(marked CANCELLED, so a calendar that imported them drops them); the feed's
description says so. A submitted or finished task leaves the default feed.
``everything`` gives every task and every date.

The feed costs what it holds: a windowed feed reads only the tasks whose due
date it shows with their lights as SQL
(:func:`~duban.services.tasks.light_sql.light_rule`: the day's stored lights
where fresh; their status follows from state and due date), or, where SQL
cannot tell lights exactly, lit in Python
(:func:`~duban.services.tasks.lights.light_tasks`, as ``everything`` does);
it reads the others that owe a report deadline in the window as a few plain
columns, and writes the text line by line
(:mod:`~duban.services.reports.ics_text`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import NotFoundError
from duban.domain.labels import TASK_ROLE_LABELS
from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.status import (
    Assessment,
    Light,
    ReportPeriod,
    StatusPolicy,
    TaskStatus,
    due_soon_reason,
    report_periods,
)
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ics_text import CRLF, content_line, day, text, utc_moment
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import LightRule, light_rule
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
_OPEN = [s.value for s in OPEN_STATES]
_CANCELLED = TaskState.CANCELLED.value
_CATEGORIES = content_line("CATEGORIES", text("督办"))

Window = tuple[date, date]


@dataclass(frozen=True, slots=True)
class _Status:
    """What a due date's event says of its task's status as of the day."""

    state: TaskState
    original_due: date
    state_label: str
    status_label: str
    light_label: str


@dataclass(frozen=True, slots=True)
class _FeedTask:
    """What a task's events say of it. ``status`` (with its plan's title and
    its targets) only for a task whose due date the feed shows; a task read
    only for its report deadlines has none."""

    order: tuple[int, int, date, str, int]  # light_tasks' order: plan, measure, deadline, role, id
    task_id: int
    measure: int
    measure_title: str
    department: str
    role: str
    due: date
    assigned_on: date
    submitted_on: date | None
    cancelled: bool
    status: _Status | None = None
    plan_title: str = ""
    targets: tuple[str, ...] = ()


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
    tasks' dates from a month ago to ``days`` ahead and the due dates of its
    overdue open tasks (see the module), or with ``everything`` every task and
    date.

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
        tasks = _feed_tasks(session, found, as_of=today, calendar=calendar, policy=policy,
                            zone=zone, window=window)
        name = found.name
    feed = _Feed(_calendar(name, zone, window), utc_moment(now), base_url, link_token)
    reports = _ReportDates(calendar, policy, window)
    for task in tasks:
        link = feed.link(task.task_id)
        url = content_line("URL", link) if link else None
        if task.status is not None:
            _due_event(feed, task, task.status, link, url)
        for period, shown_on in reports.of(task):
            _report_event(feed, task, period, shown_on, link, url)
    feed.lines.append("END:VCALENDAR")
    return CRLF.join(feed.lines) + CRLF


def _calendar(name: str, zone: tzinfo, window: Window | None) -> list[str]:
    """The feed's opening lines, named after department ``name`` and saying
    which dates it holds, refreshed hourly."""
    if window is None:
        what = "全部任务的完成时限与进度报送截止日"
    else:
        what = (f"未办结任务在 {window[0].isoformat()} 至 {window[1].isoformat()} "
                "的完成时限与进度报送截止日,以及逾期未办结任务的完成时限")
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
    department: Department,
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    zone: tzinfo,
    window: Window | None,
) -> list[_FeedTask]:
    """The department's tasks with an event in the feed (every task without
    ``window``), in light_tasks' order: those whose due date it shows lit, the
    others (open, due after the window, owing reports) as plain columns."""
    mine = Task.department_id == department.id
    if window is not None:
        # The lights of the tasks whose due date it shows as SQL (the day's
        # stored lights where fresh), where SQL can tell them exactly here.
        rule = light_rule(session, as_of=as_of, calendar=calendar, zone=zone, policy=policy,
                          refresh_at=None)
        if rule is not None:
            tasks = _ruled_tasks(session, department, rule, window, calendar, policy, zone)
            tasks += _owing_tasks(session, department, window, zone)
            tasks.sort(key=lambda task: task.order)
            return tasks
    # A windowed feed's tasks by their ids: SQLite, without statistics, would
    # otherwise read every task's reports by their action and look each task up.
    dated = [mine] if window is None else [
        Task.id.in_(select(Task.id).where(mine, _due_shown(window, as_of)))
    ]
    lit = light_tasks(session, where=dated, as_of=as_of, calendar=calendar, zone=zone,
                      policy=policy)
    tasks = _lit_tasks(session, lit, dated)
    if window is not None:
        tasks += _owing_tasks(session, department, window, zone)
        tasks.sort(key=lambda task: task.order)
    return tasks


def _ruled_tasks(
    session: Session,
    department: Department,
    rule: LightRule,
    window: Window,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    zone: tzinfo,
) -> list[_FeedTask]:
    """The department's tasks whose due date a windowed feed shows (open or
    cancelled: their status follows from the state and the due date, their
    light is ``rule``'s), with their measures' and plans' titles and targets,
    read as plain columns."""
    as_of = rule.as_of
    shown = [Task.department_id == department.id, _due_shown(window, as_of)]
    rows = session.execute(
        select(Task.id, Measure.plan_id, Measure.number, Task.measure_id, Task.deadline,
               Task.role, Task.state, Task.due, Task.original_due, Task.assigned_at, rule.light,
               Measure.title, Plan.title)
        .join(Measure, Task.measure_id == Measure.id)
        .join(Plan, Measure.plan_id == Plan.id)
        .where(*shown)
    ).all()
    if not rows:
        return []
    targets = _targets(session, select(Task.measure_id).where(*shown))
    days: dict[datetime, date] = {}
    statuses: dict[tuple[str, date, date, str], _Status] = {}
    tasks = []
    for (task_id, plan_id, number, measure_id, deadline, role, state_text, due, original_due,
         assigned_at, light, measure_title, plan_title) in rows:
        assigned_on = days.get(assigned_at)
        if assigned_on is None:
            assigned_on = days[assigned_at] = assigned_at.astimezone(zone).date()
        key = (state_text, due, original_due, light)
        status = statuses.get(key)
        if status is None:
            status = statuses[key] = _status_of(TaskState(state_text), due, original_due,
                                                 Light(light) if light != _CANCELLED else None,
                                                 as_of, calendar, policy)
        tasks.append(_FeedTask(
            order=(plan_id, number, deadline, role, task_id),
            task_id=task_id, measure=number, measure_title=measure_title,
            department=department.name, role=role, due=due, assigned_on=assigned_on,
            submitted_on=None, cancelled=state_text == _CANCELLED, status=status,
            plan_title=plan_title, targets=_targets_of(targets[measure_id], deadline),
        ))
    return tasks


def _status_of(
    state: TaskState,
    due: date,
    original_due: date,
    light: Light | None,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
) -> _Status:
    """The status of an open or cancelled task (``light``: None when
    cancelled) as :func:`~duban.domain.status.assess` tells it."""
    if state is TaskState.CANCELLED or light is None:
        assessment = Assessment(TaskStatus.CANCELLED, Light.GREEN)
    elif as_of > due:
        assessment = Assessment(TaskStatus.OVERDUE, light)
    elif due_soon_reason(due, as_of, calendar, policy) is not None:
        assessment = Assessment(TaskStatus.DUE_SOON, light)
    else:
        assessment = Assessment(TaskStatus.NOT_YET_DUE, light)
    return _labelled(state, assessment, original_due)


def _labelled(state: TaskState, assessment: Assessment, original_due: date) -> _Status:
    labels = status_fields(state, assessment)
    return _Status(state, original_due, labels["state_label"], labels["status_label"],
                   labels["light_label"])


def _due_shown(window: Window, as_of: date) -> ColumnElement[bool]:
    """The tasks whose due date a windowed feed shows: open or cancelled and
    due within ``window``, or open and past due on ``as_of``."""
    start, end = window
    return and_(
        Task.state.in_([*_OPEN, TaskState.CANCELLED.value]),
        or_(Task.due.between(start, end), and_(Task.state.in_(_OPEN), Task.due < as_of)),
    )


def _lit_tasks(
    session: Session, lit: Sequence[LitTask], where: Sequence[ColumnElement[bool]]
) -> list[_FeedTask]:
    """``lit`` with their measures' and plans' titles and targets."""
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
    targets = _targets(session, measures)
    return [
        _FeedTask(
            order=(task.plan_id, task.measure, task.deadline, task.role, task.task_id),
            task_id=task.task_id,
            measure=task.measure,
            measure_title=titles[task.measure_id][0],
            department=task.department,
            role=task.role,
            due=task.due,
            assigned_on=task.assigned_on,
            submitted_on=task.submitted_on,
            cancelled=task.cancelled,
            status=_labelled(task.state, task.assessment, task.facts.original_due),
            plan_title=titles[task.measure_id][1],
            targets=_targets_of(targets[task.measure_id], task.deadline),
        )
        for task in lit
    ]


def _targets(session: Session, measures: Any) -> dict[int, list[tuple[date | None, str]]]:
    """The targets (due date, text) of the ``measures`` (a subquery of ids), in order."""
    targets: dict[int, list[tuple[date | None, str]]] = defaultdict(list)
    for measure_id, due, target_text in session.execute(
        select(Target.measure_id, Target.due, Target.text)
        .where(Target.measure_id.in_(measures))
        .order_by(Target.measure_id, Target.position)
    ):
        targets[measure_id].append((due, target_text))
    return targets


def _owing_tasks(
    session: Session, department: Department, window: Window, zone: tzinfo
) -> list[_FeedTask]:
    """The department's open tasks due after ``window`` and assigned before its
    end: those that may owe a report deadline in it (an open task has no 报结
    that would end its reports)."""
    end = window[1]
    rows = session.execute(
        select(Task.id, Measure.plan_id, Measure.number, Measure.title, Task.deadline, Task.role,
               Task.due, Task.assigned_at)
        .join(Measure, Task.measure_id == Measure.id)
        .where(
            Task.department_id == department.id,
            Task.state.in_(_OPEN),
            Task.due > end,
            Task.assigned_at < datetime.combine(end + timedelta(days=1), time.min, zone),
        )
    )
    days: dict[datetime, date] = {}
    tasks = []
    for task_id, plan_id, number, title, deadline, role, due, assigned_at in rows:
        assigned_on = days.get(assigned_at)
        if assigned_on is None:
            assigned_on = days[assigned_at] = assigned_at.astimezone(zone).date()
        tasks.append(_FeedTask(
            order=(plan_id, number, deadline, role, task_id),
            task_id=task_id, measure=number, measure_title=title, department=department.name,
            role=role, due=due, assigned_on=assigned_on, submitted_on=None, cancelled=False,
        ))
    return tasks


def _targets_of(targets: list[tuple[date | None, str]], deadline: date) -> tuple[str, ...]:
    """The measure's targets of the task's deadline (all of them when the
    measure has no dated target), as the ledger lists them."""
    dated = any(due is not None for due, _text in targets)
    return tuple(t for due, t in targets if not dated or due == deadline)


class _Feed:
    """The feed's lines as they are written, with what every event repeats
    worked out once: the DTSTAMP line (``stamp``, UTC), the link's parts, the
    lines of each day."""

    def __init__(
        self, lines: list[str], stamp: str, base_url: str | None, link_token: str | None
    ) -> None:
        self.lines = lines
        self.stamp = f"DTSTAMP:{stamp}"
        self.base = f"{base_url.rstrip('/')}/tasks/" if base_url else None
        self.query = f"?k={quote(link_token, safe='')}" if link_token else ""
        self.days: dict[date, tuple[str, str]] = {}

    def link(self, task_id: int) -> str | None:
        """The task's page (opened with the department's link when the feed
        has its token), or None without a base URL."""
        return None if self.base is None else f"{self.base}{task_id}{self.query}"

    def event(
        self,
        uid: str,
        on: date,
        summary: str,
        description: str,
        url: str | None,
        cancelled: bool,
    ) -> None:
        """An all-day, transparent event on ``on`` (``url``: its URL line)."""
        days = self.days.get(on)
        if days is None:
            days = self.days[on] = (f"DTSTART;VALUE=DATE:{day(on)}",
                                    f"DTEND;VALUE=DATE:{day(on + timedelta(days=1))}")
        self.lines += (
            "BEGIN:VEVENT",
            content_line("UID", f"{uid}@{UID_DOMAIN}"),  # made of numbers, dates and "-"
            self.stamp,
            *days,
            content_line("SUMMARY", text(summary)),
            "TRANSP:TRANSPARENT",
            _CATEGORIES,
            content_line("DESCRIPTION", text(description)),
        )
        if url:
            self.lines.append(url)
        if cancelled:  # 已撤销: a subscribed calendar drops the event (same UID)
            self.lines.append("STATUS:CANCELLED")
        self.lines.append("END:VEVENT")


def _department(session: Session, department: str | int) -> Department:
    if isinstance(department, int):
        found = session.get(Department, department)
        if found is None:
            raise NotFoundError(f"找不到编号为 {department} 的单位")
        return found
    return find_department(department, session=session)


class _ReportDates:
    """The report deadlines each task's events show: of the periods it owes
    (ending after its assignment, before its 报结 and by its due date), those
    dated within the window if any; worked out once per span of days."""

    def __init__(self, calendar: WorkCalendar, policy: StatusPolicy, window: Window | None):
        self.calendar = calendar
        self.policy = policy
        self.window = window
        self.spans: dict[tuple[date, date], list[tuple[ReportPeriod, date]]] = {}

    def of(self, task: _FeedTask) -> Iterable[tuple[ReportPeriod, date]]:
        """(period, the day its event is on: the deadline, or the period's
        last day while the deadline's year is unpublished)."""
        until = task.due
        if task.submitted_on is not None:
            until = min(until, task.submitted_on - timedelta(days=1))
        if until <= task.assigned_on:
            return ()
        found = self.spans.get((task.assigned_on, until))
        if found is None:
            found = self.spans[(task.assigned_on, until)] = [
                (period, shown_on)
                for period in report_periods(task.assigned_on, until, self.calendar, self.policy)
                for shown_on in (period.known_deadline or period.period_end,)
                if self.window is None or self.window[0] <= shown_on <= self.window[1]
            ]
        return found


def _due_event(
    feed: _Feed, task: _FeedTask, status: _Status, link: str | None, url: str | None
) -> None:
    role = TASK_ROLE_LABELS.get(task.role, task.role)
    mark = "到期" if status.state in OPEN_STATES else status.state_label
    summary = f"【{mark}】措施{task.measure} {task.measure_title}({role})"
    description = [
        f"方案:{task.plan_title}",
        f"措施{task.measure}:{task.measure_title}",
        f"责任单位:{task.department}({role})",
        f"完成时限:{task.due.isoformat()}",
    ]
    if status.original_due != task.due:
        description.append(f"原定时限:{status.original_due.isoformat()}")
    description.append(f"状态:{status.state_label},{status.status_label},{status.light_label}")
    description.extend(f"目标:{target}" for target in task.targets)
    if link:
        description.append(f"办理:{link}")
    feed.event(f"duban-task-{task.task_id}-due", task.due, summary, "\n".join(description), url,
               task.cancelled)


def _report_event(
    feed: _Feed,
    task: _FeedTask,
    period: ReportPeriod,
    shown_on: date,
    link: str | None,
    url: str | None,
) -> None:
    """The event of a report deadline the task owes, on ``shown_on``."""
    role = TASK_ROLE_LABELS.get(task.role, task.role)
    end = period.period_end
    quarter = f"{end.year}年{end.month}月底前"
    summary = f"【进度报送】措施{task.measure} {task.measure_title}({quarter}进展)"
    if period.known_deadline is None:
        # The deadline's year has no holiday notice yet: shown on the period's
        # last day, marked; the same UID moves it once the date is known.
        summary += f"(报送截止日期{period.deadline_text})"
    description = (
        f"措施{task.measure}:{task.measure_title}\n"
        f"责任单位:{task.department}({role})\n"
        f"报送截止:{period.deadline_text}\n"
        f"报送内容:截至 {end.isoformat()} 的工作进展"
    )
    if link:
        description += f"\n报送:{link}"
    feed.event(f"duban-task-{task.task_id}-report-{end.isoformat()}", shown_on, summary,
               description, url, task.cancelled)
