"""iCalendar feeds: one per department, every due date and report deadline
of its tasks, for Outlook or a phone calendar to subscribe to.

:func:`department_ics` returns the feed's text; the CLI writes it
(``duban report ics``) and the web app serves it at a signed URL. Events are
all-day and transparent (deadlines, not meetings). Their UIDs are stable
(``duban-task-<id>-due@duban``, ``duban-task-<id>-report-<period end>@duban``),
so a subscribed calendar updates an event in place when a due date moves
(extension approved) or a status changes, and drops report deadlines a task
no longer owes once it is submitted.

By default a feed holds what the department still has to do: its open tasks
(their due dates, overdue ones included) and their report deadlines from
:data:`WINDOW_BEFORE` ago to :data:`WINDOW_AFTER` ahead, and the tasks
cancelled with a due date in that window (marked CANCELLED, so a calendar that
imported them drops them). ``everything`` gives every task and every date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from urllib.parse import quote

from icalendar import Calendar, Event
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import NotFoundError
from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.status import StatusPolicy, report_periods
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ledger import load_ledger
from duban.services.reports.ledger_model import LedgerRow
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.queries import find_department
from models import Department

PRODID = "-//duban//督办//ZH"
UID_DOMAIN = "duban"
REFRESH = timedelta(hours=1)
# The default feed's window of dates around today.
WINDOW_BEFORE = timedelta(days=31)
WINDOW_AFTER = timedelta(days=366)


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
) -> str:
    """The feed of ``department`` (a name, an alias, or a department id) over
    every plan, with statuses as of ``now`` (aware; also the DTSTAMP): its open
    tasks and the dates around ``now`` (see the module), or with ``everything``
    every task and date.

    With ``base_url`` each event links to its task; with ``link_token`` too
    (the department's link, as the web serves the feed at it) the link opens
    the department's page of the task without signing in, as a notice's does.

    Raises NotFoundError when the department is unknown. A department without
    tasks gets a valid, empty calendar.
    """
    policy = policy or StatusPolicy()
    today = now.astimezone(zone).date()
    window = None if everything else (today - WINDOW_BEFORE, today + WINDOW_AFTER)
    states = None if everything else [s.value for s in (*OPEN_STATES, TaskState.CANCELLED)]
    with session_factory() as session:
        found = _department(session, department)
        ledger = load_ledger(
            session,
            as_of=today,
            calendar=calendar,
            policy=policy,
            all_plans=True,
            department_ids=[found.id],
            zone=zone,
            states=states,
        )
        name = found.name
    feed = _calendar(name, zone)
    stamp = now.astimezone(UTC)  # DTSTAMP is UTC
    for row in ledger.rows:
        if window is not None and row.cancelled and not window[0] <= row.due <= window[1]:
            continue
        link = _task_link(row, base_url, link_token)
        feed.add_component(_due_event(row, stamp, link))
        for event in _report_events(row, stamp, calendar, policy, link, window):
            feed.add_component(event)
    return feed.to_ical().decode("utf-8")


def _calendar(name: str, zone: tzinfo) -> Calendar:
    """An empty feed named after department ``name``, refreshed hourly."""
    feed = Calendar()
    feed.add("prodid", PRODID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", f"督办事项 · {name}")
    feed.add("x-wr-caldesc", f"{name}承担的督办任务:完成时限与进度报送截止日")
    feed.add("x-wr-timezone", str(zone))
    feed.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    feed.add("x-published-ttl", "PT1H")
    return feed


def _task_link(row: LedgerRow, base_url: str | None, link_token: str | None) -> str | None:
    """The task's page (opened with the department's link when ``link_token``
    is given), or None without ``base_url``."""
    if not base_url:
        return None
    url = f"{base_url.rstrip('/')}/tasks/{row.task_id}"
    return f"{url}?k={quote(link_token, safe='')}" if link_token else url


def _department(session: Session, department: str | int) -> Department:
    if isinstance(department, int):
        found = session.get(Department, department)
        if found is None:
            raise NotFoundError(f"找不到编号为 {department} 的单位")
        return found
    return find_department(department, session=session)


def _all_day(uid: str, day: date, summary: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", f"{uid}@{UID_DOMAIN}")
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("transp", "TRANSPARENT")
    event.add("categories", ["督办"])
    return event


def _due_event(row: LedgerRow, stamp: datetime, link: str | None) -> Event:
    done = not row.is_open
    mark = row.state_label if done else "到期"
    summary = f"【{mark}】措施{row.measure} {row.measure_title}({row.role_label})"
    event = _all_day(f"duban-task-{row.task_id}-due", row.due, summary, stamp)
    lines = [
        f"方案:{row.plan_title}",
        f"措施{row.measure}:{row.measure_title}",
        f"责任单位:{row.department}({row.role_label})",
        f"完成时限:{row.due.isoformat()}",
    ]
    if row.original_due is not None:
        lines.append(f"原定时限:{row.original_due.isoformat()}")
    lines.append(f"状态:{row.state_label},{row.status_label},{row.light_label}")
    lines.extend(f"目标:{target.text}" for target in row.targets)
    if link:
        lines.append(f"办理:{link}")
        event.add("url", link)
    event.add("description", "\n".join(lines))
    if row.cancelled:  # 已撤销: a subscribed calendar drops the event (same UID)
        event.add("status", "CANCELLED")
    return event


def _report_events(
    row: LedgerRow,
    stamp: datetime,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    link: str | None,
    window: tuple[date, date] | None = None,
) -> Iterator[Event]:
    """Report deadlines of the periods the task owes (ending before it was
    submitted, and by its due date), those dated within ``window`` if given."""
    until = row.due
    if row.submitted_on is not None:
        until = min(until, row.submitted_on - timedelta(days=1))
    if until <= row.assigned_on:
        return
    for period in report_periods(row.assigned_on, until, calendar, policy):
        quarter = f"{period.period_end.year}年{period.period_end.month}月底前"
        summary = f"【进度报送】措施{row.measure} {row.measure_title}({quarter}进展)"
        deadline = period.known_deadline
        shown_on = deadline or period.period_end
        if window is not None and not window[0] <= shown_on <= window[1]:
            continue
        if deadline is None:
            # The deadline's year has no holiday notice yet: shown on the period's
            # last day, marked; the same UID moves it once the date is known.
            summary += f"(报送截止日期{period.deadline_text})"
        event = _all_day(
            f"duban-task-{row.task_id}-report-{period.period_end.isoformat()}",
            shown_on,
            summary,
            stamp,
        )
        lines = [
            f"措施{row.measure}:{row.measure_title}",
            f"责任单位:{row.department}({row.role_label})",
            f"报送截止:{period.deadline_text}",
            f"报送内容:截至 {period.period_end.isoformat()} 的工作进展",
        ]
        if link:
            lines.append(f"报送:{link}")
            event.add("url", link)
        event.add("description", "\n".join(lines))
        if row.cancelled:
            event.add("status", "CANCELLED")
        yield event
