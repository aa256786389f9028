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

Stored lights: ``tasks.light`` holds a task's light for the day and rule that
``tasks.light_key`` names (the day, and a hash of everything else the rule
reads: the periods' deadlines and the last "due soon" day worked out from the
calendar and the policy, the zone, the first assignment). The rule's ``light``
is ``CASE WHEN light_key = :key THEN light ELSE <the rule> END``: exact
whether or not anything was stored, cheap where it was. The database marks a
stored light stale (light_key NULL) when what it reads changes (migration
0018's triggers); :func:`refresh_lights` stores the day's lights, run by the
daily round and by a page that finds many stale (the first of a day). Tasks
with readings are never stored (whether they are behind their indicator is
assessed in Python and bound by id).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Engine,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
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
from duban.services.tasks.lights import light_tasks
from models import IndicatorReading, Measure, Task, TaskEvent

LOG = logging.getLogger(__name__)
CANCELLED = "cancelled"  # the light column's value for a withdrawn task
# Changes with the rule's code, so no light stored by an older rule is read.
RULE_VERSION = "1"
# A page stores the day's lights when it finds at least this many stale.
LAZY_REFRESH_MIN = 500
# Tasks stored per transaction: a writer waits at most one chunk's UPDATE.
REFRESH_CHUNK = 20_000
# PostgreSQL: a refresh that stored more than this plus 10 % of the tasks
# analyses them after (autovacuum's own analyze threshold).
ANALYZE_BASE = 50
# More tasks with readings than this and the page assesses in Python instead.
MAX_BOUND_IDS = 2_000
_OPEN = [
    s.value
    for s in (TaskState.ASSIGNED, TaskState.ACKNOWLEDGED, TaskState.IN_PROGRESS, TaskState.RETURNED)
]
_DONE = [TaskState.SUBMITTED.value, TaskState.APPROVED.value]


@dataclass(frozen=True)
class LightRule:
    """``light``: a SQL expression over Task (a :class:`~duban.domain.status.Light`
    value, or ``cancelled``) for the day ``as_of``: the stored light where its
    ``key`` is this rule's, else ``computed`` (worked out from the task's rows)."""

    as_of: date
    light: ColumnElement[str]
    # The local day of a UTC timestamp column (comparable with a Date column).
    local_day: Any = None
    # The last due date still "due soon" on ``as_of``.
    last_soon: date | None = None
    # The light from the task's rows, and the key a stored light of this rule
    # has (None: nothing to store, e.g. no task yet).
    computed: ColumnElement[str] | None = None
    key: str | None = None
    # Red picked by its definition (open and past due) even where lights are
    # stored: PostgreSQL then walks the due date in order for a page of red
    # tasks instead of sorting every red one found through the light index.
    exact_red: bool = False

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
        if light is Light.RED and (self.exact_red or self.key is None):
            return and_(still_open, Task.due < self.as_of)
        if self.key is not None and self.computed is not None:
            return or_(
                and_(Task.light_key == self.key, Task.light == light.value),
                *(and_(stale, self.computed == light.value) for stale in self._stale_ranges()),
            )
        not_past_due = [still_open, Task.due >= self.as_of]
        implied: dict[Light, list[ColumnElement[bool]]] = {
            Light.YELLOW: not_past_due,
            Light.BLUE: [*not_past_due, Task.due <= (self.last_soon or self.as_of)],
            Light.LATE: [Task.state.in_(_DONE)],
            Light.GREEN: [Task.state != TaskState.CANCELLED.value],
        }
        return and_(*implied[light], self.light == light.value)

    def _stale_ranges(self) -> list[ColumnElement[bool]]:
        assert self.key is not None
        return [Task.light_key.is_(None), Task.light_key < self.key, Task.light_key > self.key]

    def fresh(self) -> ColumnElement[bool]:
        """True for the tasks whose stored light is this rule's."""
        return false() if self.key is None else Task.light_key == self.key

    def stale(self) -> ColumnElement[bool]:
        """True for the tasks whose stored light is not this rule's (as
        ranges of the light_key index)."""
        return true() if self.key is None else or_(*self._stale_ranges())


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

    key = _rule_key(session, as_of=as_of, zone=zone, first=first, last_soon=last_soon,
                    owed=owed)
    # The stale task's light worked out from its row read again by id: the
    # statement itself reads only id, light_key and light of the task, which
    # an index can cover (ix_tasks_measure_lights).
    unlit = aliased(Task, name="unlit")
    worked_out = select(computed_of(unlit)).where(unlit.id == Task.id).scalar_subquery()
    light = case((Task.light_key == key, Task.light), else_=worked_out)
    rule = LightRule(as_of, light, local_day, last_soon, computed_of(Task), key,
                     exact_red=session.get_bind().dialect.name == "postgresql")
    if refresh_at is not None and _stale_count(session, rule, refresh_at) >= refresh_at:
        bind = session.get_bind()
        if isinstance(bind, Engine) and bind.url.database not in (None, "", ":memory:"):
            refresh_lights(bind, rule, wait=False)
    return rule


def _rule_key(
    session: Session,
    *,
    as_of: date,
    zone: tzinfo,
    first: datetime,
    last_soon: date,
    owed: Sequence[tuple[date | None, date, date]],
) -> str:
    """``as_of`` and a hash of all else the rule's ``CASE`` depends on (what
    the calendar and the policy make of the day, the zone, where local days
    start): two rules with one key give every task the same light."""
    parts = (
        RULE_VERSION, session.get_bind().dialect.name, str(zone), first.isoformat(),
        last_soon.isoformat(), [tuple(str(d) for d in period) for period in owed],
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    return f"{as_of.isoformat()}:{digest}"


def _stale_to_store(rule: LightRule) -> list[ColumnElement[bool]]:
    """The tasks a refresh stores: stale, and without readings."""
    return [rule.stale(), ~exists().where(IndicatorReading.task_id == Task.id)]


def _stale_count(session: Session, rule: LightRule, up_to: int) -> int:
    """How many tasks a refresh would store, counted up to ``up_to``."""
    if rule.key is None:
        return 0
    found = select(Task.id).where(*_stale_to_store(rule)).limit(up_to).subquery()
    return session.scalar(select(func.count()).select_from(found)) or 0


def refresh_lights(engine: Engine, rule: LightRule, *, wait: bool = True) -> int:
    """Stores the rule's light, and its key, in every task whose stored light
    is stale (but a task with readings), :data:`REFRESH_CHUNK` tasks per
    transaction; returns how many it stored.

    Safe with writers at the same time: a stored light is only ever the
    rule's light of the task's rows when it was stored (PostgreSQL: a task
    changed or locked by another transaction meanwhile is left for later),
    and the triggers mark it stale when they change. With ``wait`` False it
    never waits for another writer's lock: it stops and returns (pages call it
    so; the rule's ``CASE`` is right either way). A database error of
    contention (locked, serialization) also ends it without raising."""
    if rule.key is None or rule.computed is None:
        return 0
    stored = 0
    postgresql = engine.dialect.name == "postgresql"
    while True:
        ids = (
            select(Task.id).where(*_stale_to_store(rule)).order_by(Task.id)
            .limit(REFRESH_CHUNK).correlate(None)
        )
        if postgresql:
            ids = ids.with_for_update(skip_locked=True)
        statement = (
            update(Task)
            .where(Task.id.in_(ids.scalar_subquery()))
            .values(light=rule.computed, light_key=rule.key)
        )
        try:
            count = _store(engine, statement, wait=wait)
        except OperationalError as error:
            LOG.info("lights of %s not stored (%s)", rule.as_of, str(error.orig)[:120])
            break
        stored += count
        if count < REFRESH_CHUNK:
            break
    if postgresql and stored:
        _analyze_after(engine, stored)
    return stored


def _analyze_after(engine: Engine, stored: int) -> None:
    """On PostgreSQL, fresh statistics of the tasks once a refresh rewrote
    more of them than autovacuum's analyze threshold (50 + 10 % of the rows):
    planned with the statistics from before it (every ``light_key`` NULL,
    the day's first refresh rewrites every row) the light and stale-light
    probes scan the whole table until autovacuum gets round to it, and never
    where it is off. ANALYZE blocks no reader or writer; a lock held by a
    VACUUM or a migration skips it (50 ms)."""
    try:
        with engine.connect() as connection, connection.begin():
            rows = connection.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'tasks'::regclass")
            ).scalar()
            if stored < ANALYZE_BASE + 0.1 * max(float(rows or 0), 0.0):
                return
            connection.execute(text("SET LOCAL lock_timeout = 50"))
            connection.execute(text("ANALYZE tasks"))
    except OperationalError as error:
        LOG.info("tasks not analysed after storing lights (%s)", str(error.orig)[:120])


def _store(engine: Engine, statement: Any, *, wait: bool) -> int:
    """Runs ``statement`` in a transaction of its own (PostgreSQL: repeatable
    read, so a task changed since the statement began fails it instead of
    being stored from rows it did not see); without ``wait``, a lock held by
    another writer fails it at once (SQLite: no busy timeout; PostgreSQL:
    locked rows are skipped by the statement, a lock on the table fails after
    50 ms)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            with connection.begin():
                connection.execute(text("SET LOCAL jit = off"))
                if not wait:
                    connection.execute(text("SET LOCAL lock_timeout = 50"))
                return int(connection.execute(statement).rowcount)
    with engine.connect() as connection:
        before = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        if not wait:
            connection.exec_driver_sql("PRAGMA busy_timeout = 0")
        try:
            count = int(connection.execute(statement).rowcount)
            connection.commit()
        finally:
            connection.rollback()
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(before or 0)}")
            connection.commit()
        return count


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
    return or_(false(), *owed)


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


def lit_tasks(rule: LightRule, *where: ColumnElement[bool]) -> Any:
    """A subquery of the tasks ``where`` picks (conditions on Task and
    Measure) with their ``light`` on the rule's day: columns id, measure_id,
    department_id, role, state, due, submitted_on (the local day of the 报结
    while submitted or approved, else NULL), assigned_at, light and the
    measure's section_id.

    A database may inline the subquery and work the ``CASE`` out again
    wherever ``light`` is named (a condition on it and a GROUP BY on it: twice
    per task); :func:`lit_once` does not."""
    return _lit_select(rule, where).subquery("lit")


def lit_once(session: Session, rule: LightRule, *where: ColumnElement[bool]) -> Any:
    """:func:`lit_tasks` as a common table expression the database works out
    once per statement (``MATERIALIZED``: each task's light computed once,
    however many groupings of one statement read it, e.g. a UNION ALL)."""
    cte = _lit_select(rule, where).cte("lit")
    dialect = session.get_bind().dialect
    version = dialect.server_version_info or ()
    supported = {"postgresql": (12,), "sqlite": (3, 35)}.get(dialect.name)
    if supported is not None and version >= supported:
        cte = cte.prefix_with("MATERIALIZED")
    return cte


def _lit_select(rule: LightRule, where: Sequence[ColumnElement[bool]]) -> Any:
    submitted_on = case(
        (Task.state.in_(_DONE), type_coerce(rule.local_day(Task.submitted_at), Date)),
        else_=None,
    )
    return (
        select(
            Task.id, Task.measure_id, Task.department_id, Task.role, Task.state, Task.due,
            submitted_on.label("submitted_on"), Task.assigned_at, rule.light.label("light"),
            Measure.section_id,
        )
        .join(Measure, Task.measure_id == Measure.id)
        .where(*where)
    )
