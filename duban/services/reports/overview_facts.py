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
    ColumnElement,
    Integer,
    and_,
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
    department: str | None,
    zone: tzinfo,
    charts: bool,
) -> PlanFacts:
    """Each measure's worst light and task count in one grouped pass over the
    plan's tasks; with ``charts``, the chart groups and the overdue trend
    too, in one statement that lights each task once (:func:`_charted`)."""
    names: dict[int, str] = {
        i: n for i, n in session.execute(select(Department.id, Department.name))
    }
    measures: set[int] = set()
    if department:
        measures = set(
            session.scalars(
                select(Task.measure_id)
                .join(Measure, Task.measure_id == Measure.id)
                .join(Department, Department.id == Task.department_id)
                .where(Measure.plan_id == plan_id, Department.name == department,
                       Task.state != TaskState.CANCELLED.value)
                .distinct()
            )
        )
    if not charts:
        return PlanFacts(
            lights=_measure_lights(session, rule, plan_id),
            departments=_departments(session, plan_id, names),
            chart_rows=[],
            measures_of=lambda name: measures if name == department else set(),
            trend=[],
        )
    days = trend_days(rule.as_of, date.min)
    lights, groups, overdue = _charted(session, rule, plan_id, days, names, zone)
    active = [g for g in groups if not g.cancelled]
    mine = [g for g in active if department is None or g.department == department]
    first = min((g.assigned_on for g in mine), default=None)
    counted = [sums for name, sums in overdue.items() if department in (None, name)]
    return PlanFacts(
        lights=lights,
        departments=sorted({g.department for g in groups}),
        chart_rows=active,
        measures_of=lambda name: measures if name == department else set(),
        trend=[] if first is None else [
            (day, sum(sums[index] for sums in counted))
            for index, day in enumerate(days) if day >= first
        ],
    )


def _measure_lights(
    session: Session, rule: LightRule, plan_id: int
) -> dict[int, dict[Light, int]]:
    """{measure id: {its worst light: its task count}} (cancelled tasks left
    out; a measure without tasks left out), in one pass in measure order."""
    rows = session.execute(
        select(Task.measure_id, func.min(case(_RANKS, value=rule.light)), func.count())
        .join(Measure, Task.measure_id == Measure.id)
        .where(Measure.plan_id == plan_id, Task.state != TaskState.CANCELLED.value)
        .group_by(Task.measure_id)
    )
    ranked = list(Light)
    return {measure_id: {ranked[worst]: count} for measure_id, worst, count in rows}


def _departments(session: Session, plan_id: int, names: dict[int, str]) -> list[str]:
    """Every department with a task of the plan (cancelled ones too), by name."""
    has_task = (
        select(Task.id)
        .join(Measure, Task.measure_id == Measure.id)
        .where(Task.department_id == Department.id, Measure.plan_id == plan_id)
        .exists()
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


# Ranks of the lights, worst first (Light iterates worst first).
_RANKS = {light.value: rank for rank, light in enumerate(Light)}
_GROUPS, _MEASURES, _TREND = 0, 1, 2


def _charted(
    session: Session,
    rule: LightRule,
    plan_id: int,
    days: list[date],
    names: dict[int, str],
    zone: tzinfo,
) -> tuple[dict[int, dict[Light, int]], list[ChartGroup], dict[str, list[int]]]:
    """One statement, three groupings of the plan's tasks lit once
    (:func:`~duban.services.tasks.light_sql.lit_once`): the tasks by section,
    department, state and light (cancelled ones as groups of their own, for
    the list of departments); each measure's worst light and task count as
    :func:`_measure_lights`; and per department, for each of ``days``, how
    many were overdue at its end (:func:`_overdue_on`; only tasks past due
    by the rule's day can be)."""
    lit = lit_once(session, rule, Measure.plan_id == plan_id)
    # Typed: PostgreSQL takes an untyped NULL in every SELECT so far for text.
    no_sums = [cast(null(), Integer) for _ in days]
    # The groups first: a UNION's columns take their types from its first
    # SELECT (the earliest assignment is read back as a datetime).
    groups = (
        select(literal(_GROUPS).label("part"), lit.c.section_id, lit.c.department_id,
               lit.c.state, null(), lit.c.light, func.count(), func.min(lit.c.assigned_at),
               *no_sums)
        .group_by(lit.c.section_id, lit.c.department_id, lit.c.state, lit.c.light)
    )
    measures = (
        select(literal(_MEASURES), lit.c.measure_id, null(), null(),
               func.min(case(_RANKS, value=lit.c.light)), null(), func.count(), null(),
               *no_sums)
        .where(lit.c.light != CANCELLED)
        .group_by(lit.c.measure_id)
    )
    trend = (
        select(literal(_TREND), null(), lit.c.department_id, null(), null(), null(), null(),
               null(), *[func.sum(case((_overdue_on(lit, day), 1), else_=0)) for day in days])
        .where(lit.c.light != CANCELLED, lit.c.due < rule.as_of)
        .group_by(lit.c.department_id)
    )
    plan_key = session.scalar(select(Plan.key).where(Plan.id == plan_id)) or ""
    headings = {
        section_id: (number, f"{label}、{title}" if label else title)
        for section_id, number, label, title in session.execute(
            select(Section.id, Section.number, Section.label, Section.title)
            .where(Section.plan_id == plan_id)
        )
    }
    lights: dict[int, dict[Light, int]] = {}
    found: list[ChartGroup] = []
    overdue: dict[str, list[int]] = {}
    ranked = list(Light)
    for part, key, department_id, state, worst, light, count, first, *sums in session.execute(
        union_all(groups, measures, trend)
    ):
        if part == _MEASURES:
            lights[key] = {ranked[worst]: count}
        elif part == _TREND:
            overdue[names[department_id]] = [int(n or 0) for n in sums]
        else:
            number, heading = headings.get(key, (None, NO_SECTION))
            cancelled = light == CANCELLED
            found.append(ChartGroup(
                plan=plan_key, section=heading, section_number=number,
                department=names[department_id], state=TaskState(state),
                light=Light.GREEN if cancelled else Light(light),
                assigned_on=_day(first, zone), weight=count, cancelled=cancelled,
            ))
    return lights, found, overdue


def _overdue_on(lit: Any, day: date) -> ColumnElement[bool]:
    """:func:`~duban.services.reports.summary_charts.overdue_on` in SQL: past
    due by ``day`` and not submitted by its end (a returned 报结 counts as
    not submitted: only submitted and approved tasks keep theirs)."""
    done = lit.c.state.in_([TaskState.SUBMITTED.value, TaskState.APPROVED.value])
    return and_(lit.c.due < day, ~and_(done, lit.c.submitted_on <= day))


def _day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()
