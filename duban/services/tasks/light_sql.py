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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
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
    type_coerce,
)
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

CANCELLED = "cancelled"  # the light column's value for a withdrawn task
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
    value, or ``cancelled``) for the day ``as_of``; ``overdue`` is its red."""

    as_of: date
    light: ColumnElement[str]
    # The local day of a UTC timestamp column (comparable with a Date column).
    local_day: Any = None
    # The last due date still "due soon" on ``as_of``.
    last_soon: date | None = None

    def matches(self, light: Light) -> ColumnElement[bool]:
        """True for the tasks whose light is ``light`` on the rule's day: what
        that light implies of the state and due date first (an index on the
        due date can narrow the tasks), then the ``CASE`` itself, except for
        red, which is exactly open and past due."""
        still_open = Task.state.in_(_OPEN)
        if light is Light.RED:
            return and_(still_open, Task.due < self.as_of)
        not_past_due = [still_open, Task.due >= self.as_of]
        implied: dict[Light, list[ColumnElement[bool]]] = {
            Light.YELLOW: not_past_due,
            Light.BLUE: [*not_past_due, Task.due <= (self.last_soon or self.as_of)],
            Light.LATE: [Task.state.in_(_DONE)],
            Light.GREEN: [Task.state != TaskState.CANCELLED.value],
        }
        return and_(*implied[light], self.light == light.value)


def light_rule(
    session: Session,
    *,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
    policy: StatusPolicy | None = None,
) -> LightRule | None:
    """The light of every task on ``as_of`` as SQL (see the module docstring),
    or None when SQL cannot say it exactly here."""
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
    late = and_(Task.submitted_at.is_not(None), local_day(Task.submitted_at) > Task.due)
    yellow = or_(
        _missing_report(
            first.astimezone(zone).date(), as_of, calendar, policy, zone, local_day
        ),
        Task.id.in_(behind) if behind else false(),
    )
    last_soon = _last_soon_day(as_of, calendar, policy)
    light = case(
        (Task.state == TaskState.CANCELLED.value, CANCELLED),
        (Task.state.in_(_DONE), case((late, Light.LATE.value), else_=Light.GREEN.value)),
        (Task.due < as_of, Light.RED.value),
        (yellow, Light.YELLOW.value),
        (Task.due <= last_soon, Light.BLUE.value),
        else_=Light.GREEN.value,
    )
    return LightRule(as_of, light, local_day, last_soon)


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
    first_day: date,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    zone: tzinfo,
    local_day: Any,
) -> ColumnElement[bool]:
    """True for a task that lacks a report owed by ``as_of`` (the periods
    from the first assignment on, whose known deadline has passed)."""
    event = aliased(TaskEvent)
    owed = []
    previous: date | None = None
    for period in report_periods(first_day, as_of, calendar, policy):
        deadline = period.known_deadline
        if deadline is not None and deadline < as_of:
            window = [
                event.task_id == Task.id,
                event.action == Action.REPORT.value,
                event.at < _start(deadline + timedelta(days=1), zone),
                local_day(event.at) > local_day(Task.assigned_at),
            ]
            if previous is not None:
                window.append(event.at >= _start(previous + timedelta(days=1), zone))
            owed.append(
                and_(
                    Task.assigned_at < _start(period.period_end, zone),
                    Task.due >= period.period_end,
                    ~exists().where(*window),
                )
            )
        previous = period.period_end
    return or_(false(), *owed)


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
