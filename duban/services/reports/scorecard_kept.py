"""The scorecard page's counts from each task's share kept for the day.

The page (all plans, every period up to ``as_of``) counts what
:func:`~duban.services.reports.scorecard_sql.department_tallies` counts, but
from ``task_scores``: one row per task holding its *cell*, the task's share of
its department's tally (its tasks, chart and scorecard counts, its report
verdicts and escalations, and its due date and day done when late), for the
day and rule ``score_key`` names. The page reads the fresh rows grouped by
department and cell from the index ``(score_key, department_id, cell)``
alone (a few hundred groups at 100k tasks) and adds the stale tasks' cells,
worked out from their rows by the same SQL rules restricted to them; the sum
is the grouped SQL's tally exactly, stored or not.

A row is stale when its key is not the day's rule's: a new day, calendar,
policy, zone, roles or first assignment is a new key, and the database's
triggers (migration 0022) set the key to NULL when what the cell reads
changes, whoever writes. :func:`refresh_scores` stores the stale rows'
cells (a page finding stale rows calls it without waiting for a writer's
lock); a row is only ever stored from the task's rows as they were in the
same transaction (SQLite: under the write lock; PostgreSQL: repeatable read,
so a row changed meanwhile fails the chunk instead of being stored stale).
``tests/reports/test_scorecard_kept.py`` holds the kept cells to the computed
ones through random writes on both databases.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, tzinfo

from sqlalchemy import ColumnElement, Connection, Engine, func, or_, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import TaskState
from duban.domain.scorecard import LEVELS, Period, ScoreCounts, report_windows
from duban.domain.status import StatusPolicy
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.reports.scorecard_sql import (
    DepartmentTally,
    _Rules,
    department_tallies,
    local_day_of,
)
from duban.services.tasks.light_sql import local_day_function
from models import Department, Task, TaskEvent, TaskScore

LOG = logging.getLogger(__name__)
# Changes with the cell's layout or rules, so no cell of an older rule is read.
RULE_VERSION = "1"
# Stale tasks whose cells are worked out and stored per transaction (the write
# lock held ~0.2-0.5 s at 10,000 on an idle machine).
CHUNK = 10_000
# A page finding more stale cells than this (none stored: another writer held
# the database) counts in grouped SQL instead of working each one out.
GROUPED_ABOVE = 5_000

CANCELLED = TaskState.CANCELLED.value
APPROVED = TaskState.APPROVED.value
SUBMITTED = TaskState.SUBMITTED.value
OPEN = frozenset(s.value for s in (TaskState.ASSIGNED, TaskState.ACKNOWLEDGED,
                                   TaskState.IN_PROGRESS, TaskState.RETURNED))
TALLY_FIELDS = ("tasks", "active", "approved", "submitted", "overdue")
COUNT_FIELDS = ("tasks_due", "on_time", "after_extension", "awaiting_review", "late", "overdue",
                "open", "reports_on_time", "reports_late", "reports_missing")


@dataclass(frozen=True)
class KeptRule:
    """The page's counting rules for one day (``rules``) and the key a cell
    counted by them is stored under."""

    rules: _Rules
    key: str


def kept_rule(
    session: Session,
    *,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
    policy: StatusPolicy | None = None,
    task_roles: Iterable[str] = ("lead",),
) -> KeptRule | None:
    """The rule of the page's scorecard on ``as_of`` (every plan, every period
    up to that day), or None when SQL cannot tell local days here (or there
    is no task). Raises CalendarError when a date lies outside the calendar."""
    policy = policy or StatusPolicy()
    first = session.scalar(select(func.min(Task.assigned_at)))
    if first is None:
        return None
    local_day = local_day_function(session, zone, first, as_of)
    if local_day is None:
        return None
    windows = report_windows(
        local_day_of(first, zone), Period(), as_of=as_of, calendar=calendar, policy=policy
    )
    roles = tuple(task_roles)
    rules = _Rules(as_of=as_of, first_day=None, last_day=as_of, zone=zone,
                   local_day=local_day, roles=roles, windows=windows)
    parts = (
        RULE_VERSION, session.get_bind().dialect.name, str(zone), first.isoformat(), roles,
        [(str(w.period_end), str(w.previous_end), str(w.deadline), str(w.late_until))
         for w in windows],
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    return KeptRule(rules, f"{as_of.isoformat()}:{digest}")


def _stale_ids(connection: Connection, key: str) -> list[int]:
    """The ids of the tasks whose row is stale for ``key``, in order (read
    from the key index's ranges: SQLite would scan the table to order them)."""
    return sorted(connection.scalars(select(TaskScore.task_id).where(_stale(key))))


def _stale(key: str) -> ColumnElement[bool]:
    """Rows not stored by the rule of ``key`` (as ranges of the key index)."""
    return or_(TaskScore.score_key.is_(None), TaskScore.score_key < key,
               TaskScore.score_key > key)


def task_cells(
    session: Session, rule: KeptRule, task_filter: ColumnElement[bool],
    event_filter: ColumnElement[bool],
) -> dict[int, tuple[int, str]]:
    """(department id, cell) of each task ``task_filter`` picks (a condition
    on Task; ``event_filter`` the same on TaskEvent.task_id, or wider), counted
    by the rule's SQL, each task alone: what :meth:`_Rules.add_tasks` and
    :meth:`_Rules.add_reports` add for it, as plain numbers (this runs for
    every task once a day)."""
    rules = _Rules(**{**rule.rules.__dict__, "task_filter": task_filter,
                      "event_filter": event_filter})
    windows = len(rules.windows)
    # Windows whose deadline has passed: their owed reports are late or missing.
    passed = [n for n, w in enumerate(rules.windows) if w.deadline < rules.as_of]
    vectors: dict[int, list[int]] = {}
    departments: dict[int, int] = {}
    owed_at = [8 + n for n in passed]
    for row in session.execute(rules.task_query([])):
        department_id, state, _one, past, counted, counted_past, late, extended = row[:8]
        task_id = row[-1]
        departments[task_id] = department_id
        # tasks, active, approved, submitted, overdue | tasks_due, on_time,
        # after_extension, awaiting_review, late, overdue, open, reports on
        # time, late, missing | escalations 1-3
        v = vectors[task_id] = [1] + [0] * (len(TALLY_FIELDS) + len(COUNT_FIELDS) + 2)
        if state == CANCELLED:
            continue
        v[1] = 1
        v[5] = counted
        if state == APPROVED:
            v[2] = 1
            v[9] = late
            v[7] = extended
            v[6] = counted - late - extended
        elif state == SUBMITTED:
            v[3] = 1
            v[8] = counted
        elif state in OPEN:
            v[4] = past
            v[10] = counted_past
            v[11] = counted - counted_past
        v[14] = sum(map(row.__getitem__, owed_at))
    if windows:
        on_at = [1 + 2 * n for n in range(windows)]
        passed_at = [(1 + 2 * n, 2 + 2 * n) for n in passed]
        for row in session.execute(rules.report_query([])):
            v = vectors[row[-1]]
            v[12] += sum(map(row.__getitem__, on_at))
            for on_index, any_index in passed_at:
                answered = row[any_index]
                v[13] += answered - row[on_index]
                v[14] -= answered
    for row in session.execute(rules.escalation_query([])):
        vectors[row[-1]][15 + LEVELS.index(row[1])] = row[2]
    late_pairs = {row[-1]: (row[1], row[2])
                  for row in session.execute(rules.late_query([]))}
    cells = {}
    for task_id, v in vectors.items():
        cell = ",".join(map(str, v))
        pair = late_pairs.get(task_id)
        if pair is not None:
            due, done_on = pair
            cell += f"|{due.isoformat()}|{done_on.isoformat() if done_on else ''}"
        cells[task_id] = (departments[task_id], cell)
    return cells


def _decode(cell: str) -> tuple[list[int], tuple[date, date | None] | None]:
    numbers, *late = cell.split("|")
    values = [int(n) for n in numbers.split(",")]
    if not late:
        return values, None
    return values, (date.fromisoformat(late[0]), date.fromisoformat(late[1]) if late[1] else None)


def add_cells(
    tallies: dict[int, DepartmentTally],
    days_late: dict[int, dict[int, int]],
    cells: Iterable[tuple[int, str, int]],
    *,
    as_of: date,
    calendar: WorkCalendar,
) -> None:
    """Add ``count`` times each (department id, cell, count) to the tallies
    by department id, and its working days late to ``days_late``."""
    known: dict[str, tuple[list[int], tuple[date, date | None] | None]] = {}
    days: dict[tuple[date, date], int | Unpublished] = {}
    for department_id, cell, count in cells:
        if cell not in known:
            known[cell] = _decode(cell)
        values, late = known[cell]
        tally = tallies.get(department_id)
        if tally is None:
            tally = tallies[department_id] = DepartmentTally(counts=ScoreCounts())
        for name, value in zip(TALLY_FIELDS, values, strict=False):
            if value:
                setattr(tally, name, getattr(tally, name) + value * count)
        counts = tally.counts
        offset = len(TALLY_FIELDS)
        for name, value in zip(COUNT_FIELDS, values[offset:], strict=False):
            if value:
                setattr(counts, name, getattr(counts, name) + value * count)
        offset += len(COUNT_FIELDS)
        for level, value in zip(LEVELS, values[offset:], strict=True):
            counts.escalations[level] += value * count
        if late is not None:
            pair = (late[0], late[1] or as_of)
            if pair not in days:
                days[pair] = calendar.maybe_count_workdays(*pair)
            found = days[pair]
            if not isinstance(found, Unpublished):
                days_late[department_id][found] += count


def kept_tallies(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
    policy: StatusPolicy | None = None,
    task_roles: Iterable[str] = ("lead",),
    store: bool = True,
) -> dict[str, DepartmentTally] | None:
    """What ``department_tallies(where=[], period=Period())`` counts, from
    the cells kept for the day (stale ones stored first with ``store``,
    never waiting for another writer; those left stale worked out here, or
    everything counted in grouped SQL when more than :data:`GROUPED_ABOVE`
    are: then, with ``store``, a background thread stores them for the
    pages after, :func:`refresh_in_background`). None when SQL cannot tell
    local days here; {} without tasks."""
    for attempt in range(2):
        with session_factory() as session:
            _snapshot(session)
            if session.scalar(select(Task.id).limit(1)) is None:
                return {}
            rule = kept_rule(session, as_of=as_of, calendar=calendar, zone=zone,
                             policy=policy, task_roles=task_roles)
            if rule is None:
                return None
            stale_ids = _stale_ids(session.connection(), rule.key)
            bind = session.get_bind()
            if not (stale_ids and store and attempt == 0 and isinstance(bind, Engine)):
                return _tallies(session, rule, stale_ids, calendar=calendar, policy=policy)
            if len(stale_ids) > GROUPED_ABOVE:
                # Storing them all takes seconds at 100k tasks (the day's first
                # page when no round stored them): counted in grouped SQL now,
                # stored by a thread meanwhile for the pages after this one.
                refresh_in_background(bind, rule)
                return _tallies(session, rule, stale_ids, calendar=calendar, policy=policy)
        refresh_scores(bind, rule, wait=False)
    raise AssertionError("unreachable")  # pragma: no cover


def _tallies(
    session: Session, rule: KeptRule, stale_ids: list[int], *, calendar: WorkCalendar,
    policy: StatusPolicy | None,
) -> dict[str, DepartmentTally]:
    """The tallies of the fresh cells and of ``stale_ids`` worked out, all
    read in ``session``'s snapshot."""
    rules = rule.rules
    if len(stale_ids) > GROUPED_ABOVE:
        found = department_tallies(
            session, where=[], period=Period(), as_of=rules.as_of, calendar=calendar,
            zone=rules.zone, policy=policy, task_roles=rules.roles)
        assert found is not None  # the rule could tell local days
        return found
    names: dict[int, str] = dict(session.execute(select(Department.id, Department.name)).all())
    cells: dict[int, tuple[int, str]] = {}
    for start in range(0, len(stale_ids), CHUNK):
        chunk = stale_ids[start:start + CHUNK]
        cells.update(_stale_cells(session, rule, chunk[0], chunk[-1]))
    fresh = session.execute(
        select(TaskScore.department_id, TaskScore.cell, func.count())
        .where(TaskScore.score_key == rule.key)
        .group_by(TaskScore.department_id, TaskScore.cell)
    ).all()
    by_id: dict[int, DepartmentTally] = {}
    days_late: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    stale_cells: dict[tuple[int, str], int] = defaultdict(int)
    for department_id, cell in cells.values():
        stale_cells[department_id, cell] += 1
    add_cells(by_id, days_late,
              [*((int(d or 0), str(c), n) for d, c, n in fresh),
               *((d, c, n) for (d, c), n in stale_cells.items())],
              as_of=rules.as_of, calendar=calendar)
    tallies = {}
    for department_id in sorted(by_id):
        tally = by_id[department_id]
        if department_id in days_late:
            tally.days_late = sorted(days_late[department_id].items())
        tallies[names[department_id]] = tally
    return tallies


def _snapshot(session: Session) -> None:
    """Every read of ``session`` from one snapshot (the stale rows and the
    fresh ones are read by several statements): PostgreSQL repeatable read,
    SQLite one read transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        session.connection().exec_driver_sql("BEGIN")


def refresh_scores(engine: Engine, rule: KeptRule, *, wait: bool = True) -> int:
    """Stores the rule's cell and key in every stale row of ``task_scores``,
    :data:`CHUNK` tasks per transaction, each counted in the transaction
    that stores it; returns how many it stored. With ``wait`` False it never
    waits for another writer's lock (SQLite: no busy timeout; PostgreSQL:
    50 ms): it stops and returns. Contention (locked, serialization) ends it
    without raising; what is left stale, pages work out."""
    stored = 0
    with engine.connect() as connection:
        stale = _stale_ids(connection, rule.key)
    for start in range(0, len(stale), CHUNK):
        chunk = stale[start:start + CHUNK]
        try:
            stored += _store_chunk(engine, rule, chunk[0], chunk[-1], wait=wait)
        except OperationalError as error:
            LOG.info("scorecard cells of %s not stored (%s)", rule.rules.as_of,
                     str(error.orig)[:120])
            break
    if engine.dialect.name == "postgresql" and stored:
        _vacuum_after(engine, stored)
    return stored


_BACKGROUND_LOCK = threading.Lock()
_BACKGROUND: dict[tuple[int, str], threading.Thread] = {}


def refresh_in_background(engine: Engine, rule: KeptRule) -> threading.Thread | None:
    """Starts :func:`refresh_scores` (never waiting for a writer) in a daemon
    thread, unless one for the same engine and rule is running; returns the
    thread started, or None."""
    key = (id(engine), rule.key)

    def run() -> None:
        try:
            refresh_scores(engine, rule, wait=False)
        except Exception:  # a page must not fail for it; the next one retries
            LOG.exception("scorecard cells of %s not stored", rule.rules.as_of)
        finally:
            with _BACKGROUND_LOCK:
                _BACKGROUND.pop(key, None)

    with _BACKGROUND_LOCK:
        if key in _BACKGROUND:
            return None
        thread = threading.Thread(target=run, name="scorecard-cells", daemon=True)
        _BACKGROUND[key] = thread
    thread.start()
    return thread


def wait_for_background(timeout: float | None = None) -> None:
    """Joins the background refreshes running now (for tests)."""
    with _BACKGROUND_LOCK:
        threads = list(_BACKGROUND.values())
    for thread in threads:
        thread.join(timeout)


def _vacuum_after(engine: Engine, stored: int) -> None:
    """On PostgreSQL, once a refresh rewrote more rows than autovacuum's
    analyze threshold (50 + 10 %), VACUUM ANALYZE task_scores: fresh
    statistics (else the stale probe is planned as if every key were NULL
    and scans the table) and a visibility map, so the page's grouped read is
    an index-only scan (autovacuum may be off, as on this CI server). Blocks
    no reader or writer; a lock held elsewhere skips it (50 ms)."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            rows = connection.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'task_scores'::regclass")
            ).scalar()
            if stored < 50 + 0.1 * max(float(rows or 0), 0.0):
                return
            connection.execute(text("SET lock_timeout = 50"))
            try:
                connection.execute(text("VACUUM (ANALYZE) task_scores"))
            finally:
                connection.execute(text("RESET lock_timeout"))
    except OperationalError as error:
        LOG.info("task_scores not vacuumed after storing cells (%s)", str(error.orig)[:120])


def _store_chunk(engine: Engine, rule: KeptRule, low: int, high: int, *, wait: bool) -> int:
    """Stores the cells of the tasks with ids from ``low`` to ``high`` still
    stale, counted and stored in one transaction; returns how many."""
    postgresql = engine.dialect.name == "postgresql"
    options = {"isolation_level": "REPEATABLE READ"} if postgresql else {}
    with engine.connect().execution_options(**options) as connection:
        before = None
        if postgresql:
            connection.execute(text("SET LOCAL jit = off"))
            if not wait:
                connection.execute(text("SET LOCAL lock_timeout = 50"))
        else:
            before = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            if not wait:
                connection.exec_driver_sql("PRAGMA busy_timeout = 0")
            connection.commit()
            # The write lock first: nothing changes between reading and storing.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            with Session(bind=connection) as session:
                cells = _stale_cells(session, rule, low, high)
            rows = [(rule.key, department_id, cell, task_id)
                    for task_id, (department_id, cell) in cells.items()]
            if rows:  # plain DBAPI rows: 100k a day through Core cost seconds
                mark = "%s" if postgresql else "?"
                connection.exec_driver_sql(
                    f"UPDATE task_scores SET score_key = {mark}, department_id = {mark}, "
                    f"cell = {mark} WHERE task_id = {mark}", rows)
            connection.commit()
            return len(rows)
        finally:
            connection.rollback()
            if before is not None:
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(before)}")
                connection.commit()


def _stale_cells(
    session: Session, rule: KeptRule, low: int, high: int
) -> dict[int, tuple[int, str]]:
    """The cells of the stale tasks with ids from ``low`` to ``high``."""
    picked = Task.id.in_(
        select(TaskScore.task_id).where(_stale(rule.key), TaskScore.task_id.between(low, high))
    )
    return task_cells(session, rule, picked, TaskEvent.task_id.between(low, high))


def stored_cells(session: Session, rule: KeptRule) -> dict[int, tuple[int, str]]:
    """(department id, cell) of each task whose row is fresh for the rule."""
    return {
        task_id: (int(department_id or 0), str(cell))
        for task_id, department_id, cell in session.execute(
            select(TaskScore.task_id, TaskScore.department_id, TaskScore.cell)
            .where(TaskScore.score_key == rule.key)
        )
    }


def computed_cells(session: Session, rule: KeptRule) -> dict[int, tuple[int, str]]:
    """(department id, cell) of every task, counted from its rows now."""
    return task_cells(session, rule, Task.id.is_not(None), TaskEvent.task_id.is_not(None))
