"""One claimed batch of the sweep, evaluated in memory and written in bulk.

The ladder is pure (:func:`duban.domain.escalation.evaluate`), so a batch
costs a few reads (its tasks, their notices and report events, each policy
version once per session), one multi-row ``INSERT … ON CONFLICT DO NOTHING``
of the notices (a step happens at most once per task, whatever happens) and
one executemany ``UPDATE`` of the next action times by primary key. The claim,
the fallback one task at a time and the set-aside are the sweep's
(:mod:`duban.services.ladder.sweep`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from duban.db import insert_for
from duban.domain.escalation import EscalationPolicy, Occurrence, TaskTimeline, evaluate
from duban.domain.lifecycle import TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.workdays import WorkCalendar
from duban.services.ladder.core import OrgClock, policy_for, timelines_of
from models import DeliveryItem, Notice, Task


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
class _Outcome:
    """What one task's evaluation writes: notice rows and its next action."""

    task_id: int
    notices: list[dict[str, object]]
    finished: bool
    next_at: datetime | None
    waits_for: int | None


def _evaluate(
    task: Task,
    timeline: TaskTimeline,
    policy: EscalationPolicy,
    done: frozenset[str],
    *,
    now: datetime,
    calendar: WorkCalendar,
    clock: OrgClock,
) -> _Outcome:
    """The ladder of one task, in memory (no database)."""
    evaluation = evaluate(timeline, policy, calendar, today=clock.today(now), done=done)
    rows: list[dict[str, object]] = []
    for occ in evaluation.due:
        rows.append(
            _notice_row(
                task.id, occ, NoticeStatus.PENDING, max(now, clock.morning(occ.on)), now, None
            )
        )
    for occ, why in evaluation.superseded:
        rows.append(
            _notice_row(task.id, occ, NoticeStatus.SUPERSEDED, clock.morning(occ.on), now, why)
        )
    return _Outcome(
        task_id=task.id,
        notices=rows,
        finished=TaskState(task.state) in (TaskState.SUBMITTED, TaskState.APPROVED),
        next_at=clock.morning(evaluation.next_on) if evaluation.next_on else None,
        waits_for=evaluation.waits_for,
    )


def _notice_row(
    task_id: int,
    occ: Occurrence,
    status: NoticeStatus,
    due_at: datetime,
    now: datetime,
    reason: str | None,
) -> dict[str, object]:
    return {
        "task_id": task_id,
        "step": occ.key,
        "status": status.value,
        "level": occ.step.level,
        "due_at": due_at,
        "created_at": now,
        "reason": reason,
    }


def advance_batch(
    session: Session,
    task_ids: list[int],
    lease: datetime,
    *,
    now: datetime,
    calendar: WorkCalendar,
    clock: OrgClock,
) -> SweepReport:
    """Evaluate claimed tasks inside the caller's transaction: a few reads for
    the whole batch (tasks, their notices, their report events, each policy
    version once), the ladders in memory, then one multi-row INSERT of the
    notices and one executemany UPDATE of the next actions."""
    tasks = list(session.scalars(select(Task).where(Task.id.in_(task_ids)).order_by(Task.id)))
    done: dict[int, set[str]] = defaultdict(set)
    for task_id, step in session.execute(
        select(Notice.task_id, Notice.step).where(Notice.task_id.in_(task_ids))
    ):
        done[task_id].add(step)
    timelines = timelines_of(session, tasks, clock.zone)
    outcomes = [
        _evaluate(
            task,
            timelines[task.id],
            policy_for(session, task.policy_id),
            frozenset(done[task.id]),
            now=now,
            calendar=calendar,
            clock=clock,
        )
        for task in tasks
    ]
    report = SweepReport(evaluated=len(tasks), measures={task.measure_id for task in tasks})
    for status in _insert_notices(session, [row for o in outcomes for row in o.notices]):
        if status == NoticeStatus.PENDING:
            report.notices += 1
        else:
            report.superseded += 1
    finished = [o.task_id for o in outcomes if o.finished]
    if finished:
        report.superseded += _supersede_unrouted(session, finished, "任务已报结或办结")
    _set_next_actions(session, outcomes, lease)
    return report


NOTICE_CHUNK = 500  # rows per INSERT: well below SQLite's and PostgreSQL's bind limits


def _insert_notices(session: Session, rows: list[dict[str, object]]) -> list[str]:
    """Insert notice rows, skipping steps already recorded (a step happens at
    most once per task); returns the status of each row inserted."""
    statuses: list[str] = []
    for start in range(0, len(rows), NOTICE_CHUNK):
        statuses.extend(
            session.scalars(
                insert_for(session, Notice)
                .values(rows[start : start + NOTICE_CHUNK])
                .on_conflict_do_nothing(index_elements=["task_id", "step"])
                .returning(Notice.status)
            )
        )
    return statuses


_TASKS = cast(Table, Task.__table__)
_SET_NEXT_ACTION = (
    update(_TASKS)
    # Unless a lifecycle action reset it meanwhile (then it no longer holds the lease).
    .where(_TASKS.c.id == bindparam("b_id"), _TASKS.c.next_action_at == bindparam("b_lease"))
    .values(next_action_at=bindparam("b_next"), calendar_wait_year=bindparam("b_wait"))
)


def _set_next_actions(session: Session, outcomes: list[_Outcome], lease: datetime) -> None:
    """Each task's next action time, in one executemany UPDATE by primary key."""
    if outcomes:
        session.execute(
            _SET_NEXT_ACTION,
            [
                {"b_id": o.task_id, "b_lease": lease, "b_next": o.next_at, "b_wait": o.waits_for}
                for o in outcomes
            ],
        )


def _supersede_unrouted(session: Session, task_ids: list[int], reason: str) -> int:
    """Pending notices of finished tasks not yet handed to a delivery are dropped.

    The pending notices are locked first (a router holds its notice's lock
    until its items are committed); the items are then read by a statement of
    their own, which on PostgreSQL sees what that router committed meanwhile."""
    pending = list(
        session.scalars(
            select(Notice.id)
            .where(Notice.task_id.in_(task_ids), Notice.status == NoticeStatus.PENDING)
            .order_by(Notice.id)  # as routers lock them: no cycle
            .with_for_update()
        )
    )
    if not pending:
        return 0
    routed = set(
        session.scalars(select(DeliveryItem.notice_id).where(DeliveryItem.notice_id.in_(pending)))
    )
    unrouted = [notice_id for notice_id in pending if notice_id not in routed]
    if not unrouted:
        return 0
    result = session.execute(
        update(Notice)
        .where(Notice.id.in_(unrouted), Notice.status == NoticeStatus.PENDING)
        .values(status=NoticeStatus.SUPERSEDED, reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
