"""What the measures' dashboard counts of every task of a plan.

:func:`sql_facts` counts each measure's light, the departments with tasks and,
for the charts, groups of alike tasks and the overdue trend, in SQL
(:mod:`duban.services.tasks.light_sql`); :func:`python_facts` does it task by
task where SQL cannot tell the lights. Both return :class:`PlanFacts`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import (
    Date,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from duban.domain.lifecycle import TaskState
from duban.domain.status import Light, TaskStatus, worst_light
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ledger_model import NO_SECTION
from duban.services.reports.overview_pick import (
    MeasurePick,
    PickFilters,
    PickRows,
    lights_of_lit,
    pick_measures,
    pick_parts,
)
from duban.services.reports.summary_charts import ChartRow, trend_days
from duban.services.tasks.light_sql import CANCELLED, LightRule, lit_once
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
    plan's tasks; with ``charts``, the chart groups and the overdue trend
    (of ``filters.department`` when chosen) too, in one statement that
    lights each task once (:func:`_charted`). ``lights`` is left empty."""
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
    groups, overdue, pick = _charted(session, rule, plan_id, names, zone, filters)
    active = [g for g in groups if not g.cancelled]
    mine = [g for g in active if department is None or g.department == department]
    first = min((g.assigned_on for g in mine), default=None)
    counted = [late for name, late in overdue if department in (None, name)]
    return PlanFacts(
        lights={},
        departments=sorted({g.department for g in groups}),
        chart_rows=active,
        measures_of=lambda name: set(),
        trend=[] if first is None else [
            (day, sum(late.weight for late in counted if late.overdue_on(day)))
            for day in days if day >= first
        ],
        pick=pick,
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
    ``submitted_on`` are not kept (the trend is counted in SQL too), so
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


_GROUPS, _TREND = 0, 2


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
) -> tuple[list[ChartGroup], list[tuple[str, _PastDue]], MeasurePick]:
    """One statement, three groupings of the plan's tasks lit once
    (:func:`~duban.services.tasks.light_sql.lit_once`): the tasks by section,
    department, state and light (cancelled ones as groups of their own, for
    the list of departments); the measures ``filters`` pick, by each one's
    worst light (:func:`~duban.services.reports.overview_pick.pick_parts`);
    and, for the overdue trend, the tasks that were ever overdue by the
    rule's day by department, due date and day of 报结 (:class:`_PastDue`:
    a few distinct dates, counted day by day in Python)."""
    lit = lit_once(session, rule, Measure.plan_id == plan_id)
    # Typed: PostgreSQL takes an untyped NULL in every SELECT so far for text.
    no_dates = [cast(null(), Date), cast(null(), Date)]
    # The groups first: a UNION's columns take their types from its first
    # SELECT (the earliest assignment is read back as a datetime).
    groups = (
        select(literal(_GROUPS).label("part"), lit.c.section_id, lit.c.department_id,
               lit.c.state, null(), lit.c.light, func.count(), func.min(lit.c.assigned_at),
               *no_dates)
        .group_by(lit.c.section_id, lit.c.department_id, lit.c.state, lit.c.light)
    )

    def layout(part: Any, key: Any, worst: Any, n: Any) -> list[Any]:
        return [part, key, null(), null(), worst, null(), n, null(), *no_dates]

    picked = pick_parts(session, lights_of_lit(lit), plan_id, filters, layout=layout)
    # Open tasks have no day of 报结 (NULL); those submitted on time never
    # were overdue (nor the few done without one, as overdue_on in SQL had it).
    done = lit.c.state.in_([TaskState.SUBMITTED.value, TaskState.APPROVED.value])
    trend = (
        select(literal(_TREND), null(), lit.c.department_id, null(), null(), null(),
               func.count(), null(), lit.c.due, lit.c.submitted_on)
        .where(lit.c.light != CANCELLED, lit.c.due < rule.as_of,
               or_(~done, lit.c.submitted_on > lit.c.due))
        .group_by(lit.c.department_id, lit.c.due, lit.c.submitted_on)
    )
    plan_key = session.scalar(select(Plan.key).where(Plan.id == plan_id)) or ""
    headings = {
        section_id: (number, f"{label}、{title}" if label else title)
        for section_id, number, label, title in session.execute(
            select(Section.id, Section.number, Section.label, Section.title)
            .where(Section.plan_id == plan_id)
        )
    }
    found: list[ChartGroup] = []
    overdue: list[tuple[str, _PastDue]] = []
    pick = PickRows()
    for part, key, department_id, state, worst, light, count, first, due, submitted_on in (
        session.execute(union_all(groups, *picked, trend))
    ):
        if pick.add(part, key, worst, count):
            continue
        if part == _TREND:
            overdue.append((names[department_id], _PastDue(due, submitted_on, count)))
        else:
            number, heading = headings.get(key, (None, NO_SECTION))
            cancelled = light == CANCELLED
            found.append(ChartGroup(
                plan=plan_key, section=heading, section_number=number,
                department=names[department_id], state=TaskState(state),
                light=Light.GREEN if cancelled else Light(light),
                assigned_on=_day(first, zone), weight=count, cancelled=cancelled,
            ))
    return found, overdue, pick.pick()


def _day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()
