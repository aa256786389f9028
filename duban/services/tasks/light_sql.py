"""Each task's light on a day as a SQL expression, for pages that count.

:func:`light_rule` turns :func:`duban.domain.status.assess`'s rules for one
day into SQL over the tasks table, so grouped queries count lights without
reading tasks into Python. What depends on the working-day calendar (read
from files, so never stored in a column) is worked out in Python for that day
and bound as parameters:

- red: open (or returned) and past its due date;
- late: submitted or approved, the 报结's local day after the due date;
- yellow: open, not past due, and a report period owed by this day lacks its
  report — for each period whose deadline (N working days after its end) has
  passed: the task was assigned before the period ended, is due on or after
  its end, and has no progress report on a local day after both the
  previous period's end and its assignment day and up to the deadline — or
  behind its indicator's straight line (the few tasks with readings are
  assessed in Python and bound by id);
- blue: otherwise due within the last day still "due soon" (the day found by
  counting working days forward from the day asked);
- green: everything else; ``cancelled`` for a withdrawn task (no light).

Local days come from the database: PostgreSQL's ``timezone()`` with the zone's
name, SQLite's ``date()`` with the zone's offset, used only when that offset
is the same over every year the tasks span. When SQL cannot say it exactly
:func:`light_rule` returns None and callers use
:func:`duban.services.tasks.lights.light_tasks`. ``tests/reports/test_lights.py``
compares both with the domain's assessment day by day.

Stored lights: ``tasks.light`` holds a task's light for the rule that the
one row of ``lights_stored`` names (its key: the day, and a hash of
everything else the rule reads: the periods' deadlines and the last "due
soon" day worked out from the calendar and the policy, the zone, the first
assignment), when the task's ``light_key`` is one of that row's generations
(from ``base`` to ``generation``). The rule's ``light`` is ``CASE WHEN
light_key BETWEEN :base AND :generation THEN light ELSE <the rule> END``:
exact whether or not anything was stored, cheap where it was. The database
marks a stored light stale (light_key NULL) when what it reads changes
(migration 0018's triggers). :func:`refresh_lights`, run by the daily round
and by a page that finds many stale (the first of a day), moves the row to
its rule, writing in the same transaction only the tasks whose light differs
on the new day (:func:`_may_differ` finds the few that can from the due
dates and the report periods of the two days), under a new generation: a
page that read the row before still reads only lights of its own day. Tasks
with readings are never stored (whether they are behind their indicator is
assessed in Python and bound by id).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Engine,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    type_coerce,
    update,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased

from duban.domain.lifecycle import Action, TaskState
from duban.domain.status import (
    Light,
    StatusPolicy,
    behind_trajectory,
    report_periods,
)
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.tasks import kept_lights
from duban.services.tasks.lights import light_tasks
from models import IndicatorReading, LightsStored, Task, TaskEvent

LOG = logging.getLogger(__name__)
CANCELLED = "cancelled"  # the light column's value for a withdrawn task
# Changes with the rule's code, so no light stored by an older rule is read.
RULE_VERSION = "3"
# A page stores the day's lights when it finds at least this many stale.
LAZY_REFRESH_MIN = 500
# Tasks stored per transaction: a writer waits at most one chunk's UPDATE.
REFRESH_CHUNK = 20_000
# PostgreSQL: a refresh that stored more than this plus 10 % of the tasks
# vacuums and analyses them after (autovacuum's own analyze threshold).
ANALYZE_BASE = 50
# More tasks with readings than this and the page assesses in Python instead.
MAX_BOUND_IDS = 2_000
_OPEN = [
    s.value
    for s in (TaskState.ASSIGNED, TaskState.ACKNOWLEDGED, TaskState.IN_PROGRESS, TaskState.RETURNED)
]
_DONE = [TaskState.SUBMITTED.value, TaskState.APPROVED.value]


Period = tuple[date | None, date, date]  # (previous period's end, period end, deadline)


@dataclass(frozen=True)
class RuleDay:
    """What a rule's ``CASE`` makes of its day: the day, the last due date
    still "due soon", the owed report periods (:func:`_owed_periods`), and
    its context (rule version, database, zone: lights of another context are
    never carried over). Kept as JSON in ``lights_stored.rule``: a refresh
    for another day finds from two of them the only tasks whose light can
    differ (:func:`_may_differ`)."""

    as_of: date
    last_soon: date
    owed: tuple[Period, ...]
    context: str

    def to_json(self) -> str:
        return json.dumps({
            "as_of": self.as_of.isoformat(), "last_soon": self.last_soon.isoformat(),
            "owed": [[d and d.isoformat() for d in period] for period in self.owed],
            "context": self.context,
        })

    @classmethod
    def from_json(cls, text: str) -> RuleDay | None:
        """The rule day ``text`` holds, or None when it is not one."""
        try:
            found = json.loads(text)
            return cls(
                as_of=date.fromisoformat(found["as_of"]),
                last_soon=date.fromisoformat(found["last_soon"]),
                owed=tuple(
                    (None if previous is None else date.fromisoformat(previous),
                     date.fromisoformat(end), date.fromisoformat(deadline))
                    for previous, end, deadline in found["owed"]
                ),
                context=str(found["context"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


def generation_key(generation: int) -> str:
    """``tasks.light_key`` of the lights stored in ``generation``: sorts as
    the number does, and above every key of the rule before (a day first)."""
    return f"g{generation:010d}"


@dataclass(frozen=True)
class LightRule:
    """``light``: a SQL expression over Task (a :class:`~duban.domain.status.Light`
    value, or ``cancelled``) for the day ``as_of``: the stored light where it
    is this rule's (``fresh``), else ``computed`` (worked out from the task's rows)."""

    as_of: date
    light: ColumnElement[str]
    # The local day of a UTC timestamp column (comparable with a Date column).
    local_day: Any = None
    # The last due date still "due soon" on ``as_of``.
    last_soon: date | None = None
    # The light from the task's rows, and the key naming this rule (None:
    # nothing to store, e.g. no task yet).
    computed: ColumnElement[str] | None = None
    key: str | None = None
    # Red picked by its definition (open and past due) even where lights are
    # stored: PostgreSQL then walks the due date in order for a page of red
    # tasks instead of sorting every red one found through the light index.
    exact_red: bool = False
    # The lowest and highest ``light_key`` of this rule's stored lights, as
    # ``lights_stored`` said when the rule was made (None: none stored).
    stored: tuple[str, str] | None = None
    # What a refresh needs of the rule's day.
    day: RuleDay | None = None
    # A function of a task (Task or an alias) giving how many of the owed
    # report periods it missed and the first one's deadline (see
    # computed_missed), built only when asked.
    missed_of: Callable[[Any], tuple[ColumnElement[int], ColumnElement[date | None]]] | None = None

    def computed_missed(self) -> tuple[ColumnElement[int], ColumnElement[date | None]]:
        """How many of the rule's owed report periods the task missed, and the
        deadline of the first of them, worked out from its rows: 0 and NULL
        for a task that owes no report that day (closed, cancelled or past
        due) or missed none. ``tasks.missed_count`` and ``missed_since``
        store them with the light."""
        if self.missed_of is None:
            return literal(0), type_coerce(null(), Date)
        return self.missed_of(Task)

    def matches(self, light: Light) -> ColumnElement[bool]:
        """True for the tasks whose light is ``light`` on the rule's day.

        Stored lights: the tasks of the light from the (light_key, light)
        index, and the stale ones (few once the day's are stored) from a
        range of that index each, their light worked out. Nothing stored:
        what that light implies of the state and due date first (an index on
        the due date can narrow the tasks), then the ``CASE`` itself. Red is
        exactly open and past due, picked that way when nothing is stored and
        on PostgreSQL (``exact_red``)."""
        still_open = Task.state.in_(_OPEN)
        if light is Light.RED and (self.exact_red or self.stored is None):
            return and_(still_open, Task.due < self.as_of)
        if self.stored is not None and self.computed is not None:
            return or_(
                and_(self.fresh(), Task.light == light.value),
                *(and_(stale, self.computed == light.value) for stale in self.stale_ranges()),
            )
        not_past_due = [still_open, Task.due >= self.as_of]
        implied: dict[Light, list[ColumnElement[bool]]] = {
            Light.YELLOW: not_past_due,
            Light.BLUE: [*not_past_due, Task.due <= (self.last_soon or self.as_of)],
            Light.LATE: [Task.state.in_(_DONE)],
            Light.GREEN: [Task.state != TaskState.CANCELLED.value],
        }
        return and_(*implied[light], self.light == light.value)

    def stale_ranges(self) -> list[ColumnElement[bool]]:
        assert self.stored is not None
        low, high = self.stored
        return [Task.light_key.is_(None), Task.light_key < low, Task.light_key > high]

    def fresh(self) -> ColumnElement[bool]:
        """True for the tasks whose stored light is this rule's."""
        if self.stored is None:
            return false()
        low, high = self.stored
        return and_(Task.light_key >= low, Task.light_key <= high)

    def stale(self) -> ColumnElement[bool]:
        """True for the tasks whose stored light is not this rule's (as
        ranges of the light_key index)."""
        return true() if self.stored is None else or_(*self.stale_ranges())


def light_rule(
    session: Session,
    *,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
    policy: StatusPolicy | None = None,
    refresh_at: int | None = LAZY_REFRESH_MIN,
) -> LightRule | None:
    """The light of every task on ``as_of`` as SQL (see the module docstring),
    or None when SQL cannot say it exactly here.

    When at least ``refresh_at`` tasks (None: never) have no stored light of
    this rule, first stores them (:func:`refresh_lights`, in transactions of
    its own, giving up at once where another writer holds the database)."""
    policy = policy or StatusPolicy()
    _without_jit(session)
    first = session.scalar(select(func.min(Task.assigned_at)))
    if first is None:
        return LightRule(as_of, literal(Light.GREEN.value), lambda column: cast(column, Date))
    local_day = local_day_function(session, zone, first, as_of)
    if local_day is None:
        return None
    behind = _behind_ids(session, as_of=as_of, calendar=calendar, zone=zone, policy=policy)
    if behind is None:
        return None
    owed = _owed_periods(first.astimezone(zone).date(), as_of, calendar, policy)
    last_soon = _last_soon_day(as_of, calendar, policy)
    dialect = session.get_bind().dialect.name
    day = RuleDay(as_of, last_soon, tuple(owed),
                  context=f"{RULE_VERSION}:{dialect}:{zone}")
    key = _rule_key(day, first=first)
    built = _built_rule(key, behind, lambda: _build(day, zone, local_day, behind))

    def rule_of(stored: tuple[str, str] | None) -> LightRule:
        bare = LightRule(as_of, literal(""), stored=stored)
        light = case((bare.fresh(), Task.light), else_=built.worked_out)
        return LightRule(as_of, light, local_day, last_soon, built.computed, key,
                         exact_red=dialect == "postgresql", stored=stored, day=day,
                         missed_of=built.missed_of)

    rule = rule_of(_stored_range(session, key))
    if refresh_at is not None and _stale_count(session, rule, refresh_at) >= refresh_at:
        bind = session.get_bind()
        if isinstance(bind, Engine) and bind.url.database not in (None, "", ":memory:"):
            refresh_lights(bind, rule, wait=False)
            rule = rule_of(_stored_range(session, key))
    return rule


@dataclass(frozen=True)
class _Built:
    """A rule's expressions over the tasks, the costly part of making it
    (~5-10 ms a page: a CASE with a report probe per owed period, twice)."""

    computed: ColumnElement[str]  # the light from the task's rows
    worked_out: ColumnElement[str]  # the same, of the task's row read again by id
    missed_of: Callable[[Any], tuple[ColumnElement[int], ColumnElement[date | None]]]


def _build(day: RuleDay, zone: tzinfo, local_day: Any, behind: list[int]) -> _Built:
    """The expressions of the rule of ``day`` (see :func:`light_rule`)."""
    as_of, last_soon, owed = day.as_of, day.last_soon, list(day.owed)

    def computed_of(task: Any) -> ColumnElement[str]:
        late = and_(task.submitted_at.is_not(None), local_day(task.submitted_at) > task.due)
        yellow = or_(
            _missing_report(task, owed, zone, local_day),
            task.id.in_(behind) if behind else false(),
        )
        return case(
            (task.state == TaskState.CANCELLED.value, CANCELLED),
            (task.state.in_(_DONE), case((late, Light.LATE.value), else_=Light.GREEN.value)),
            (task.due < as_of, Light.RED.value),
            (yellow, Light.YELLOW.value),
            (task.due <= last_soon, Light.BLUE.value),
            else_=Light.GREEN.value,
        )

    # The stale task's light worked out from its row read again by id: the
    # statement itself reads only id, light_key and light of the task, which
    # an index can cover (ix_tasks_measure_lights).
    unlit = aliased(Task, name="unlit")
    return _Built(
        computed=computed_of(Task),
        worked_out=select(computed_of(unlit)).where(unlit.id == Task.id).scalar_subquery(),
        missed_of=_missed_of(owed, as_of, zone, local_day),
    )


# The expressions of the rules made lately, by rule key and the ids of the
# tasks behind their indicator: the key names everything else they read
# (the day, the database, the zone and the first assignment, which fix the
# local day's function, the owed periods and the last "due soon" day), so
# one key's expressions are the same whoever makes them. Read-only once made.
_BUILT: OrderedDict[tuple[str, tuple[int, ...]], _Built] = OrderedDict()
_BUILT_LOCK = threading.Lock()
_BUILT_KEPT = 8


def _built_rule(key: str, behind: list[int], build: Callable[[], _Built]) -> _Built:
    """The expressions of the rule ``key`` with ``behind``, made by ``build``
    once (the latest :data:`_BUILT_KEPT` kept)."""
    cache_key = (key, tuple(behind))
    with _BUILT_LOCK:
        found = _BUILT.get(cache_key)
        if found is not None:
            _BUILT.move_to_end(cache_key)
            return found
    made = build()
    with _BUILT_LOCK:
        _BUILT[cache_key] = made
        while len(_BUILT) > _BUILT_KEPT:
            _BUILT.popitem(last=False)
    return made


def _rule_key(day: RuleDay, *, first: datetime) -> str:
    """The day and a hash of all else the rule's ``CASE`` depends on (what
    the calendar and the policy make of the day, the zone, where local days
    start): two rules with one key give every task the same light."""
    parts = (
        day.context, first.isoformat(), day.last_soon.isoformat(),
        [tuple(str(d) for d in period) for period in day.owed],
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    return f"{day.as_of.isoformat()}:{digest}"


def _stored_range(session: Session, key: str) -> tuple[str, str] | None:
    """The light keys of the lights stored for the rule ``key`` (None: the
    lights stored are another rule's, or none are)."""
    row = session.execute(
        select(LightsStored.rule_key, LightsStored.base, LightsStored.generation)
        .where(LightsStored.id == 1)
    ).first()
    if row is None or row.rule_key != key:
        return None
    return generation_key(row.base), generation_key(row.generation)


def _stale_to_store(rule: LightRule) -> list[ColumnElement[bool]]:
    """The tasks a refresh stores: stale, and without readings."""
    return [rule.stale(), ~exists().where(IndicatorReading.task_id == Task.id)]


def _stale_count(session: Session, rule: LightRule, up_to: int) -> int:
    """How many tasks a refresh would store, counted up to ``up_to``."""
    if rule.key is None:
        return 0
    found = select(Task.id).where(*_stale_to_store(rule)).limit(up_to).subquery()
    return session.scalar(select(func.count()).select_from(found)) or 0


def _may_differ(before: RuleDay, after: RuleDay) -> ColumnElement[bool]:
    """True for every task (of its rows unchanged) whose light can differ
    between the two rule days (of one context), from the rule's ``CASE``:

    - cancelled, submitted and approved tasks: their light does not read the
      day;
    - red (open and due before the day): differs only for a due date from
      the earlier day to the later;
    - blue (due from the day to its last "due soon" day): only for a due
      date from the earlier day to the later last "due soon" day;
    - yellow: a report period owed on one day and not the other (a day past
      its deadline, or a calendar or policy that moved it) reads only tasks
      due on or after that period's end; the periods owed on both read the
      same.

    So: open, due on or after the earlier day, and due by the later of the
    days and last "due soon" days, or on or after the earliest end of a
    period owed on one day only."""
    low = min(before.as_of, after.as_of)
    high = max(before.as_of, after.as_of, before.last_soon, after.last_soon)
    windows = [Task.due <= high]
    moved = set(before.owed) ^ set(after.owed)
    if moved:
        windows.append(Task.due >= min(end for _previous, end, _deadline in moved))
    return and_(Task.state.in_(_OPEN), Task.due >= low, or_(*windows))


def refresh_lights(engine: Engine, rule: LightRule, *, wait: bool = True) -> int:
    """Makes the stored lights the rule's; returns how many tasks it wrote.

    First ``lights_stored`` moves to the rule, in one transaction with the
    tasks whose stored light differs on the rule's day (from the day stored
    before, :func:`_may_differ`: only those are read and written, under a
    new generation); a rule of another context makes every stored light
    stale instead. Then every stale task but those with readings is stored,
    :data:`REFRESH_CHUNK` tasks per transaction.

    Safe with writers and readers at the same time: a stored light is only
    ever the rule's light of the task's rows when it was stored (PostgreSQL:
    a task changed or locked by another transaction meanwhile is left for
    later, or ends the move), the triggers mark it stale when they change,
    and a reader of the rule before reads only lights of generations it
    knew. With ``wait`` False it never waits for another writer's lock: it
    stops and returns (pages call it so; the rule's ``CASE`` is right either
    way). A database error of contention (locked, serialization) also ends
    it without raising."""
    if rule.key is None or rule.computed is None or rule.day is None:
        return 0
    try:
        moved = _move(engine, rule, wait=wait)
    except OperationalError as error:
        LOG.info("lights not moved to %s (%s)", rule.as_of, str(error.orig)[:120])
        return 0
    except _Moved:
        return 0
    if moved is None:  # another rule's lights were stored meanwhile
        return 0
    stored, base, generation = moved
    postgresql = engine.dialect.name == "postgresql"
    low, high = generation_key(base), generation_key(generation)
    stale = or_(Task.light_key.is_(None), Task.light_key < low, Task.light_key > high)
    still = exists().where(LightsStored.id == 1, LightsStored.rule_key == rule.key,
                           LightsStored.generation == generation)
    while True:
        ids = (
            select(Task.id).where(stale, ~exists().where(IndicatorReading.task_id == Task.id))
            .order_by(Task.id).limit(REFRESH_CHUNK).correlate(None)
        )
        if postgresql:
            ids = ids.with_for_update(skip_locked=True)
        statement = (
            update(Task)
            .where(Task.id.in_(ids.scalar_subquery()), still)
            .values(light=rule.computed, light_key=high, **_missed_values(rule))
            .returning(Task.measure_id)
        )
        try:
            with _writing(engine, wait=wait, lock="SHARE") as connection:
                measures = list(connection.execute(statement).scalars())
                kept_lights.forget_measures(connection, measures)
        except OperationalError as error:
            LOG.info("lights of %s not stored (%s)", rule.as_of, str(error.orig)[:120])
            break
        count = len(measures)
        stored += count
        if count < REFRESH_CHUNK:
            break
    _keep_measure_lights(engine, wait=wait)
    if postgresql and stored:
        _analyze_after(engine, stored)
    return stored


def _keep_measure_lights(engine: Engine, *, wait: bool) -> None:
    """Keeps each measure's tasks counted by stored light where they are all
    stored (:func:`~duban.services.tasks.kept_lights.keep`), locked as a move
    is: no light is stored or moved meanwhile."""
    try:
        with _writing(engine, wait=wait, lock="SHARE ROW EXCLUSIVE") as connection:
            found = kept_lights.stored_range(connection)
            if found is not None:
                base, generation = found
                kept_lights.keep(connection, generation_key(base), generation_key(generation))
    except OperationalError as error:
        LOG.info("measures' lights not kept (%s)", str(error.orig)[:120])


def _move(engine: Engine, rule: LightRule, *, wait: bool) -> tuple[int, int, int] | None:
    """Makes ``lights_stored`` name ``rule``, with the tasks whose stored
    light differs on its day written under a new generation, in one
    transaction; returns (tasks written, base, generation) of the rule's
    stored lights, or None when another rule's lights were stored while it
    waited."""
    assert rule.key is not None and rule.computed is not None and rule.day is not None
    with _writing(engine, wait=wait, lock="SHARE ROW EXCLUSIVE") as connection:
        row = connection.execute(
            select(LightsStored.rule_key, LightsStored.rule, LightsStored.base,
                   LightsStored.generation).where(LightsStored.id == 1)
        ).first()
        if row is not None and row.rule_key == rule.key:
            return 0, row.base, row.generation
        if row is None:
            connection.execute(insert(LightsStored).values(
                id=1, rule_key=rule.key, rule=rule.day.to_json(), base=1, generation=1))
            return 0, 1, 1
        generation = row.generation + 1
        before = RuleDay.from_json(row.rule)
        written = 0
        if before is None or before.context != rule.day.context:
            base = generation  # every light stored before is stale
            kept_lights.forget_all(connection)
        else:
            base = row.base
            written = int(connection.execute(
                update(Task)
                .where(Task.light_key >= generation_key(row.base),
                       Task.light_key <= generation_key(row.generation),
                       _may_differ(before, rule.day),
                       _differs(rule))
                .values(light=rule.computed, light_key=generation_key(generation),
                        **_missed_values(rule))
            ).rowcount)
            if written:
                kept_lights.forget_written(connection, generation_key(generation))
        updated = connection.execute(
            update(LightsStored)
            .where(LightsStored.id == 1, LightsStored.generation == row.generation)
            .values(rule_key=rule.key, rule=rule.day.to_json(), base=base,
                    generation=generation)
        ).rowcount
        if updated != 1:
            raise _Moved
        return written, base, generation


class _Moved(Exception):
    """``lights_stored`` changed under a move (not on PostgreSQL, whose move
    holds its lock)."""


@contextmanager
def _writing(engine: Engine, *, wait: bool, lock: str) -> Iterator[Connection]:
    """A connection in a transaction of its own that commits when the block
    ends (PostgreSQL: repeatable read, so a task changed since the first
    statement fails it instead of being stored from rows it did not see,
    after ``lights_stored`` is locked in ``lock`` mode: a move of the stored
    lights to another rule waits for the stores of the rule before, and they
    for it; SQLite: the write lock taken first). Without ``wait``, a lock held
    by another writer fails it at once (SQLite: no busy timeout; PostgreSQL:
    locked rows are skipped by the statement, a lock on a table fails after
    50 ms)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            with connection.begin():
                connection.execute(text("SET LOCAL jit = off"))
                if not wait:
                    connection.execute(text("SET LOCAL lock_timeout = 50"))
                # Before any query: the transaction's snapshot is taken after the lock.
                connection.execute(text(f"LOCK TABLE lights_stored IN {lock} MODE"))
                yield connection
        return
    with engine.connect() as connection:
        before = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        if not wait:
            connection.exec_driver_sql("PRAGMA busy_timeout = 0")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection
            connection.commit()
        finally:
            connection.rollback()
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(before or 0)}")
            connection.commit()


def _analyze_after(engine: Engine, stored: int) -> None:
    """On PostgreSQL, VACUUM (ANALYZE) the tasks once a refresh rewrote more
    of them than autovacuum's analyze threshold (50 + 10 % of the rows).
    Fresh statistics: planned with the statistics from before it (every
    ``light_key`` NULL, the day's first refresh rewrites every row) the light
    and stale-light probes scan the whole table. A visibility map: the desk's
    and the dashboard's grouped reads of ix_tasks_desk and ix_tasks_missed
    are index-only scans only on pages marked all-visible, else they visit
    every row's page (two versions of each after the day's first refresh).
    Until autovacuum gets round to it, and never where it is off (1.1 s at
    100k tasks). Blocks no reader or writer; a lock held by another VACUUM or
    a migration skips it (50 ms)."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            rows = connection.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'tasks'::regclass")
            ).scalar()
            if stored < ANALYZE_BASE + 0.1 * max(float(rows or 0), 0.0):
                return
            connection.execute(text("SET lock_timeout = 50"))
            try:
                connection.execute(text("VACUUM (ANALYZE) tasks"))
            finally:
                connection.execute(text("RESET lock_timeout"))
    except OperationalError as error:
        LOG.info("tasks not vacuumed after storing lights (%s)", str(error.orig)[:120])


def _without_jit(session: Session) -> None:
    """No JIT compilation on PostgreSQL for the rest of this transaction: the
    report probes of the rule make the planner's estimate of a pass over the
    tasks high enough for JIT, whose compilation (~0.3-0.6 s) costs more
    than the pass itself."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def local_day_function(session: Session, zone: tzinfo, first: datetime, as_of: date) -> Any:
    """A function of a UTC timestamp column giving its local day in ``zone``
    (comparable with a Date column), or None when this database cannot."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and isinstance(zone, ZoneInfo):
        name = zone.key
        return lambda column: cast(func.timezone(name, column), Date)
    if dialect == "sqlite":
        years = range(first.year, as_of.year + 2)
        offsets = {
            zone.utcoffset(datetime(year, month, 1))
            for year in years
            for month in (1, 4, 7, 10)
        }
        if len(offsets) != 1:
            return None
        minutes = int(next(iter(offsets)).total_seconds() // 60)  # type: ignore[union-attr]
        modifier = f"{minutes:+d} minutes"
        return lambda column: func.date(column, modifier)
    return None


def _start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, zone)


def _missing_report(
    task: Any,
    periods: Sequence[tuple[date | None, date, date]],
    zone: tzinfo,
    local_day: Any,
) -> ColumnElement[bool]:
    """True for a ``task`` (Task or an alias) that lacks a report owed in one
    of ``periods`` (:func:`_owed_periods`)."""
    return or_(false(), *_missed_periods(task, periods, zone, local_day))


def _missed_periods(
    task: Any,
    periods: Sequence[tuple[date | None, date, date]],
    zone: tzinfo,
    local_day: Any,
) -> list[ColumnElement[bool]]:
    """Per period of ``periods``: true for a ``task`` (Task or an alias) that
    owes that period's report and lacks it."""
    event = aliased(TaskEvent)
    owed = []
    for previous, period_end, deadline in periods:
        window = [
            event.task_id == task.id,
            event.action == Action.REPORT.value,
            event.at < _start(deadline + timedelta(days=1), zone),
            local_day(event.at) > local_day(task.assigned_at),
        ]
        if previous is not None:
            window.append(event.at >= _start(previous + timedelta(days=1), zone))
        owed.append(
            and_(
                task.assigned_at < _start(period_end, zone),
                task.due >= period_end,
                ~exists().where(*window),
            )
        )
    return owed


def _missed_of(
    periods: Sequence[tuple[date | None, date, date]],
    as_of: date,
    zone: tzinfo,
    local_day: Any,
) -> Callable[[Any], tuple[ColumnElement[int], ColumnElement[date | None]]]:
    """A function of a task (Task or an alias) giving how many of ``periods``
    it missed and the first one's deadline, for a task open and not past due
    on ``as_of`` (:func:`duban.domain.status.assess` finds no missing report
    of any other task): 0 and NULL otherwise."""

    def missed_of(task: Any) -> tuple[ColumnElement[int], ColumnElement[date | None]]:
        missed = _missed_periods(task, periods, zone, local_day)
        if not missed:
            return literal(0), type_coerce(null(), Date)
        owes = and_(task.state.in_(_OPEN), task.due >= as_of)
        count: ColumnElement[int] = case((missed[0], 1), else_=0)
        for flag in missed[1:]:
            count = count + case((flag, 1), else_=0)
        first = case(
            *((flag, literal(deadline, Date)) for flag, (_p, _e, deadline) in zip(
                missed, periods, strict=True)),
            else_=type_coerce(null(), Date),
        )
        return (case((owes, count), else_=0),
                case((owes, first), else_=type_coerce(null(), Date)))

    return missed_of


def _missed_values(rule: LightRule) -> dict[str, Any]:
    """The missed report periods' columns a store writes with the light."""
    count, since = rule.computed_missed()
    return {"missed_count": count, "missed_since": since}


def _differs(rule: LightRule) -> ColumnElement[bool]:
    """True for a task whose stored light, or missed report periods, are not
    the rule's."""
    count, since = rule.computed_missed()
    return or_(
        Task.light.is_distinct_from(rule.computed),
        Task.missed_count.is_distinct_from(count),
        Task.missed_since.is_distinct_from(since),
    )


def _owed_periods(
    first_day: date, as_of: date, calendar: WorkCalendar, policy: StatusPolicy
) -> list[tuple[date | None, date, date]]:
    """(previous period's end, period end, deadline) of each report period from
    ``first_day`` on whose known deadline is before ``as_of``."""
    owed: list[tuple[date | None, date, date]] = []
    previous: date | None = None
    for period in report_periods(first_day, as_of, calendar, policy):
        deadline = period.known_deadline
        if deadline is not None and deadline < as_of:
            owed.append((previous, period.period_end, deadline))
        previous = period.period_end
    return owed


def _last_soon_day(as_of: date, calendar: WorkCalendar, policy: StatusPolicy) -> date:
    """The last due date still "due soon" on ``as_of`` (the day before
    ``as_of`` when none is): working days left are non-decreasing in the due
    date, so the soon ones are a run of days from ``as_of``."""
    last = as_of - timedelta(days=1)
    day = as_of
    while True:
        left = calendar.maybe_count_workdays(as_of, day)
        if isinstance(left, Unpublished) or left > policy.due_soon_workdays:
            return last
        last = day
        day += timedelta(days=1)


def _behind_ids(
    session: Session,
    *,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
    policy: StatusPolicy,
) -> list[int] | None:
    """Ids of the open tasks not past due that are behind their indicator on
    ``as_of`` (assessed in Python: only tasks with readings can be); None when
    there are too many to bind."""
    readers = select(IndicatorReading.task_id).distinct()
    count = session.scalar(
        select(func.count()).select_from(
            select(Task.id)
            .where(Task.id.in_(readers), Task.state.in_(_OPEN), Task.due >= as_of)
            .subquery()
        )
    )
    if not count:
        return []
    if count > MAX_BOUND_IDS:
        return None
    tasks = light_tasks(
        session,
        where=[Task.id.in_(readers), Task.state.in_(_OPEN), Task.due >= as_of],
        as_of=as_of, calendar=calendar, zone=zone, policy=policy,
    )
    return [t.task_id for t in tasks if behind_trajectory(t.facts, as_of)]
