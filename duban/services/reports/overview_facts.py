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
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from duban.domain.lifecycle import TaskState
from duban.domain.status import Light, TaskStatus, worst_light
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ledger_model import NO_SECTION
from duban.services.reports.summary_charts import ChartRow, trend_days
from duban.services.tasks.light_sql import CANCELLED, LightRule, lit_tasks
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
    lit = lit_tasks(rule, Measure.plan_id == plan_id)
    active = lit.c.light != CANCELLED
    lights: dict[int, dict[Light, int]] = defaultdict(dict)
    for measure_id, light, count in session.execute(
        select(lit.c.measure_id, lit.c.light, func.count())
        .where(active)
        .group_by(lit.c.measure_id, lit.c.light)
    ):
        lights[measure_id][Light(light)] = count
    names: dict[int, str] = {
        i: n for i, n in session.execute(select(Department.id, Department.name))
    }
    in_plan = select(Task.department_id).join(Measure, Task.measure_id == Measure.id)
    departments = sorted(
        names[i] for i in session.scalars(in_plan.where(Measure.plan_id == plan_id).distinct())
    )
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
    facts = PlanFacts(
        lights=lights,
        departments=departments,
        chart_rows=[],
        measures_of=lambda name: measures if name == department else set(),
        trend=[],
    )
    if charts:
        facts.chart_rows = groups = _chart_groups(session, lit, plan_id, names, zone)
        ids = {name: i for i, name in names.items()}
        mine = [g for g in groups if department is None or g.department == department]
        first = min((g.assigned_on for g in mine), default=None)
        facts.trend = _sql_trend(session, plan_id, rule.as_of, first,
                                 ids.get(department) if department else None, zone)
    return facts


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


def _chart_groups(
    session: Session, lit: Any, plan_id: int, names: dict[int, str], zone: tzinfo
) -> list[ChartGroup]:
    plan_key = session.scalar(select(Plan.key).where(Plan.id == plan_id)) or ""
    headings = {
        section_id: (number, f"{label}、{title}" if label else title)
        for section_id, number, label, title in session.execute(
            select(Section.id, Section.number, Section.label, Section.title)
            .where(Section.plan_id == plan_id)
        )
    }
    rows = session.execute(
        select(
            Measure.section_id, lit.c.department_id, lit.c.state, lit.c.light,
            func.min(lit.c.assigned_at), func.count(),
        )
        .join(Measure, Measure.id == lit.c.measure_id)
        .where(lit.c.light != CANCELLED)
        .group_by(Measure.section_id, lit.c.department_id, lit.c.state, lit.c.light)
    )
    groups = []
    for section_id, department_id, state, light, first, count in rows:
        number, heading = headings.get(section_id, (None, NO_SECTION))
        groups.append(
            ChartGroup(
                plan=plan_key, section=heading, section_number=number,
                department=names[department_id], state=TaskState(state), light=Light(light),
                assigned_on=_day(first, zone), weight=count,
            )
        )
    return groups


def _sql_trend(
    session: Session,
    plan_id: int,
    as_of: date,
    first: date | None,
    department_id: int | None,
    zone: tzinfo,
) -> list[tuple[date, int]]:
    """:func:`~duban.services.reports.summary_charts.overdue_trend` in one
    query: on each day, the tasks past due and not submitted by its end (a
    返回 报结 counts as not submitted: only submitted and approved tasks keep
    theirs)."""
    if first is None:
        return []
    days = trend_days(as_of, first)
    if not days:
        return []
    done = Task.state.in_([TaskState.SUBMITTED.value, TaskState.APPROVED.value])
    sums = [
        func.sum(
            case(
                (
                    and_(
                        Task.due < day,
                        ~and_(done, Task.submitted_at < _start(day + timedelta(days=1), zone)),
                    ),
                    1,
                ),
                else_=0,
            )
        )
        for day in days
    ]
    query = (
        select(*sums)
        .join(Measure, Task.measure_id == Measure.id)
        .where(Measure.plan_id == plan_id, Task.state != TaskState.CANCELLED.value)
    )
    if department_id is not None:
        query = query.where(Task.department_id == department_id)
    counts = session.execute(query).one()
    return [(day, int(n or 0)) for day, n in zip(days, counts, strict=True)]


def _start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, zone)


def _day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()
