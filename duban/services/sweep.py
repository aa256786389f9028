"""The sweep: move every task whose next action time has come along its ladder.

Cost follows the work that is due: only tasks with ``next_action_at <= now``
are read (an indexed column). Each is claimed with a compare-and-set on that
column (``UPDATE … WHERE next_action_at = :seen``, a lease), so two sweeps at
once never evaluate the same task; the step's notice is inserted with
``ON CONFLICT DO NOTHING`` on (task, step), so a step happens at most once even
if a lease expired mid-way. Finally the task's next action time is set to the
next day a step may fall due (its office morning), unless a lifecycle action
reset it meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.db import insert_for
from duban.domain.escalation import DEFAULT_POLICY, EscalationPolicy, TaskTimeline, evaluate
from duban.domain.lifecycle import Action, TaskState
from duban.domain.workdays import WorkCalendar
from models import DeliveryItem, EscalationPolicyRow, Notice, Task, TaskEvent

LOG = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)
DEFAULT_OFFICE_START = time(9, 0)


@dataclass
class SweepReport:
    evaluated: int = 0
    claimed_elsewhere: int = 0
    notices: int = 0
    superseded: int = 0
    measures: set[int] = field(default_factory=set)
    errors: list[int] = field(default_factory=list)

    def add(self, other: SweepReport) -> None:
        self.evaluated += other.evaluated
        self.claimed_elsewhere += other.claimed_elsewhere
        self.notices += other.notices
        self.superseded += other.superseded
        self.measures |= other.measures
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class SweepClock:
    """Where "today" and "office morning" are: a time zone and office start."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    office_start: time = DEFAULT_OFFICE_START

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def morning(self, day: date) -> datetime:
        """The office start of ``day``, as an aware datetime."""
        return datetime.combine(day, self.office_start, tzinfo=self.zone)


def due_tasks(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    measure_ids: Iterable[int] | None = None,
    limit: int | None = None,
) -> list[int]:
    """Ids of tasks due by ``now``, oldest first (read from the index alone)."""
    query = select(Task.id).where(Task.next_action_at <= now)
    if measure_ids is not None:
        query = query.where(Task.measure_id.in_(list(measure_ids)))
    query = query.order_by(Task.next_action_at, Task.id)
    if limit is not None:
        query = query.limit(limit)
    with session_factory() as session:
        return list(session.scalars(query))


def measures_with_due_work(session_factory: sessionmaker[Session], *, now: datetime) -> list[int]:
    """Ids of measures that have at least one task due (for one flow per measure).

    Deduplicated here rather than with DISTINCT, which makes SQLite scan the
    table instead of the due range of the ``next_action_at`` index."""
    with session_factory() as session:
        ids = session.scalars(select(Task.measure_id).where(Task.next_action_at <= now))
        return sorted(set(ids))


def advance(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    calendar: WorkCalendar,
    clock: SweepClock | None = None,
    measure_ids: Iterable[int] | None = None,
    limit: int | None = None,
) -> SweepReport:
    """Evaluate every due task (of the given measures) once; see the module doc.

    Tasks are claimed and evaluated ``BATCH`` at a time (one claim statement and
    one transaction per batch). If a task cannot be evaluated, its batch is
    redone one task per transaction, so only that task is left for later."""
    clock = clock or SweepClock()
    report = SweepReport()
    ids = due_tasks(session_factory, now=now, measure_ids=measure_ids, limit=limit)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        lease = now + LEASE
        claimed = _claim(session_factory, chunk, now, lease)
        report.claimed_elsewhere += len(chunk) - len(claimed)
        batch = SweepReport()
        try:
            with session_factory.begin() as session:
                for task_id in claimed:
                    batch.add(
                        _advance_one(
                            session, task_id, lease, now=now, calendar=calendar, clock=clock
                        )
                    )
        except Exception:  # one broken task must not stop everyone else's reminders
            batch = _advance_singly(
                session_factory, claimed, lease, now=now, calendar=calendar, clock=clock
            )
        report.add(batch)
    return report


BATCH = 200


def _advance_singly(
    session_factory: sessionmaker[Session],
    task_ids: list[int],
    lease: datetime,
    *,
    now: datetime,
    calendar: WorkCalendar,
    clock: SweepClock,
) -> SweepReport:
    report = SweepReport()
    for task_id in task_ids:
        try:
            with session_factory.begin() as session:
                one = _advance_one(session, task_id, lease, now=now, calendar=calendar, clock=clock)
        except Exception:
            LOG.exception("sweep: task %s could not be evaluated; retried after its lease", task_id)
            report.errors.append(task_id)
            continue
        report.add(one)
    return report


def _claim(
    session_factory: sessionmaker[Session], task_ids: list[int], now: datetime, lease: datetime
) -> list[int]:
    """Take due tasks for ``LEASE``; returns those this sweep got, in order.

    Only one sweep gets each task: a claimed task's next action time is in the
    future, so the condition fails for every other sweep."""
    with session_factory.begin() as session:
        got = set(
            session.scalars(
                update(Task)
                .where(Task.id.in_(task_ids), Task.next_action_at <= now)
                .values(next_action_at=lease)
                .returning(Task.id)
                .execution_options(synchronize_session=False)
            )
        )
    return [task_id for task_id in task_ids if task_id in got]


_PARSED: dict[str, EscalationPolicy] = {}


def policy_for(session: Session, policy_id: int | None) -> EscalationPolicy:
    """The stored policy version ``policy_id`` (the default ladder when None).

    Parsed policies are cached by content fingerprint, which is safe across
    databases and never stale (a version's data never changes)."""
    if policy_id is None:
        return DEFAULT_POLICY
    row = session.get(EscalationPolicyRow, policy_id)
    if row is None:
        return DEFAULT_POLICY
    cached = _PARSED.get(row.fingerprint)
    if cached is None:
        cached = _PARSED[row.fingerprint] = EscalationPolicy.from_data(row.data)
    return cached


def timeline_of(session: Session, task: Task, zone: ZoneInfo) -> TaskTimeline:
    """The facts the ladder needs, from the task and its events."""
    reports = session.scalars(
        select(TaskEvent.at).where(
            TaskEvent.task_id == task.id, TaskEvent.action == Action.REPORT.value
        )
    ).all()
    return TaskTimeline(
        state=TaskState(task.state),
        assigned_on=task.assigned_at.astimezone(zone).date(),
        due=task.due,
        acknowledged_on=(
            task.acknowledged_at.astimezone(zone).date() if task.acknowledged_at else None
        ),
        report_dates=tuple(sorted(at.astimezone(zone).date() for at in reports)),
    )


def _insert_notice(session: Session, **values: object) -> bool:
    inserted = session.execute(
        insert_for(session, Notice)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["task_id", "step"])
        .returning(Notice.id)
    ).scalar_one_or_none()
    return inserted is not None


def _advance_one(
    session: Session,
    task_id: int,
    lease: datetime,
    *,
    now: datetime,
    calendar: WorkCalendar,
    clock: SweepClock,
) -> SweepReport:
    """Evaluate one claimed task inside the caller's transaction."""
    report = SweepReport(evaluated=1)
    task = session.get(Task, task_id)
    if task is None:  # pragma: no cover - deleted meanwhile
        return report
    report.measures.add(task.measure_id)
    done = frozenset(session.scalars(select(Notice.step).where(Notice.task_id == task_id)))
    policy = policy_for(session, task.policy_id)
    evaluation = evaluate(
        timeline_of(session, task, clock.zone),
        policy,
        calendar,
        today=clock.today(now),
        done=done,
    )
    for occ in evaluation.due:
        if _insert_notice(
            session,
            task_id=task_id,
            step=occ.key,
            status="pending",
            level=occ.step.level,
            due_at=max(now, clock.morning(occ.on)),
            created_at=now,
            reason=None,
        ):
            report.notices += 1
    for occ, why in evaluation.superseded:
        if _insert_notice(
            session,
            task_id=task_id,
            step=occ.key,
            status="superseded",
            level=occ.step.level,
            due_at=clock.morning(occ.on),
            created_at=now,
            reason=why,
        ):
            report.superseded += 1
    if TaskState(task.state) in (TaskState.SUBMITTED, TaskState.APPROVED):
        report.superseded += _supersede_unrouted(session, task_id, "任务已报结或办结")
    next_at = clock.morning(evaluation.next_on) if evaluation.next_on else None
    session.execute(
        update(Task)
        .where(Task.id == task_id, Task.next_action_at == lease)
        .values(next_action_at=next_at)
        .execution_options(synchronize_session=False)
    )
    return report


def _supersede_unrouted(session: Session, task_id: int, reason: str) -> int:
    """Pending notices of a finished task not yet handed to a delivery are dropped."""
    result = session.execute(
        update(Notice)
        .where(
            and_(
                Notice.task_id == task_id,
                Notice.status == "pending",
                ~exists().where(DeliveryItem.notice_id == Notice.id),
            )
        )
        .values(status="superseded", reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
