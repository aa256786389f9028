"""Which measures of a plan the dashboard shows, picked in SQL: the filters
(section, department, light), the page (number order, offset and limit), the
number of matches and the matches per light, from each measure's worst light
and task count grouped over its tasks — so a page reads a few rows, not every
measure of the plan.

:func:`measure_lights` groups each measure's tasks as the measures come in
number order; :func:`pick_parts` gives the SELECTs over it (to run alone,
:func:`pick_measures`, or as parts of a larger UNION ALL); :class:`PickRows`
reads their rows back.
:func:`pick_in_python` is the same choice made from every measure's light in
Python, for when SQL cannot tell the lights; ``tests/reports/test_overview_pick.py``
holds both to the domain's lights task by task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from duban.domain.lifecycle import TaskState
from duban.domain.status import Light
from duban.services.tasks.light_sql import LightRule
from models import Department, Measure, MeasureLights, Section, Task

# Ranks of the lights, worst first (Light iterates worst first).
RANKS = {light.value: rank for rank, light in enumerate(Light)}
_BY_RANK = list(Light)
# A pick's rows (part, key, worst, n): PAGE, a measure shown (key: its id,
# worst: its number, for the page's order); COUNTS, how many matches (key)
# have the worst light ranked ``worst`` (NULL: no tasks), ``n`` of them with tasks.
PAGE, COUNTS = 10, 11


@dataclass(frozen=True)
class PickFilters:
    """The dashboard's filters and page: ``section`` (its number),
    ``department`` (official name: measures where it has a task that is not
    cancelled), ``light`` (the measure's worst light; green for a measure
    without tasks), ``limit`` measures from ``offset`` (all with None)."""

    section: int | None = None
    department: str | None = None
    light: Light | None = None
    offset: int = 0
    limit: int | None = None


@dataclass(frozen=True)
class MeasurePick:
    """``ids``: the page's measures, in number order; ``total``: every match;
    ``counts``: matches per light (by value; a measure without tasks has none)."""

    ids: list[int]
    total: int
    counts: dict[str, int]


def measure_lights(
    rule: LightRule,
    plan_id: int,
    *,
    where: Sequence[ColumnElement[bool]] = (),
    light_counts: bool = False,
) -> Select[Any] | CompoundSelect:
    """Each measure of the plan that ``where`` keeps (conditions on Measure):
    ``id``, ``number``, ``worst`` (the rank of its worst
    light, 0 = red; NULL without tasks) and ``n`` (its tasks, NULL without);
    with ``light_counts``, also its ``section_id`` and its tasks of each light
    (columns named by the light's value). Cancelled tasks are left out.

    The measures are read in (plan, number) order from their unique index
    and each one's tasks joined from ``ix_tasks_measure_lights``, so SQLite
    groups them as they come (number is unique in the plan; the id makes it
    a valid GROUP BY on PostgreSQL): grouped by the tasks' measure id, it
    sorted every task of the plan first. Where lights are stored, the
    measures kept in ``measure_lights`` are read from their row instead
    (:mod:`duban.services.tasks.kept_lights`), the rest grouped so."""
    light = rule.light
    columns: list[Any] = [
        Measure.id.label("id"), Measure.number.label("number"),
        func.min(case(RANKS, value=light)).label("worst"),
        func.nullif(func.count(Task.id), 0).label("n"),
    ]
    if light_counts:
        columns.append(Measure.section_id.label("section_id"))
        columns += [func.count(case((light == each.value, 1))).label(each.value)
                    for each in Light]
    grouped = (
        select(*columns)
        .select_from(Measure)
        .outerjoin(Task, and_(Task.measure_id == Measure.id,
                              Task.state != TaskState.CANCELLED.value))
        .where(Measure.plan_id == plan_id, *where)
        .group_by(Measure.number, Measure.id)
    )
    if rule.stored is None:
        return grouped
    # Where lights are stored: the measures kept in measure_lights (their row
    # of the generations read and none of their tasks stale) from that row,
    # only the others grouped over their tasks (see kept_lights).
    low, high = rule.stored
    kept = MeasureLights
    # The measures with a stale task, a range of the light_key index each
    # (as one OR, SQLite scanned every task's measure_id).
    stale = union_all(*(select(Task.measure_id).where(each) for each in rule.stale_ranges()))
    current = and_(kept.measure_id == Measure.id, kept.light_key >= low, kept.light_key <= high)
    counts = {each: getattr(kept, each.value) for each in Light}
    from_kept: list[Any] = [
        Measure.id.label("id"), Measure.number.label("number"),
        case(*((counts[each] > 0, RANKS[each.value]) for each in Light),
             else_=cast(null(), Integer)).label("worst"),
        func.nullif(kept.tasks, 0).label("n"),
    ]
    if light_counts:
        from_kept.append(Measure.section_id.label("section_id"))
        from_kept += [counts[each].label(each.value) for each in Light]
    return union_all(
        select(*from_kept)
        .select_from(Measure)
        .join(kept, current)
        .where(Measure.plan_id == plan_id, *where, Measure.id.not_in(stale)),
        grouped.where(or_(~exists().where(current), Measure.id.in_(stale))),
    )


def measure_filters(plan_id: int, filters: PickFilters) -> list[ColumnElement[bool]]:
    """The conditions on Measure of the section and department filters."""
    conditions: list[ColumnElement[bool]] = []
    if filters.section is not None:
        conditions.append(Measure.section_id.in_(
            select(Section.id).where(Section.plan_id == plan_id,
                                     Section.number == filters.section)
        ))
    if filters.department:
        # The department's tasks through their index, not each measure's.
        conditions.append(Measure.id.in_(
            select(Task.measure_id)
            .join(Department, Task.department_id == Department.id)
            .where(Department.name == filters.department,
                   Task.state != TaskState.CANCELLED.value)
        ))
    return conditions


def _plain(part: Any, key: Any, worst: Any, n: Any) -> list[Any]:
    return [part, key, worst, n]


def pick_parts(
    session: Session,
    per_measure: Any,
    filters: PickFilters,
    *,
    layout: Callable[[Any, Any, Any, Any], list[Any]] = _plain,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[Select[Any]]:
    """Two SELECTs of the columns (part, key, worst, n), as ``layout`` places
    them among others of a larger UNION: the page's measures and the matches
    grouped by worst light (see :data:`PAGE` and :data:`COUNTS`).
    ``per_measure`` is :func:`measure_lights` (a subquery or a CTE) with the
    section and department filters already applied, or ``where`` applies
    them to its columns; the light filter is applied here."""
    conditions = list(where)
    worst = per_measure.c.worst
    if filters.light is not None:
        conditions.append(
            func.coalesce(worst, RANKS[Light.GREEN.value]) == RANKS[filters.light.value]
        )
    matching = materialized(
        session,
        select(per_measure.c.id, per_measure.c.number, worst, per_measure.c.n)
        .where(*conditions)
        .cte("matching"),
    )
    page = (
        select(matching.c.id, matching.c.number)
        .order_by(matching.c.number, matching.c.id)
        .offset(filters.offset)
    )
    if filters.limit is not None:
        page = page.limit(filters.limit)
    shown = page.subquery("shown")
    return [
        select(*layout(literal(PAGE), shown.c.id, shown.c.number, cast(null(), Integer))),
        select(*layout(literal(COUNTS), func.count(), matching.c.worst,
                       func.count(matching.c.n)))
        .group_by(matching.c.worst),
    ]


def materialized(session: Session, cte: Any) -> Any:
    """``cte`` worked out once per statement where the database is told so
    (it is read twice: the page and the counts)."""
    dialect = session.get_bind().dialect
    version = dialect.server_version_info or ()
    supported = {"postgresql": (12,), "sqlite": (3, 35)}.get(dialect.name)
    if supported is not None and version >= supported:
        return cte.prefix_with("MATERIALIZED")
    return cte


class PickRows:
    """Collects a pick's rows (part, key, worst, n) as they are read."""

    def __init__(self) -> None:
        self.page: list[tuple[int, int]] = []  # (number, id)
        self.total = 0
        self.counts = {each.value: 0 for each in Light}

    def add(self, part: int, key: int, worst: int | None, n: int | None) -> bool:
        """Take the row if it is a pick's; False otherwise."""
        if part == PAGE:
            self.page.append((worst or 0, key))
        elif part == COUNTS:
            self.total += key
            if worst is not None:
                self.counts[_BY_RANK[worst].value] += n or 0
        else:
            return False
        return True

    def pick(self) -> MeasurePick:
        return MeasurePick(ids=[measure_id for _number, measure_id in sorted(self.page)],
                           total=self.total, counts=self.counts)


def pick_measures(
    session: Session, rule: LightRule, plan_id: int, filters: PickFilters
) -> MeasurePick:
    """The measures of the plan the filters pick, with the rule's lights, in
    one statement."""
    rows = PickRows()
    for part, key, worst, n in session.execute(
        union_all(*pick_parts(
            session,
            measure_lights(rule, plan_id, where=measure_filters(plan_id, filters))
            .subquery("per_measure"),
            filters,
        ))
    ):
        rows.add(part, key, worst, n)
    return rows.pick()


@dataclass(frozen=True)
class PlanMeasure:
    """A measure as :func:`pick_in_python` filters it."""

    id: int
    number: int
    section_number: int | None


def pick_in_python(
    measures: Iterable[PlanMeasure],
    lights: dict[int, tuple[Light, int]],
    with_department: set[int] | None,
    filters: PickFilters,
) -> MeasurePick:
    """:func:`pick_measures` from every measure (any order) and ``lights``
    ({id: (worst light, tasks not cancelled)}, measures without such tasks
    left out); ``with_department``: the ids of the measures where the chosen
    department has a task not cancelled."""
    chosen = [
        m for m in sorted(measures, key=lambda m: (m.number, m.id))
        if (filters.section is None or m.section_number == filters.section)
        and (with_department is None or m.id in with_department)
        and (filters.light is None
             or lights.get(m.id, (Light.GREEN, 0))[0] is filters.light)
    ]
    counts = {each.value: 0 for each in Light}
    for m in chosen:
        if m.id in lights:
            counts[lights[m.id][0].value] += 1
    end = None if filters.limit is None else filters.offset + filters.limit
    return MeasurePick(ids=[m.id for m in chosen[filters.offset:end]], total=len(chosen),
                       counts=counts)
