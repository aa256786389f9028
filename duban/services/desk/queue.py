"""The coordinator's work queue (督办科待办): what needs someone at the desk now.

Six sections, each a count and a list sorted by urgency:

- ``overdue`` 已逾期: open tasks past their due date, most working days overdue
  first;
- ``unacknowledged`` 未签收: tasks still not acknowledged after the ladder's
  acknowledgement reminder fell due (and not overdue), longest first;
- ``missing_reports`` 缺报进度: open tasks, not overdue, that missed a periodic
  progress report, most periods missed first, then the oldest deadline;
- ``submissions`` 待审核报结: submitted tasks, longest waiting first;
- ``extensions`` 待批延期: pending extension requests, the soonest due first;
- ``failed`` 送达受阻: deliveries refused for good, or still unsent
  ``blocked_after_workdays`` working days after they were due (they are
  retried meanwhile), newest first; each can be retried or redirected.

A task is in at most one of the first three (the first that applies, in that
order), so their counts add up to the tasks that need urging; its row still
says what else is wrong (``also``). Each urgeable row tells the latest 催办 or
督办 so far and whether it was already urged by hand today.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, false, func, literal, or_, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.escalation import Anchor, StepKey
from duban.domain.labels import LEVEL_LABELS
from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.status import Light, StatusPolicy, TaskStatus
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.desk.review import (
    ExtensionItem,
    FailedDelivery,
    SubmissionItem,
    blocked_deliveries,
    review_queue,
    submission_page,
    submitted_count,
)
from duban.services.ladder.core import policy_for
from duban.services.tasks.facts import local_date
from duban.services.tasks.light_sql import LightRule, light_rule
from duban.services.tasks.queries import list_tasks, task_views
from duban.services.tasks.views import TaskView
from models import EscalationPolicyRow, Notice, Task

URGE_SECTIONS = ("overdue", "unacknowledged", "missing_reports")
SECTION_LABELS = {
    "overdue": "已逾期",
    "unacknowledged": "未签收",
    "missing_reports": "缺报进度",
    "submissions": "待审核报结",
    "extensions": "待批延期",
    "failed": "送达受阻",
}
# Stale tasks' missed report periods are worked out this many ids a statement,
# up to this many stale tasks (more: the whole queue is assessed instead).
_ID_CHUNK = 500
_STALE_MAX = 5_000
# Working days to the first acknowledgement reminder when a ladder has none.
DEFAULT_ACK_WORKDAYS = 2


@dataclass(frozen=True)
class QueueTask:
    """One task to urge, with why it is in the queue, in words."""

    task_id: int
    measure: int
    measure_title: str
    department: str
    role_label: str
    due: date
    state: TaskState
    state_label: str
    light: Light
    light_label: str
    why: str  # e.g. 逾期 18 个工作日
    also: list[str]  # the other problems: 未签收, 缺报 2 期…
    urgency: tuple[int, ...]  # larger is more urgent
    last_rung: str | None  # e.g. 红色督办(2016-01-15)
    urged_today: bool


@dataclass
class WorkQueue:
    as_of: date
    overdue: list[QueueTask] = field(default_factory=list)
    unacknowledged: list[QueueTask] = field(default_factory=list)
    missing_reports: list[QueueTask] = field(default_factory=list)
    submissions: list[SubmissionItem] = field(default_factory=list)
    extensions: list[ExtensionItem] = field(default_factory=list)
    failed: list[FailedDelivery] = field(default_factory=list)
    # A section's full size where its list holds only the rows shown, and the
    # page shown (see work_queue's ``shown``).
    totals: dict[str, int] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            name: self.totals.get(name, len(getattr(self, name))) for name in SECTION_LABELS
        }

    @property
    def urgeable(self) -> int:
        counts = self.counts()
        return sum(counts[name] for name in URGE_SECTIONS)


@dataclass(frozen=True)
class _Facts:
    assigned_on: date
    ack_workdays: int
    rungs: list[tuple[int, date]]  # (level, day) of 催办/督办 so far, oldest first
    urged_today: bool


def work_queue(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    policy: StatusPolicy | None = None,
    blocked_after_workdays: int = 1,
    shown: Mapping[str, tuple[int, int]] | None = None,
) -> WorkQueue:
    """Everything waiting for a coordinator as of ``now`` (see the module doc).

    ``shown`` (section -> (page, rows per page)): each section named holds
    only that page's rows (the page brought within 1 and its last; ``pages``
    says which was shown), every other section none, and ``counts()`` gives
    each section's full size. Only the rows shown are assessed: the
    sections' sizes and orders come from SQL (stored lights and the periods
    they missed, see :func:`_ranked`), or from every task where SQL cannot
    tell. Without ``shown``, every row of every section.

    Raises CalendarError when a date involved lies outside the calendar."""
    today = local_date(now, zone)
    if shown is None:
        return _whole_queue(session_factory, now=now, calendar=calendar, zone=zone,
                            policy=policy, blocked_after_workdays=blocked_after_workdays)
    with session_factory() as session:
        ranked = _ranked(session, today=today, calendar=calendar, zone=zone, policy=policy)
    if ranked is None:
        whole = _whole_queue(session_factory, now=now, calendar=calendar, zone=zone,
                             policy=policy, blocked_after_workdays=blocked_after_workdays)
        return _pages_of(whole, shown)
    queue = WorkQueue(as_of=today)
    picked: dict[str, list[int]] = {}
    with session_factory() as session:
        for name in URGE_SECTIONS:
            total = sum(group.size for group in ranked[name])
            queue.totals[name] = total
            if name in shown:
                offset, limit = _page(queue, name, total, shown[name])
                picked[name] = _page_ids(session, ranked[name], offset, limit)
        total = queue.totals["submissions"] = submitted_count(session)
        if "submissions" in shown:
            offset, limit = _page(queue, "submissions", total, shown["submissions"])
            queue.submissions = submission_page(session, now=now, offset=offset, limit=limit)
    _fill_rows(queue, picked, session_factory, calendar=calendar, zone=zone, policy=policy)
    rest = _whole_queue(session_factory, now=now, calendar=calendar, zone=zone, policy=policy,
                        blocked_after_workdays=blocked_after_workdays, tasks=False)
    for name in ("extensions", "failed"):
        _take_page(queue, name, getattr(rest, name), shown)
    return queue


def _page(queue: WorkQueue, name: str, total: int, shown: tuple[int, int]) -> tuple[int, int]:
    """(offset, limit) of the page ``shown`` asks of a section of ``total``
    rows, brought within 1 and the last page, which ``queue.pages`` records."""
    page, size = shown
    last = max(1, -(-total // size))
    page = min(max(page, 1), last)
    queue.pages[name] = page
    return (page - 1) * size, size


def _pages_of(whole: WorkQueue, shown: Mapping[str, tuple[int, int]]) -> WorkQueue:
    """The rows of ``whole`` that ``shown`` asks for (see :func:`work_queue`)."""
    queue = WorkQueue(as_of=whole.as_of)
    for name in SECTION_LABELS:
        _take_page(queue, name, getattr(whole, name), shown)
    return queue


def _take_page(queue: WorkQueue, name: str, rows: list[Any],
               shown: Mapping[str, tuple[int, int]]) -> None:
    """Section ``name`` of ``queue`` counts ``rows`` and holds the page of
    them ``shown`` asks for (none if it asks for no page of it)."""
    queue.totals[name] = len(rows)
    if name in shown:
        offset, limit = _page(queue, name, len(rows), shown[name])
        setattr(queue, name, rows[offset : offset + limit])


def _whole_queue(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    policy: StatusPolicy | None,
    blocked_after_workdays: int,
    tasks: bool = True,
) -> WorkQueue:
    """Every row of every section (without ``tasks``: no urge section and no
    submission), from every candidate task assessed."""
    today = local_date(now, zone)
    queue = WorkQueue(as_of=today)
    if tasks:
        views = list_tasks(
            session_factory, as_of=today, calendar=calendar, policy=policy, zone=zone,
            where=lambda session: _candidates(
                session, today=today, calendar=calendar, zone=zone, policy=policy
            ),
        )
        open_views = [v for v in views if v.state in OPEN_STATES]
        facts = _task_facts(session_factory, [v.id for v in open_views], today=today, zone=zone)
        for view in open_views:
            fact = facts[view.id]
            problems = _problems(view, fact, calendar=calendar, today=today)
            if not problems:
                continue
            section, why, urgency = problems[0]
            getattr(queue, section).append(
                _queue_task(view, why, [p[1] for p in problems[1:]], urgency, fact)
            )
        for name in URGE_SECTIONS:
            getattr(queue, name).sort(key=lambda t: t.urgency, reverse=True)
    review = review_queue(session_factory, submissions=tasks, failed=False)
    queue.submissions = sorted(
        review.submissions, key=lambda s: (s.submitted_at or now, s.task_id)
    )
    queue.extensions = sorted(review.extensions, key=lambda x: (x.current_due, x.id))
    with session_factory() as session:
        queue.failed = blocked_deliveries(
            session, now=now, calendar=calendar, zone=zone, after_workdays=blocked_after_workdays
        )
    return queue


@dataclass(frozen=True)
class _Group:
    """Tasks of one section with one urgency (but the id): ``where`` picks
    them; within the group they go by id (an urgency ends in -id)."""

    urgency: tuple[int, ...]
    size: int
    where: ColumnElement[bool]


def _page_ids(session: Session, groups: list[_Group], offset: int, limit: int) -> list[int]:
    """The ids of a section's rows ``offset`` to ``offset + limit``, most
    urgent first (``groups`` merged by urgency: see :func:`_ranked`)."""
    ids: list[int] = []
    for group in sorted(groups, key=lambda g: g.urgency, reverse=True):
        if offset >= group.size:
            offset -= group.size
            continue
        if len(ids) >= limit:
            break
        ids += session.scalars(
            select(Task.id).where(group.where).order_by(Task.id)
            .offset(offset).limit(limit - len(ids))
        )
        offset = 0
    return ids


def _merged(parts: Mapping[tuple[int, ...], list[tuple[int, ColumnElement[bool]]]]) -> list[_Group]:
    """One group per urgency of (size, condition) parts."""
    return [
        _Group(urgency, sum(size for size, _ in found), or_(*(where for _, where in found)))
        for urgency, found in parts.items()
    ]


def _ranked(
    session: Session,
    *,
    today: date,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    policy: StatusPolicy | None,
) -> dict[str, list[_Group]] | None:
    """Each urge section's tasks as groups of one urgency, from a few grouped
    queries (no task read into Python), or None where SQL cannot tell the
    lights (the caller assesses every candidate instead).

    As :func:`_problems` decides them: overdue, the open tasks past due,
    grouped by due date (working days overdue); unacknowledged, the assigned
    tasks not past due whose ladder's acknowledgement day has passed, grouped
    by policy and assignment day; missing reports, the open tasks not past
    due, not unacknowledged, that missed a report, grouped by the periods they
    missed and the first one's deadline (``tasks.missed_count`` and
    ``missed_since``, stored with the light: index ix_tasks_missed; worked
    out for a stale light)."""
    rule = light_rule(session, as_of=today, calendar=calendar, zone=zone, policy=policy)
    if rule is None:
        return None
    open_state = Task.state.in_([s.value for s in OPEN_STATES])
    # The state written out, not bound: the partial index ix_tasks_assigned
    # (state = 'assigned') answers these tasks' groups and ids by itself, and
    # SQLite uses a partial index only for a condition it sees in the SQL.
    assigned = and_(
        Task.state == literal(TaskState.ASSIGNED.value, literal_execute=True),
        Task.due >= today,
    )
    assigned_day = rule.local_day(Task.assigned_at)
    overdue: dict[tuple[int, ...], list[tuple[int, ColumnElement[bool]]]] = defaultdict(list)
    unacked: dict[tuple[int, ...], list[tuple[int, ColumnElement[bool]]]] = defaultdict(list)
    policy_ids: list[int | None] = [None, *session.scalars(select(EscalationPolicyRow.id))]
    unacked_days: dict[int | None, list[Any]] = defaultdict(list)
    for policy_id in policy_ids:
        # One policy at a time: the index ix_tasks_desk leads with it.
        of_policy = (
            Task.policy_id.is_(None) if policy_id is None else Task.policy_id == policy_id
        )
        for due, size in session.execute(
            select(Task.due, func.count())
            .where(of_policy, open_state, Task.due < today).group_by(Task.due)
        ):
            late = calendar.maybe_count_workdays(due, today)
            days = (today - due).days if isinstance(late, Unpublished) else late
            overdue[(days,)].append((size, and_(of_policy, open_state, Task.due == due)))
        ack_workdays = _ack_workdays(session, policy_id)
        late_days: dict[tuple[int, ...], list[tuple[int, Any]]] = defaultdict(list)
        for day, size in session.execute(
            select(assigned_day, func.count()).where(of_policy, assigned).group_by(assigned_day)
        ):
            assigned_on = day if isinstance(day, date) else date.fromisoformat(day)
            ack_day = calendar.maybe_add_workdays(assigned_on, ack_workdays)
            if isinstance(ack_day, Unpublished) or today <= ack_day:
                continue
            late_days[(calendar.count_workdays(assigned_on, today),)].append((size, day))
            unacked_days[policy_id].append(day)
        for urgency, found in late_days.items():
            unacked[urgency].append((
                sum(size for size, _ in found),
                and_(of_policy, assigned, assigned_day.in_([day for _, day in found])),
            ))
    unacked_groups = _merged(unacked)
    missing = _missing_groups(
        session, rule, unacked=or_(false(), *(group.where for group in unacked_groups)),
        unacked_days=unacked_days, assigned=assigned,
    )
    if missing is None:
        return None
    return {
        "overdue": _merged(overdue),
        "unacknowledged": unacked_groups,
        "missing_reports": missing,
    }


def _missing_groups(
    session: Session,
    rule: LightRule,
    *,
    unacked: ColumnElement[bool],
    unacked_days: Mapping[int | None, list[Any]],
    assigned: ColumnElement[bool],
) -> list[_Group] | None:
    """The missing-reports section as groups of one urgency (periods missed,
    the first one's deadline): the stored counts grouped from the index
    ix_tasks_missed, the stale tasks' (few once the day's lights are stored)
    worked out by id, less the unacknowledged tasks' (the section before
    it); None when more than :data:`_STALE_MAX` lights are stale."""
    if rule.key is None:
        return []
    fresh = rule.fresh()
    stored = and_(Task.missed_count > 0, fresh)
    sizes: dict[tuple[int, date], int] = defaultdict(int)
    for count, since, size in session.execute(
        select(Task.missed_count, Task.missed_since, func.count())
        .where(stored).group_by(Task.missed_count, Task.missed_since)
    ):
        if count and since is not None:  # always: a count is stored with its deadline
            sizes[(count, since)] += size
    stale_ids = list(session.scalars(select(Task.id).where(rule.stale()).limit(_STALE_MAX + 1)))
    if len(stale_ids) > _STALE_MAX:
        return None
    stale: dict[tuple[int, date], list[int]] = defaultdict(list)
    count_of, since_of = rule.computed_missed()
    for chunk in range(0, len(stale_ids), _ID_CHUNK):
        for task_id, count, since in session.execute(
            select(Task.id, count_of, since_of)
            .where(Task.id.in_(stale_ids[chunk : chunk + _ID_CHUNK]))
        ):
            if count and since is not None:
                stale[(count, since)].append(task_id)
    for key, ids in stale.items():
        sizes[key] += len(ids)
    assigned_day = rule.local_day(Task.assigned_at)
    for policy_id, days in unacked_days.items():
        # The unacknowledged (``unacked_days``: their policy's assignment days)
        # by one range of ix_tasks_desk per policy.
        of_policy = (
            Task.policy_id.is_(None) if policy_id is None else Task.policy_id == policy_id
        )
        wanted = set(days)
        # Freshness as a column, not a condition: a condition on light_key or
        # missed_count would lead SQLite to their indexes' far larger ranges.
        is_fresh = case((fresh, 1), else_=0)
        for day, stored_here, count, since, size in session.execute(
            select(assigned_day, is_fresh, Task.missed_count, Task.missed_since, func.count())
            .where(of_policy, assigned)
            .group_by(assigned_day, is_fresh, Task.missed_count, Task.missed_since)
        ):
            if day in wanted and stored_here and count and since is not None:
                sizes[(count, since)] -= size
    stale_unacked = set(session.scalars(
        select(Task.id).where(unacked, Task.id.in_([i for ids in stale.values() for i in ids]))
    )) if stale else set()
    groups: dict[tuple[int, ...], list[tuple[int, ColumnElement[bool]]]] = defaultdict(list)
    for (count, since), size in sizes.items():
        size -= sum(1 for i in stale.get((count, since), []) if i in stale_unacked)
        if size <= 0:
            continue
        where = and_(
            or_(
                and_(Task.missed_count == count, Task.missed_since == since, fresh),
                Task.id.in_(stale[(count, since)]) if (count, since) in stale else false(),
            ),
            ~unacked,
        )
        groups[(count, -since.toordinal())].append((size, where))
    return _merged(groups)


def _ack_workdays(session: Session, policy_id: int | None) -> int:
    """Working days from assignment to the ladder's acknowledgement reminder."""
    return next(
        (
            s.workdays
            for s in policy_for(session, policy_id).steps
            if s.anchor is Anchor.UNACKNOWLEDGED
        ),
        DEFAULT_ACK_WORKDAYS,
    )


def _fill_rows(
    queue: WorkQueue,
    picked: Mapping[str, list[int]],
    session_factory: sessionmaker[Session],
    *,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    policy: StatusPolicy | None,
) -> None:
    """The rows of the tasks ``picked`` per section, in that order, assessed
    as :func:`_whole_queue` does."""
    ids = [i for name in URGE_SECTIONS for i in picked.get(name, [])]
    views = {
        v.id: v
        for v in task_views(session_factory, ids, as_of=queue.as_of, calendar=calendar,
                            policy=policy, zone=zone)
    }
    facts = _task_facts(session_factory, ids, today=queue.as_of, zone=zone)
    for name in URGE_SECTIONS:
        for task_id in picked.get(name, []):
            view, fact = views[task_id], facts[task_id]
            problems = _problems(view, fact, calendar=calendar, today=queue.as_of)
            _section, why, urgency = problems[0]
            getattr(queue, name).append(
                _queue_task(view, why, [p[1] for p in problems[1:]], urgency, fact)
            )


def _candidates(
    session: Session,
    *,
    today: date,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    policy: StatusPolicy | None,
) -> list[ColumnElement[bool]]:
    """Conditions on Task picking every task that can have a problem on
    ``today`` (:func:`_problems`), and few others: open, and past due
    (overdue), or not yet acknowledged, or yellow (missing reports make an
    open task not past due yellow; assess leaves an overdue task's
    missing_reports empty). Where SQL cannot tell the light, all open tasks."""
    conditions: list[ColumnElement[bool]] = [
        Task.due < today,
        Task.state == TaskState.ASSIGNED.value,
    ]
    rule = light_rule(session, as_of=today, calendar=calendar, zone=zone, policy=policy)
    if rule is None:
        return [Task.state.in_([s.value for s in OPEN_STATES])]
    conditions.append(rule.matches(Light.YELLOW))
    return [Task.state.in_([s.value for s in OPEN_STATES]), or_(*conditions)]


def _problems(
    view: TaskView, fact: _Facts, *, calendar: WorkCalendar, today: date
) -> list[tuple[str, str, tuple[int, ...]]]:
    """What is wrong with an open task, most pressing first: (section, why in
    words, urgency within the section)."""
    overdue = view.status is TaskStatus.OVERDUE
    ack_day = calendar.maybe_add_workdays(fact.assigned_on, fact.ack_workdays)
    # A day in a year not yet published (待日历公布) has not come yet.
    unacked = (
        view.state is TaskState.ASSIGNED
        and not isinstance(ack_day, Unpublished)
        and today > ack_day
    )
    missing = view.missing_reports
    problems: list[tuple[str, str, tuple[int, ...]]] = []
    if overdue:
        late = calendar.maybe_count_workdays(view.due, today)
        if isinstance(late, Unpublished):
            days, words = (today - view.due).days, f"逾期(工作日数{late})"
        else:
            days, words = late, f"逾期 {late} 个工作日"
        problems.append(("overdue", words, (days, -view.id)))
    if unacked:
        days = calendar.count_workdays(fact.assigned_on, today)
        problems.append(("unacknowledged", f"交办 {days} 个工作日未签收", (days, -view.id)))
    if missing:
        first = missing[0].known_deadline
        assert first is not None  # a report is missing only once its deadline passed
        words = f"缺报 {len(missing)} 期进度(最早应于 {first.isoformat()} 前报送)"
        problems.append(
            ("missing_reports", words, (len(missing), -first.toordinal(), -view.id))
        )
    return problems


def _queue_task(
    view: TaskView, why: str, also: list[str], urgency: tuple[int, ...], fact: _Facts
) -> QueueTask:
    last = fact.rungs[-1] if fact.rungs else None
    return QueueTask(
        task_id=view.id,
        measure=view.measure,
        measure_title=view.measure_title,
        department=view.department,
        role_label=view.role_label,
        due=view.due,
        state=view.state,
        state_label=view.state_label,
        light=view.light,
        light_label=view.light_label,
        why=why,
        also=also,
        urgency=urgency,
        last_rung=f"{LEVEL_LABELS.get(last[0], '督办')}({last[1].isoformat()})" if last else None,
        urged_today=fact.urged_today,
    )


def _task_facts(
    session_factory: sessionmaker[Session], task_ids: list[int], *, today: date, zone: ZoneInfo
) -> dict[int, _Facts]:
    """Assignment day, the ladder's acknowledgement step and the 催办/督办 so
    far of each task, in a fixed number of queries."""
    if not task_ids:
        return {}
    manual_today = StepKey.manual(today).format()
    rungs: dict[int, list[tuple[int, date]]] = defaultdict(list)
    urged: set[int] = set()
    with session_factory() as session:
        rows = session.execute(
            select(Task.id, Task.assigned_at, Task.policy_id).where(Task.id.in_(task_ids))
        ).all()
        for task_id, step, level, due_at in session.execute(
            select(Notice.task_id, Notice.step, Notice.level, Notice.due_at)
            .where(
                Notice.task_id.in_(task_ids),
                Notice.level >= 1,
                Notice.status != NoticeStatus.SUPERSEDED,
            )
            .order_by(Notice.due_at, Notice.id)
        ):
            rungs[task_id].append((level, local_date(due_at, zone)))
            if step == manual_today:
                urged.add(task_id)
        ack_steps = {
            policy_id: _ack_workdays(session, policy_id)
            for policy_id in {row.policy_id for row in rows}
        }
    return {
        row.id: _Facts(
            assigned_on=local_date(row.assigned_at, zone),
            ack_workdays=ack_steps[row.policy_id],
            rungs=rungs[row.id],
            urged_today=row.id in urged,
        )
        for row in rows
    }


__all__ = [
    "SECTION_LABELS",
    "URGE_SECTIONS",
    "QueueTask",
    "WorkQueue",
    "work_queue",
]
