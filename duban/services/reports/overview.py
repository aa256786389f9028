"""The supervisors' dashboard of measures: every measure of a plan with its
light and progress as of a day, a page at a time, with the rows its charts count.

Each measure's light is the worst of its tasks' (cancelled ones left out),
counted in SQL for the whole plan
(:mod:`duban.services.reports.overview_facts`); the measures shown are read with their
tasks (:mod:`duban.services.tasks.lights`) for their units, deadlines and reasons.
Results are plain dataclasses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import case, null, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from duban.domain.items import item_source_text
from duban.domain.lifecycle import TaskState
from duban.domain.status import (
    LIGHT_LABELS,
    Light,
    StatusPolicy,
    due_soon_reason,
    late_reason,
    missing_reports_reason,
    overdue_reason,
    worst_light,
)
from duban.domain.workdays import WorkCalendar
from duban.services.paging import Page
from duban.services.plans.catalog import find_plan
from duban.services.reports.ledger import department_order
from duban.services.reports.overview_facts import PlanFacts, python_facts, sql_facts
from duban.services.reports.overview_pick import (
    MeasurePick,
    PickFilters,
    PlanMeasure,
    pick_in_python,
)
from duban.services.reports.summary_charts import ChartRow
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import LightRule, light_rule
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
        """Every field by name, in order (as ``dataclasses.asdict``, whose
        recursive copy took ~2.5 ms a page of 100, 25 ms of 1,000), with ISO
        dates and the light's value."""
        data = {name: getattr(self, name) for name in _ROW_FIELDS}
        for name in ("lead", "departments", "reasons"):
            data[name] = list(data[name])
        data["deadlines"] = [d.isoformat() for d in self.deadlines]
        data["light"] = self.light.value
        return data


_ROW_FIELDS = tuple(f.name for f in fields(MeasureRow))


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
    # The department chart's rows when counted apart (then ``chart_rows``
    # count the sections only); None: ``chart_rows``.
    department_rows: Sequence[ChartRow] | None = field(default=None, repr=False)
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
    return _latest(_plans(session))


def _plans(session: Session) -> list[tuple[str, str, str]]:
    """(key, title, kind) of every plan, oldest import first (as
    :func:`~duban.services.plans.catalog.list_plans` orders them, without
    counting their measures)."""
    rows = session.execute(
        select(Plan.key, Plan.title, Plan.kind).order_by(Plan.imported_at, Plan.id)
    )
    return [(key, title, kind) for key, title, kind in rows]


def _latest(plans: list[tuple[str, str, str]]) -> str | None:
    imported = [p for p in plans if p[2] != "standing"] or plans
    return imported[-1][0] if imported else None


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
    filters = PickFilters(section=section, department=department or None, light=light,
                          offset=offset, limit=limit)
    with session_factory() as session:
        every_plan = _plans(session)
        found = find_plan(plan or _latest(every_plan), session=session)
        plans = [(key, title) for key, title, _kind in every_plan]
        order = department_order(session)
        rule = light_rule(session, as_of=as_of, calendar=calendar, zone=zone)
        if rule is None:  # SQL cannot tell the lights here: every task in Python
            facts = python_facts(session, found.id, as_of=as_of, calendar=calendar, zone=zone)
            pick = _pick_in_python(session, found.id, facts, filters)
        else:
            facts = sql_facts(session, rule, found.id, filters=filters, zone=zone,
                              charts=charts)
            assert facts.pick is not None
            pick = facts.pick
        shown = _in_full(session, pick.ids)
        by_measure = _tasks_by_measure(session, shown, rule, as_of=as_of, calendar=calendar,
                                       zone=zone)
        sections = _sections(session, found.id)
    return Overview(
        plan_id=found.id,
        plan_key=found.key,
        plan_title=found.title,
        as_of=as_of,
        measures=[_measure_row(m, by_measure.get(m.id, [])) for m in shown],
        sections=sections,
        departments=facts.departments,
        plans=plans,
        total=pick.total,
        offset=offset,
        limit=limit or max(pick.total, 1),
        light_counts=pick.counts,
        chart_rows=facts.chart_rows,
        department_rows=facts.department_rows,
        department_order=order,
        trend=facts.trend,
    )


def _pick_in_python(
    session: Session, plan_id: int, facts: PlanFacts, filters: PickFilters
) -> MeasurePick:
    """The measures ``filters`` pick, from every measure's light in ``facts``."""
    measures = [
        PlanMeasure(id=measure_id, number=number, section_number=section)
        for measure_id, number, section in session.execute(
            select(Measure.id, Measure.number, Section.number)
            .outerjoin(Section, Measure.section_id == Section.id)
            .where(Measure.plan_id == plan_id)
        )
    ]
    lights = {
        measure_id: (facts.light_of(measure_id), facts.tasks_of(measure_id))
        for measure_id in facts.lights if facts.tasks_of(measure_id)
    }
    department = filters.department
    return pick_in_python(
        measures, lights, facts.with_department(department) if department else None, filters
    )


# The most task ids a statement binds (SQLite allows 32,766 parameters).
_MAX_BOUND_IDS = 5_000


@dataclass(frozen=True)
class _Told:
    """A task shown whose light the rule's SQL tells (as the measures' lights
    are counted), with its reasons worded from its columns as
    :func:`~duban.domain.status.assess` words them: what its measure's row
    reads of it, without assessing it in Python."""

    department: str
    role: str
    due: date
    state: TaskState
    light: Light = Light.GREEN
    reasons: tuple[str, ...] = ()


_Shown = LitTask | _Told


def _tasks_by_measure(
    session: Session,
    shown: Sequence[_Measure],
    rule: LightRule | None,
    *,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
) -> dict[int, list[_Shown]]:
    """The tasks of the measures ``shown`` but cancelled ones (已撤销, left out
    of the measure's light and counts), in deadline, role and id order: with
    ``rule``, those whose light and reasons its columns tell
    (:class:`_Told`, see :class:`_Reasons`) as such and only the others read
    one by one with their reasons; without, every one so."""
    if not shown:
        return {}
    measure_ids = [m.id for m in shown]
    if rule is None:
        return _lit_by_measure(session, measure_ids, as_of=as_of, calendar=calendar, zone=zone)
    rows = session.execute(
        select(Task.id, Task.measure_id, Department.name, Task.role, Task.due, Task.state,
               rule.light, Task.submitted_at,
               # The missed report periods stored with the light, where it is fresh.
               case((rule.fresh(), Task.missed_count), else_=null()))
        .join(Department, Task.department_id == Department.id)
        .where(Task.measure_id.in_(measure_ids), Task.state != TaskState.CANCELLED.value)
        .order_by(Task.measure_id, Task.deadline, Task.role, Task.id)
    ).all()
    words = _Reasons(as_of, calendar, zone)
    told: dict[int, _Told] = {}
    for task_id, _measure, department, role, due, state, light, submitted_at, missed in rows:
        reasons = words.of(Light(light), TaskState(state), due, submitted_at, missed)
        if reasons is not None:
            told[task_id] = _Told(department, role, due, TaskState(state), Light(light), reasons)
    others = [row[0] for row in rows if row[0] not in told]
    lit: dict[int, LitTask] = {}
    for start in range(0, len(others), _MAX_BOUND_IDS):
        for task in light_tasks(session, where=[Task.id.in_(others[start:start + _MAX_BOUND_IDS])],
                                as_of=as_of, calendar=calendar, zone=zone):
            lit[task.task_id] = task
    by_measure: dict[int, list[_Shown]] = defaultdict(list)
    for row in rows:
        task_id, measure_id = row[0], row[1]
        by_measure[measure_id].append(told.get(task_id) or lit[task_id])
    return by_measure


_OPEN = frozenset(
    {TaskState.ASSIGNED, TaskState.ACKNOWLEDGED, TaskState.IN_PROGRESS, TaskState.RETURNED}
)
_DONE = frozenset({TaskState.SUBMITTED, TaskState.APPROVED})


class _Reasons:
    """The reasons :func:`~duban.domain.status.assess` gives a task on
    ``as_of`` (default policy, as :func:`light_tasks`), from its light (the
    rule's) and columns, each text made by the domain's own functions once
    per due date (or 报结 day):

    - green: none;
    - red (open, past due): 已逾期N个工作日 — the due date and the calendar;
    - blue (open, not past due, due soon, no report missed, not behind its
      indicator): 距期限N个工作日;
    - late (submitted or approved, the 报结's local day after the due date):
      逾期N个工作日报结;
    - yellow: 距期限N个工作日 when due soon, then 缺报进度N次 with the missed
      report periods stored with a fresh light (``tasks.missed_count``, the
      rule's :meth:`~duban.services.tasks.light_sql.LightRule.computed_missed`).
      A fresh light is never one of a task with readings (they mark it
      stale and are never stored), so never behind its indicator.

    None where the columns cannot tell them: a yellow light not fresh (the
    report periods missed are not stored, or it may be behind its
    indicator), or any light its columns contradict; such tasks are assessed
    in Python."""

    def __init__(self, as_of: date, calendar: WorkCalendar, zone: tzinfo) -> None:
        self.as_of = as_of
        self.calendar = calendar
        self.zone = zone
        self.policy = StatusPolicy()
        self.overdue: dict[date, str] = {}
        self.soon: dict[date, str | None] = {}
        self.late: dict[tuple[date, date], str] = {}

    def of(
        self, light: Light, state: TaskState, due: date, submitted_at: datetime | None,
        missed: int | None,
    ) -> tuple[str, ...] | None:
        if light is Light.GREEN:
            return ()
        if light is Light.RED:
            return (self._overdue(due),) if state in _OPEN and due < self.as_of else None
        if light is Light.LATE:
            if state not in _DONE or submitted_at is None:
                return None
            submitted_on = submitted_at.astimezone(self.zone).date()
            return (self._late(due, submitted_on),) if submitted_on > due else None
        if state not in _OPEN or due < self.as_of:
            return None
        soon = self._soon(due)
        if light is Light.BLUE:
            return None if soon is None else (soon,)
        if light is Light.YELLOW and missed:
            return (missing_reports_reason(missed),) if soon is None else (
                soon, missing_reports_reason(missed))
        return None

    def _overdue(self, due: date) -> str:
        found = self.overdue.get(due)
        if found is None:
            found = self.overdue[due] = overdue_reason(due, self.as_of, self.calendar)
        return found

    def _soon(self, due: date) -> str | None:
        if due not in self.soon:
            self.soon[due] = due_soon_reason(due, self.as_of, self.calendar, self.policy)
        return self.soon[due]

    def _late(self, due: date, submitted_on: date) -> str:
        found = self.late.get((due, submitted_on))
        if found is None:
            found = self.late[due, submitted_on] = late_reason(due, submitted_on, self.calendar)
        return found


def _lit_by_measure(
    session: Session,
    measure_ids: list[int],
    *,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
) -> dict[int, list[_Shown]]:
    """The tasks of the measures ``measure_ids`` read one by one with their
    reasons, cancelled ones left out."""
    # By the tasks' ids, so the databases read these tasks' reports through
    # the (action, task_id, at) index and the tasks by key: by the measures,
    # SQLite read every report of that action and PostgreSQL every task
    # (~40-50 ms each at 100k tasks). A subquery when the ids are too many
    # to bind.
    theirs = aliased(Task)
    of_shown = select(theirs.id).where(theirs.measure_id.in_(measure_ids))
    ids = list(session.scalars(of_shown))
    tasks = light_tasks(
        session, where=[Task.id.in_(ids if len(ids) <= _MAX_BOUND_IDS else of_shown)],
        as_of=as_of, calendar=calendar, zone=zone,
    )
    by_measure: dict[int, list[_Shown]] = defaultdict(list)
    for task in tasks:
        if not task.cancelled:
            by_measure[task.measure_id].append(task)
    return by_measure


def _sections(session: Session, plan_id: int) -> list[tuple[int, str]]:
    """(number, heading) of each section of the plan with a measure in it, by number."""
    rows = session.execute(
        select(Section.number, Section.label, Section.title)
        .where(Section.plan_id == plan_id,
               select(Measure.id).where(Measure.section_id == Section.id).exists())
        .order_by(Section.number)
    )
    headings = [(number, f"{label}、{title}" if label else title) for number, label, title in rows]
    return [(number, heading) for number, heading in headings if number is not None and heading]


@dataclass(frozen=True)
class _Measure:
    """A measure shown, as the dashboard lists it."""

    id: int
    section_number: int | None
    number: int = 0
    title: str = ""
    section: str | None = None
    source: str = ""
    lead: list[str] = field(default_factory=list)


def _in_full(session: Session, ids: list[int]) -> list[_Measure]:
    """The measures ``ids`` read in full, in the same order: number, title,
    section, source and lead units as the plan names them (the directory's
    name, or 各区 for a collective)."""
    if not ids:
        return []
    found: dict[int, _Measure] = {}
    for (measure_id, number, title, section, label, heading, kind, doc_ref,
         instructed_by) in session.execute(
        select(Measure.id, Measure.number, Measure.title, Section.number, Section.label,
               Section.title, Measure.source_kind, Measure.doc_ref, Measure.instructed_by)
        .outerjoin(Section, Measure.section_id == Section.id)
        .where(Measure.id.in_(ids))
    ):
        found[measure_id] = _Measure(
            id=measure_id,
            section_number=section,
            number=number,
            title=title,
            section=(f"{label}、{heading}" if label else heading) if section is not None else None,
            source=item_source_text(kind, doc_ref, instructed_by),
        )
    lead: dict[int, list[str]] = defaultdict(list)
    for measure_id, named_as, name in session.execute(
        select(Responsibility.measure_id, Responsibility.named_as, Department.name)
        .outerjoin(Department, Responsibility.department_id == Department.id)
        .where(Responsibility.measure_id.in_(ids), Responsibility.role == "lead")
        .order_by(Responsibility.measure_id, Responsibility.position, Responsibility.id)
    ):
        lead[measure_id].append(name or named_as)
    return [replace(found[i], lead=lead.get(i, [])) for i in ids]


def _measure_row(measure: _Measure, tasks: list[_Shown]) -> MeasureRow:
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
        # Overdue (its status) is exactly red (assess).
        overdue=sum(1 for t in tasks if t.light is Light.RED),
        reasons=_reasons_by_light(tasks),
    )


def _reasons_by_light(tasks: list[_Shown]) -> list[str]:
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
