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
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
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
)
from duban.services.ladder.core import policy_for
from duban.services.tasks.facts import local_date
from duban.services.tasks.light_sql import light_rule
from duban.services.tasks.queries import list_tasks
from duban.services.tasks.views import TaskView
from models import Notice, Task

URGE_SECTIONS = ("overdue", "unacknowledged", "missing_reports")
SECTION_LABELS = {
    "overdue": "已逾期",
    "unacknowledged": "未签收",
    "missing_reports": "缺报进度",
    "submissions": "待审核报结",
    "extensions": "待批延期",
    "failed": "送达受阻",
}
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

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in SECTION_LABELS}

    @property
    def urgeable(self) -> int:
        return sum(len(getattr(self, name)) for name in URGE_SECTIONS)


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
) -> WorkQueue:
    """Everything waiting for a coordinator as of ``now`` (see the module doc).

    Raises CalendarError when a date involved lies outside the calendar."""
    today = local_date(now, zone)
    views = list_tasks(
        session_factory, as_of=today, calendar=calendar, policy=policy, zone=zone,
        where=lambda session: _candidates(
            session, today=today, calendar=calendar, zone=zone, policy=policy
        ),
    )
    open_views = [v for v in views if v.state in OPEN_STATES]
    facts = _task_facts(session_factory, [v.id for v in open_views], today=today, zone=zone)
    queue = WorkQueue(as_of=today)
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
    review = review_queue(session_factory)
    queue.submissions = sorted(
        review.submissions, key=lambda s: (s.submitted_at or now, s.task_id)
    )
    queue.extensions = sorted(review.extensions, key=lambda x: (x.current_due, x.id))
    with session_factory() as session:
        queue.failed = blocked_deliveries(
            session, now=now, calendar=calendar, zone=zone, after_workdays=blocked_after_workdays
        )
    return queue


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
            policy_id: next(
                (
                    s.workdays
                    for s in policy_for(session, policy_id).steps
                    if s.anchor is Anchor.UNACKNOWLEDGED
                ),
                DEFAULT_ACK_WORKDAYS,
            )
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
