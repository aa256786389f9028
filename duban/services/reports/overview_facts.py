"""What the measures' dashboard counts of every task of a plan.

:func:`sql_facts` counts each measure's light, the departments with tasks and,
for the charts, the tasks of each section by light, of each department by
state and the overdue trend, in SQL (:mod:`duban.services.tasks.light_sql`);
:func:`python_facts` does it task by task where SQL cannot tell the lights.
Both return :class:`PlanFacts`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from duban.domain.lifecycle import TaskState
from duban.domain.status import Light, TaskStatus, worst_light
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ledger_model import NO_SECTION
from duban.services.reports.overview_pick import (
    RANKS,
    MeasurePick,
    PickFilters,
    PickRows,
    materialized,
    measure_lights,
    pick_measures,
    pick_parts,
)
from duban.services.reports.summary_charts import ChartRow, trend_days
from duban.services.tasks.light_sql import LightRule
from duban.services.tasks.lights import light_tasks
from models import Department, Measure, Plan, Section, Task


@dataclass
class PlanFacts:
    """What the overview needs of every task of a plan: each measure's light
    and task count (cancelled tasks left out), the measures each department
    has a task in, every department with a task, and the rows to chart."""

    lights: dict[int, dict[Light, int]]
    departments: list[str]
    chart_rows: Sequence[ChartRow]
    measures_of: Callable[[str], set[int]]
    # The overdue trend counted in SQL (of ``department`` when one is
    # chosen); None: count it from ``chart_rows``.
    trend: list[tuple[date, int]] | None = None
    # The measures shown and counted, when picked in SQL (``lights`` is
    # then empty); None: pick them from ``lights``.
    pick: MeasurePick | None = None
    # The department chart's rows when counted apart from ``chart_rows``
    # (which then count the sections only); None: ``chart_rows``.
    department_rows: Sequence[ChartRow] | None = None

    def tasks_of(self, measure_id: int) -> int:
        return sum(self.lights.get(measure_id, {}).values())

    def light_of(self, measure_id: int) -> Light:
        return worst_light(self.lights.get(measure_id, {}))

    def with_department(self, name: str) -> set[int]:
        return self.measures_of(name)


def python_facts(
    session: Session, plan_id: int, *, as_of: date, calendar: WorkCalendar, zone: tzinfo
) -> PlanFacts:
    tasks = light_tasks(
        session, where=[Measure.plan_id == plan_id], as_of=as_of, calendar=calendar, zone=zone
    )
    lights: dict[int, dict[Light, int]] = defaultdict(dict)
    measures: dict[str, set[int]] = defaultdict(set)
    for task in tasks:
        if not task.cancelled:
            counts = lights[task.measure_id]
            counts[task.light] = counts.get(task.light, 0) + 1
            measures[task.department].add(task.measure_id)
    return PlanFacts(
        lights=lights,
        departments=sorted({t.department for t in tasks}),
        chart_rows=tasks,
        measures_of=lambda name: measures.get(name, set()),
    )


def sql_facts(
    session: Session,
    rule: LightRule,
    plan_id: int,
    *,
    filters: PickFilters,
    zone: tzinfo,
    charts: bool,
) -> PlanFacts:
    """The measures ``filters`` pick (:mod:`~duban.services.reports.overview_pick`),
    counted from each measure's worst light in one grouped pass over the
    plan's tasks; with ``charts``, the chart groups (``chart_rows`` by
    section, ``department_rows`` by department) and the overdue trend (of
    ``filters.department`` when chosen) too (:func:`_charted`). ``lights``
    is left empty."""
    names: dict[int, str] = {
        i: n for i, n in session.execute(select(Department.id, Department.name))
    }
    if not charts:
        return PlanFacts(
            lights={},
            departments=_departments(session, plan_id, names),
            chart_rows=[],
            measures_of=lambda name: set(),
            trend=[],
            pick=pick_measures(session, rule, plan_id, filters),
        )
    department = filters.department
    days = trend_days(rule.as_of, date.min)
    sections, groups, overdue, pick, first = _charted(session, rule, plan_id, names, zone,
                                                      filters)
    active = [g for g in groups if not g.cancelled]
    counted = [late for name, late in overdue if department in (None, name)]
    return PlanFacts(
        lights={},
        departments=sorted({g.department for g in groups}),
        chart_rows=sections,
        measures_of=lambda name: set(),
        trend=[] if first is None else [
            (day, sum(late.weight for late in counted if late.overdue_on(day)))
            for day in days if day >= first
        ],
        pick=pick,
        department_rows=active,
    )


def _departments(session: Session, plan_id: int, names: dict[int, str]) -> list[str]:
    """Every department with a task of the plan (cancelled ones too), by name.
    Each department's tasks are looked at until one of the plan's is found
    (PostgreSQL hashed every department's tasks with a join: ~100 ms at 100k)."""
    plan_of = select(Measure.plan_id).where(Measure.id == Task.measure_id).scalar_subquery()
    has_task = (
        select(Task.id).where(Task.department_id == Department.id, plan_of == plan_id).exists()
    )
    return sorted(names[i] for i in session.scalars(select(Department.id).where(has_task)))


@dataclass(frozen=True)
class ChartGroup:
    """Tasks alike as the dashboard's bar charts see them, counted in SQL
    (a :class:`~duban.services.reports.summary_charts.ChartRow` of ``weight``
    tasks). ``status`` tells overdue (red) from the rest only; ``due`` and
    ``submitted_on`` are not kept (the trend is counted in SQL too), nor is
    ``assigned_on`` (the day counted; the trend's first day is read apart), so
    :func:`~duban.services.reports.summary_charts.overdue_trend` of groups is
    meaningless: chart them with their ``trend``."""

    plan: str
    section: str
    section_number: int | None
    department: str
    state: TaskState
    light: Light
    assigned_on: date
    weight: int
    due: date = date.max
    submitted_on: date | None = None
    cancelled: bool = False

    @property
    def status(self) -> TaskStatus:
        return TaskStatus.OVERDUE if self.light is Light.RED else TaskStatus.NOT_YET_DUE


_SECTIONS = 12  # a pick's statement's rows of section counts (see _measures_and_sections)
_DONE = [TaskState.SUBMITTED.value, TaskState.APPROVED.value]


@dataclass(frozen=True)
class _PastDue:
    """``weight`` tasks not cancelled, past due by the rule's day, that were
    overdue on some day: open ones (``submitted_on`` None), and 报结 after
    the due date (on ``submitted_on``)."""

    due: date
    submitted_on: date | None
    weight: int

    def overdue_on(self, day: date) -> bool:
        """:func:`~duban.services.reports.summary_charts.overdue_on`."""
        return self.due < day and (self.submitted_on is None or self.submitted_on > day)


def _charted(
    session: Session,
    rule: LightRule,
    plan_id: int,
    names: dict[int, str],
    zone: tzinfo,
    filters: PickFilters,
) -> tuple[list[ChartGroup], list[ChartGroup], list[tuple[str, _PastDue]], MeasurePick,
           date | None]:
    """What the dashboard's charts count of the plan's tasks, each grouping
    read in the order of an index so SQLite counts without sorting every
    task (one statement lighting every task once into a materialized table,
    then grouping it three ways, cost ~0.3 s of CPU at 100k tasks):

    - the measures ``filters`` pick, and the tasks of each section by light
      (the chosen department's only), from each measure's tasks
      (:func:`_measures_and_sections`);
    - the tasks of each department by state and due date
      (:func:`_departments_by_due`), added up by state, overdue
      or not, cancelled ones as groups of their own for the list of
      departments (:func:`_departments_by_state`: red is exactly open and
      past due, so no light is read);
    - for the overdue trend, the tasks overdue on a day of the trend by
      department and due date: the open ones from the same groups, the
      报结 ones by the first day of the trend they were submitted by
      (:func:`_past_due`, :class:`_PastDue`: a few distinct dates, counted
      day by day in Python).

    - the local day of the earliest assignment of the tasks not cancelled
      (of ``filters.department`` when chosen), where the trend starts
      (:func:`_first_assigned`).

    Returns the section groups, the department groups, the trend's rows, the
    pick and that day (None: no such task)."""
    plan_key = session.scalar(select(Plan.key).where(Plan.id == plan_id)) or ""
    headings: dict[int | None, tuple[int | None, str]] = {
        section_id: (number, f"{label}、{title}" if label else title)
        for section_id, number, label, title in session.execute(
            select(Section.id, Section.number, Section.label, Section.title)
            .where(Section.plan_id == plan_id)
        )
    }
    pick, by_section = _measures_and_sections(session, rule, plan_id, filters)
    # The sections' chart reads their lights only (not the state).
    section_groups = []
    for section_id, light, count in by_section:
        number, heading = headings.get(section_id, (None, NO_SECTION))
        section_groups.append(ChartGroup(
            plan=plan_key, section=heading, section_number=number,
            department=filters.department or "", state=TaskState.ASSIGNED, light=light,
            assigned_on=rule.as_of, weight=count,
        ))
    of_plan = _plan_tasks(session, plan_id)
    by_due = _departments_by_due(session, of_plan)
    department_groups = [
        ChartGroup(
            plan=plan_key, section=NO_SECTION, section_number=None,
            department=names[department_id], state=TaskState(state),
            light=Light.RED if overdue else Light.GREEN, assigned_on=rule.as_of,
            weight=count, cancelled=state == TaskState.CANCELLED.value,
        )
        for department_id, state, overdue, count in _departments_by_state(by_due, rule.as_of)
    ]
    past_due = _past_due(session, rule, of_plan, names, zone, by_due)
    chosen = None if filters.department is None else [
        department_id for department_id, name in names.items() if name == filters.department]
    first = _first_assigned(session, of_plan, chosen, zone)
    return section_groups, department_groups, past_due, pick, first


def _plan_tasks(session: Session, plan_id: int) -> list[ColumnElement[bool]]:
    """The condition on Task of being the plan's: none when no other plan
    has a task (then an index without the measure answers, e.g. a grouping
    by department over ``ix_tasks_scorecard``)."""
    others = session.scalar(
        select(Measure.id)
        .where(Measure.plan_id != plan_id,
               select(Task.id).where(Task.measure_id == Measure.id).exists())
        .limit(1)
    )
    if others is None:
        return []
    return [Task.measure_id.in_(select(Measure.id).where(Measure.plan_id == plan_id))]


def _measures_and_sections(
    session: Session, rule: LightRule, plan_id: int, filters: PickFilters
) -> tuple[MeasurePick, list[tuple[int | None, Light, int]]]:
    """The pick, and (section id, light, tasks) of the plan's tasks not
    cancelled (of ``filters.department`` when chosen), in one statement:
    without a department, the sections' counts add up each measure's
    (:func:`~duban.services.reports.overview_pick.measure_lights` with its
    counts, worked out once for both); with one, from its own tasks."""
    department = filters.department
    every = measure_lights(rule, plan_id, light_counts=department is None)
    per_measure = materialized(session, every.cte("per_measure"))
    columns = per_measure.c
    integer = [cast(null(), Integer) for _light in Light]

    def layout(part: Any, key: Any, worst: Any, n: Any) -> list[Any]:
        return [part, key, worst, n, *integer]

    if department is None:
        sections = (
            select(literal(_SECTIONS), columns.section_id, cast(null(), Integer),
                   cast(null(), Integer),
                   *(cast(func.sum(columns[each.value]), Integer) for each in Light))
            .group_by(columns.section_id)
        )
    else:
        # Grouped outside the subquery: PostgreSQL takes a GROUP BY
        # expression with bound values for another than the SELECT's.
        lit = (
            select(Measure.section_id.label("section_id"),
                   case(RANKS, value=rule.light).label("rank"))
            .select_from(Task)
            .join(Measure, Task.measure_id == Measure.id)
            .join(Department, Task.department_id == Department.id)
            .where(Measure.plan_id == plan_id, Department.name == department,
                   Task.state != TaskState.CANCELLED.value)
            .subquery("theirs")
        )
        sections = (
            select(literal(_SECTIONS), lit.c.section_id, lit.c.rank, func.count(), *integer)
            .group_by(lit.c.section_id, lit.c.rank)
        )
    where: list[ColumnElement[bool]] = []
    if filters.section is not None:
        where.append(columns.id.in_(
            select(Measure.id)
            .join(Section, Measure.section_id == Section.id)
            .where(Section.plan_id == plan_id, Section.number == filters.section)
        ))
    if department is not None:
        where += [columns.id.in_(
            select(Task.measure_id)
            .join(Department, Task.department_id == Department.id)
            .where(Department.name == department, Task.state != TaskState.CANCELLED.value)
        )]
    picked = pick_parts(session, per_measure, filters, layout=layout, where=where)
    rows = PickRows()
    counted: dict[tuple[int | None, Light], int] = {}
    for part, key, worst, n, *by_light in session.execute(union_all(sections, *picked)):
        if rows.add(part, key, worst, n):
            continue
        if department is None:
            for each, count in zip(Light, by_light, strict=True):
                counted[(key, each)] = counted.get((key, each), 0) + (count or 0)
        else:
            counted[(key, list(Light)[worst])] = n
    return rows.pick(), [(section, light, n) for (section, light), n in counted.items() if n]


# (department id, state, due date, tasks)
_ByDue = tuple[int, str, date, int]


def _departments_by_due(
    session: Session, of_plan: list[ColumnElement[bool]]
) -> list[_ByDue]:
    """(department id, state, due date, tasks) of the plan's tasks, in the
    order of ``ix_tasks_scorecard``, which alone answers (no sort): what the
    department chart and the trend's open tasks count."""
    return [
        (department_id, state, due, count)
        for department_id, state, due, count in session.execute(
            select(Task.department_id, Task.state, Task.due, func.count())
            .where(*of_plan)
            .group_by(Task.department_id, Task.state, Task.due)
        )
    ]


def _first_assigned(
    session: Session, of_plan: list[ColumnElement[bool]], department_ids: list[int] | None,
    zone: tzinfo,
) -> date | None:
    """The local day of the earliest assignment of the plan's tasks not
    cancelled (of ``department_ids`` when given; None: no such task), the
    first by the assignment index (a min() grouped with the department
    chart's counts cost a third of that pass on SQLite)."""
    query = (
        select(Task.assigned_at)
        .where(*of_plan, Task.state != TaskState.CANCELLED.value)
        .order_by(Task.assigned_at)
        .limit(1)
    )
    if department_ids is not None:
        query = query.where(Task.department_id.in_(department_ids))
    found = session.scalar(query)
    return None if found is None else _day(found, zone)


def _departments_by_state(
    by_due: list[_ByDue], as_of: date
) -> list[tuple[int, str, bool, int]]:
    """(department id, state, overdue, tasks) of the plan's tasks, by
    department and state: overdue is open and past due on ``as_of`` (its
    light is red)."""
    grouped: dict[tuple[int, str], list[int]] = {}
    for department_id, state, due, count in by_due:
        found = grouped.get((department_id, state))
        if found is None:
            found = grouped[(department_id, state)] = [0, 0]
        found[0] += count
        if due < as_of:
            found[1] += count
    rows = []
    for (department_id, state), (count, late) in sorted(grouped.items()):
        open_ = state not in _DONE and state != TaskState.CANCELLED.value
        overdue = late if open_ else 0
        if overdue:
            rows.append((department_id, state, True, overdue))
        if count - overdue:
            rows.append((department_id, state, False, count - overdue))
    return rows


def _past_due(
    session: Session, rule: LightRule, of_plan: list[ColumnElement[bool]],
    names: dict[int, str], zone: tzinfo, by_due: list[_ByDue],
) -> list[tuple[str, _PastDue]]:
    """The plan's tasks that were overdue on a day of the trend, by
    department and due date (:class:`_PastDue`): the open ones past due
    from ``by_due``; the 报结 ones by the first day of the trend on which
    they were submitted (their ``submitted_on`` that day: it tells the days
    of the trend overdue as their day of 报结 does), read by comparing the
    instant of 报结 with the days' local midnights, so no local day is
    worked out per task (the local day of 报结 is after a day exactly when
    the instant is at or after the next day's local midnight). Done ones
    without an instant of 报结 never count (as overdue_on in SQL had it)."""
    days = trend_days(rule.as_of, date.min)
    open_late: dict[tuple[int, date], int] = defaultdict(int)
    for department_id, state, due, count in by_due:
        if due < rule.as_of and state not in _DONE and state != TaskState.CANCELLED.value:
            open_late[(department_id, due)] += count
    found = [(names[department_id], _PastDue(due, None, count))
             for (department_id, due), count in open_late.items()]
    if not days:
        return found
    # The instant from which the local day of 报结 is after each day.
    after = [datetime.combine(day + timedelta(days=1), time.min, zone) for day in days]
    # The first day of the trend on which the task was submitted (its index;
    # len(days): after every day), so it was overdue on the days before it.
    submitted_by = case(
        *((Task.submitted_at < moment, index) for index, moment in enumerate(after)),
        else_=len(days),
    )
    # Grouped outside the subquery, as in _measures_and_sections. Every
    # department named: SQLite then reads ix_tasks_scorecard from a range of
    # each (department, state) pair's due dates instead of all of it (it
    # skips no leading column without statistics).
    late = (
        select(Task.department_id.label("department_id"), Task.due.label("due"),
               submitted_by.label("submitted_by"))
        .where(*of_plan, Task.department_id.in_(select(Department.id)),
               Task.state.in_(_DONE), Task.due < rule.as_of, Task.submitted_at >= after[0])
        .subquery("late")
    )
    rows = session.execute(
        select(late.c.department_id, late.c.due, late.c.submitted_by, func.count())
        .group_by(late.c.department_id, late.c.due, late.c.submitted_by)
    )
    for department_id, due, index, count in rows:
        on = days[index] if index < len(days) else date.max
        found.append((names[department_id], _PastDue(due, on, count)))
    return found


def _day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()
