"""The sweep: move every task whose next action time has come along its ladder.

Cost follows the work that is due: only tasks with ``next_action_at <= now``
are read (an indexed column). A batch of them is claimed and evaluated in one
transaction (on PostgreSQL the claim picks rows ``FOR UPDATE SKIP LOCKED``),
so two sweeps at once never evaluate the same task, and a sweep that dies
mid-batch leaves nothing claimed behind. The batch is evaluated in memory and
written in bulk (:mod:`duban.services.ladder.batch`): its notices with one
multi-row ``INSERT … ON CONFLICT DO NOTHING`` on (task, step), so a step
happens at most once whatever happens, and each task's next action time — the
next day a step may fall due (its office morning), unless a lifecycle action
reset it meanwhile — with one executemany UPDATE.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.workdays import WorkCalendar
from duban.services.ladder.batch import SweepReport as SweepReport
from duban.services.ladder.batch import advance_batch
from duban.services.ladder.core import LEASE, OrgClock
from models import Task

LOG = logging.getLogger(__name__)


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


def measures_with_due_work(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    measure_ids: Iterable[int] | None = None,
) -> list[int]:
    """Ids of measures (of ``measure_ids``, if given) that have at least one
    task due (for one flow per measure).

    Deduplicated here rather than with DISTINCT, which makes SQLite scan the
    table instead of the due range of the ``next_action_at`` index."""
    query = select(Task.measure_id).where(Task.next_action_at <= now)
    if measure_ids is not None:
        query = query.where(Task.measure_id.in_(list(measure_ids)))
    with session_factory() as session:
        return sorted(set(session.scalars(query)))


def advance(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    calendar: WorkCalendar,
    clock: OrgClock | None = None,
    measure_ids: Iterable[int] | None = None,
    limit: int | None = None,
    on_claimed: Callable[[list[int]], None] | None = None,
) -> SweepReport:
    """Evaluate every due task (of the given measures) once; see the module doc.

    Tasks are claimed and evaluated ``BATCH`` at a time, each batch in one
    transaction: the claim holds its rows until the batch commits, so sweeps
    running at once take disjoint batches, and a batch whose process or
    database connection dies is rolled back and due again at once (a retry of
    the same round takes it; nothing waits for a lease). A lost connection is
    raised to the caller, who retries the round. If a task cannot be
    evaluated, its batch is redone one task per transaction; a task that
    fails alone is leased for ``LEASE`` and left for a later round.
    ``on_claimed(ids)`` runs after each claim (fault-injection tests)."""
    clock = clock or OrgClock()
    wanted = None if measure_ids is None else list(measure_ids)
    report = SweepReport()
    broken: list[int] = []
    remaining = limit
    while remaining is None or remaining > 0:
        size = BATCH if remaining is None else min(BATCH, remaining)
        lease = now + LEASE
        claimed: list[int] = []
        with session_factory() as session:
            try:
                claimed = _claim(
                    session, now=now, lease=lease, measure_ids=wanted, skip=broken, size=size
                )
                if not claimed:
                    session.rollback()
                    break
                if on_claimed is not None:
                    on_claimed(claimed)
                batch = advance_batch(
                    session, claimed, lease, now=now, calendar=calendar, clock=clock
                )
                session.commit()
            except Exception as err:  # one broken task must not stop everyone else's reminders
                session.rollback()
                if _connection_lost(err):
                    raise
                batch = _advance_singly(
                    session_factory, claimed, lease, now=now, calendar=calendar, clock=clock
                )
        broken.extend(batch.errors)
        report.add(batch)
        if remaining is not None:
            remaining -= len(claimed)
    return report


BATCH = 200


def _connection_lost(err: Exception) -> bool:
    """The database went away (restart, network): retry the round later."""
    if not isinstance(err, DBAPIError):
        return False
    return bool(err.connection_invalidated) or isinstance(err, OperationalError | InterfaceError)


def _advance_singly(
    session_factory: sessionmaker[Session],
    task_ids: list[int],
    lease: datetime,
    *,
    now: datetime,
    calendar: WorkCalendar,
    clock: OrgClock,
) -> SweepReport:
    report = SweepReport()
    for task_id in task_ids:
        try:
            with session_factory.begin() as session:
                if not _claim(session, now=now, lease=lease, ids=[task_id], size=1):
                    continue  # taken by another sweep meanwhile
                one = advance_batch(
                    session, [task_id], lease, now=now, calendar=calendar, clock=clock
                )
        except Exception as err:
            if _connection_lost(err):
                raise
            one = _set_aside(session_factory, task_id, now=now, lease=lease)
        report.add(one)
    return report


def _set_aside(
    session_factory: sessionmaker[Session], task_id: int, *, now: datetime, lease: datetime
) -> SweepReport:
    """Lease a task that cannot be evaluated, so this round goes on without it."""
    LOG.exception("sweep: task %s could not be evaluated; retried after its lease", task_id)
    with session_factory.begin() as session:
        session.execute(
            update(Task)
            .where(Task.id == task_id, Task.next_action_at <= now)
            .values(next_action_at=lease)
            .execution_options(synchronize_session=False)
        )
    return SweepReport(errors=[task_id])


def _claim(
    session: Session,
    *,
    now: datetime,
    lease: datetime,
    size: int,
    measure_ids: list[int] | None = None,
    skip: list[int] | None = None,
    ids: list[int] | None = None,
) -> list[int]:
    """Take up to ``size`` due tasks (oldest first) in the caller's transaction;
    returns their ids.

    One UPDATE whose rows come from ``SELECT … FOR UPDATE SKIP LOCKED`` on
    PostgreSQL: a sweep skips the rows another sweep's open batch holds instead
    of waiting for them, and after that batch commits they are no longer due.
    SQLite has no row locks; its writers take turns. The next action time is
    set to the lease, which the evaluation's final update checks."""
    pick = select(Task.id).where(Task.next_action_at <= now)
    if measure_ids is not None:
        pick = pick.where(Task.measure_id.in_(measure_ids))
    if ids is not None:
        pick = pick.where(Task.id.in_(ids))
    if skip:
        pick = pick.where(Task.id.not_in(skip))
    pick = pick.order_by(Task.next_action_at, Task.id).limit(size).with_for_update(skip_locked=True)
    got = session.scalars(
        update(Task)
        .where(Task.id.in_(pick.scalar_subquery()), Task.next_action_at <= now)
        .values(next_action_at=lease)
        .returning(Task.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(got)


def release_waiting(
    session_factory: sessionmaker[Session], *, now: datetime, calendar: WorkCalendar
) -> int:
    """Make every task whose ladder waits for a year the calendar now covers
    due at ``now`` (its steps of that year can be dated now); returns how many.

    Run at the start of a round. Cheap when nothing changed: an indexed
    UPDATE that matches no row."""
    years = list(calendar.years)
    if not years:
        return 0
    with session_factory.begin() as session:
        result = session.execute(
            update(Task)
            .where(
                Task.calendar_wait_year.in_(years),
                or_(Task.next_action_at.is_(None), Task.next_action_at > now),
            )
            .values(next_action_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
