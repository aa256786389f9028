"""The supervisors' dashboard of measures: every measure of a plan with its
light and progress as of a day, a page at a time, with the rows its charts count.

Each measure's light is the worst of its tasks' (cancelled ones left out),
counted in SQL for the whole plan; the measures shown are read with their
tasks (:mod:`duban.services.tasks.lights`) for their units, deadlines and reasons.
Results are plain dataclasses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.items import item_source_text
from duban.domain.lifecycle import TaskState
from duban.domain.status import LIGHT_LABELS, Light, TaskStatus, worst_light
from duban.domain.workdays import WorkCalendar
from duban.services.paging import Page
from duban.services.plans.catalog import find_plan, list_plans
from duban.services.reports.ledger import NO_SECTION, department_order
from duban.services.reports.summary_charts import ChartRow, trend_days
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import CANCELLED, LightRule, light_rule, lit_tasks
from duban.services.tasks.lights import LitTask, light_tasks
from models import Department, Measure, Plan, Responsibility, Section, Task


@dataclass
class MeasureRow:
    """One measure on the dashboard. ``progress`` is approved tasks / tasks."""

    id: int
    number: int
    title: str
    section: str | None
    section_number: int | None
    lead: list[str]
    departments: list[str]
    deadlines: list[date]
    light: Light
    light_label: str
    task_count: int
    approved: int
    submitted: int
    overdue: int
    reasons: list[str] = field(default_factory=list)
    source: str = ""  # a single 督办件's source and 文号

    @property
    def progress_percent(self) -> int:
        return round(100 * self.approved / self.task_count) if self.task_count else 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["deadlines"] = [d.isoformat() for d in self.deadlines]
        data["light"] = self.light.value
        return data


@dataclass
class Overview:
    plan_id: int
    plan_key: str
    plan_title: str
    as_of: date
    measures: list[MeasureRow]
    sections: list[tuple[int, str]]
    departments: list[str]
    plans: list[tuple[str, str]] = field(default_factory=list)  # (key, title), oldest first
    # Every measure that matches the filters, of which ``measures`` is a page.
    total: int = 0
    offset: int = 0
    limit: int = 1
    light_counts: dict[str, int] = field(default_factory=dict)
    # The plan's tasks (or groups of them) for the charts, and the overdue
    # trend when counted in SQL (see summary_charts.ledger_charts).
    chart_rows: Sequence[ChartRow] = field(default_factory=list, repr=False)
    department_order: dict[str, int] = field(default_factory=dict, repr=False)
    trend: list[tuple[date, int]] | None = field(default=None, repr=False)

    @property
    def counts(self) -> dict[str, int]:
        """Measures per light of every match; a measure without tasks (总体要求)
        has no light."""
        return self.light_counts

    @property
    def page(self) -> Page[MeasureRow]:
        return Page(self.measures, self.total, self.offset, self.limit)


def latest_plan_key(*, session: Session) -> str | None:
    """The key of the most recently imported plan, the years' standing plans
    of single 督办件 only when there is no other (None when there is none)."""
    plans = list_plans(session=session)
    imported = [p for p in plans if p.kind != "standing"] or plans
    return imported[-1].key if imported else None


def measure_overview(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    plan: str | None = None,
    section: int | None = None,
    department: str | None = None,
    light: Light | None = None,
    zone: tzinfo = LOCAL_ZONE,
    offset: int = 0,
    limit: int | None = None,
    charts: bool = False,
) -> Overview:
    """Measures of ``plan`` (default: the latest imported) as of ``as_of``,
    ``limit`` of them from ``offset`` (all with None); ``total`` and
    ``counts`` cover every measure that matches; with ``charts``, also the
    rows the dashboard's charts count (``chart_rows``, ``trend``).

    Filters: ``section`` (its number), ``department`` (official name: measures
    where it has a task), ``light`` (the measure's light). ``sections`` and
    ``departments`` list every choice for the filters. Raises NotFoundError
    when no plan exists or ``plan`` is unknown. The lights of every measure
    are counted in SQL (:mod:`duban.services.tasks.light_sql`; in Python
    where SQL cannot tell them); only the measures shown are read task by
    task, for their reasons.
    """
    with session_factory() as session:
        found = find_plan(plan or latest_plan_key(session=session), session=session)
        plans = [(p.key, p.title) for p in list_plans(session=session)]
        measures = _plan_measures(session, found.id)
        order = department_order(session)
        rule = light_rule(session, as_of=as_of, calendar=calendar, zone=zone)
        if rule is None:  # SQL cannot tell the lights here: every task in Python
            facts = _python_facts(session, found.id, as_of=as_of, calendar=calendar, zone=zone)
        else:
            facts = _sql_facts(session, rule, found.id, department=department, zone=zone,
                               charts=charts)
        chosen = [
            m for m in measures
            if (section is None or m.section_number == section)
            and (not department or m.id in facts.with_department(department))
            and (light is None or facts.light_of(m.id) is light)
        ]
        counts = {each.value: 0 for each in Light}
        for m in chosen:
            if facts.tasks_of(m.id):
                counts[facts.light_of(m.id).value] += 1
        shown = _with_leads(
            session, chosen[offset:] if limit is None else chosen[offset:offset + limit]
        )
        tasks = light_tasks(
            session, where=[Task.measure_id.in_([m.id for m in shown])], as_of=as_of,
            calendar=calendar, zone=zone,
        ) if shown else []
    by_measure: dict[int, list[LitTask]] = defaultdict(list)
    for task in tasks:
        if not task.cancelled:  # 已撤销: out of the measure's light and counts
            by_measure[task.measure_id].append(task)
    sections = {
        m.section_number: m.section
        for m in measures
        if m.section_number is not None and m.section
    }
    return Overview(
        plan_id=found.id,
        plan_key=found.key,
        plan_title=found.title,
        as_of=as_of,
        measures=[_measure_row(m, by_measure.get(m.id, [])) for m in shown],
        sections=sorted(sections.items()),
        departments=facts.departments,
        plans=plans,
        total=len(chosen),
        offset=offset,
        limit=limit or max(len(chosen), 1),
        light_counts=counts,
        chart_rows=facts.chart_rows,
        department_order=order,
        trend=facts.trend,
    )


@dataclass
class _PlanFacts:
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


def _python_facts(
    session: Session, plan_id: int, *, as_of: date, calendar: WorkCalendar, zone: tzinfo
) -> _PlanFacts:
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
    return _PlanFacts(
        lights=lights,
        departments=sorted({t.department for t in tasks}),
        chart_rows=tasks,
        measures_of=lambda name: measures.get(name, set()),
    )


def _sql_facts(
    session: Session,
    rule: LightRule,
    plan_id: int,
    *,
    department: str | None,
    zone: tzinfo,
    charts: bool,
) -> _PlanFacts:
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
    facts = _PlanFacts(
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


@dataclass(frozen=True)
class _Measure:
    id: int
    number: int
    title: str
    section: str | None
    section_number: int | None
    source: str
    lead: list[str]


def _plan_measures(session: Session, plan_id: int) -> list[_Measure]:
    """The plan's measures in number order (their lead units not yet read)."""
    rows = session.execute(
        select(Measure.id, Measure.number, Measure.title, Section.number, Section.label,
               Section.title, Measure.source_kind, Measure.doc_ref, Measure.instructed_by)
        .outerjoin(Section, Measure.section_id == Section.id)
        .where(Measure.plan_id == plan_id)
        .order_by(Measure.number)
    )
    return [
        _Measure(
            id=measure_id,
            number=number,
            title=title,
            section=(f"{label}、{heading}" if label else heading) if section is not None else None,
            section_number=section,
            source=item_source_text(kind, doc_ref, instructed_by),
            lead=[],
        )
        for (measure_id, number, title, section, label, heading, kind, doc_ref,
             instructed_by) in rows
    ]


def _with_leads(session: Session, measures: list[_Measure]) -> list[_Measure]:
    """``measures`` with their lead units as the plan names them (the
    directory's name, or 各区 for a collective)."""
    lead: dict[int, list[str]] = defaultdict(list)
    for measure_id, named_as, name in session.execute(
        select(Responsibility.measure_id, Responsibility.named_as, Department.name)
        .outerjoin(Department, Responsibility.department_id == Department.id)
        .where(Responsibility.measure_id.in_([m.id for m in measures]),
               Responsibility.role == "lead")
        .order_by(Responsibility.measure_id, Responsibility.position, Responsibility.id)
    ):
        lead[measure_id].append(name or named_as)
    return [replace(m, lead=lead.get(m.id, [])) for m in measures]


def _measure_row(measure: _Measure, tasks: list[LitTask]) -> MeasureRow:
    worst = worst_light(t.light for t in tasks)
    return MeasureRow(
        id=measure.id,
        number=measure.number,
        title=measure.title,
        section=measure.section,
        section_number=measure.section_number,
        source=measure.source,
        lead=measure.lead,
        departments=sorted({t.department for t in tasks}),
        deadlines=sorted({t.due for t in tasks if t.role == "lead"}),
        light=worst,
        light_label=LIGHT_LABELS[worst],
        task_count=len(tasks),
        approved=sum(1 for t in tasks if t.state is TaskState.APPROVED),
        submitted=sum(1 for t in tasks if t.state is TaskState.SUBMITTED),
        overdue=sum(1 for t in tasks if t.status is TaskStatus.OVERDUE),
        reasons=_reasons_by_light(tasks),
    )


def _reasons_by_light(tasks: list[LitTask]) -> list[str]:
    """One line per light other than green, worst first, saying how many
    units have it and why: ``红灯 4 个单位:已逾期30个工作日等``."""
    lines = []
    for light in Light:
        having = sorted((t for t in tasks if t.light is light), key=lambda t: t.due)
        if light is Light.GREEN or not having:
            continue
        why = list(dict.fromkeys(r for t in having for r in t.reasons))
        text = f"{LIGHT_LABELS[light]} {len(having)} 个单位"
        if why:
            text += f":{why[0]}{'等' if len(why) > 1 else ''}"
        lines.append(text)
    return lines
