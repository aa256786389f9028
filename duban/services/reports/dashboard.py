"""What the supervisors' dashboard shows: every measure with its light, and the
department scorecard (考核), both as of a day.

Built on :func:`duban.services.tasks.queries.list_tasks` (status and light derived,
never stored) and the stored plan; results are plain dataclasses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.items import item_source_text
from duban.domain.lifecycle import TaskState
from duban.domain.scorecard import Period, ScoreWeights
from duban.domain.status import LIGHT_LABELS, Light, StatusPolicy, TaskStatus, worst_light
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.paging import Page
from duban.services.plans.catalog import find_plan, list_plans
from duban.services.reports.ledger import department_order
from duban.services.reports.scorecard import (
    ScoreSource,
    scorecard_from_ledger,
    task_ledger,
)
from duban.services.tasks.lights import LitTask, light_tasks
from duban.services.tasks.queries import LOCAL_ZONE
from models import Department, Measure, Responsibility, Section


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
    # The plan's tasks with their lights, for the charts.
    tasks: list[LitTask] = field(default_factory=list, repr=False)
    department_order: dict[str, int] = field(default_factory=dict, repr=False)

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
) -> Overview:
    """Measures of ``plan`` (default: the latest imported) as of ``as_of``,
    ``limit`` of them from ``offset`` (all with None); ``total`` and
    ``counts`` cover every measure that matches.

    Filters: ``section`` (its number), ``department`` (official name: measures
    where it has a task), ``light`` (the measure's light). ``sections`` and
    ``departments`` list every choice for the filters. Raises NotFoundError
    when no plan exists or ``plan`` is unknown. Tasks are read as plain
    columns (:func:`~duban.services.tasks.lights.light_tasks`); each measure's
    detail is its own page's.
    """
    with session_factory() as session:
        found = find_plan(plan or latest_plan_key(session=session), session=session)
        plans = [(p.key, p.title) for p in list_plans(session=session)]
        measures = _plan_measures(session, found.id)
        order = department_order(session)
        tasks = light_tasks(
            session, where=[Measure.plan_id == found.id], as_of=as_of, calendar=calendar,
            zone=zone,
        )
    by_measure: dict[int, list[LitTask]] = defaultdict(list)
    for task in tasks:
        if not task.cancelled:  # 已撤销: out of the measure's light and counts
            by_measure[task.measure_id].append(task)
    rows = [_measure_row(measure, by_measure.get(measure.id, [])) for measure in measures]
    sections = {
        m.section_number: m.section
        for m in measures
        if m.section_number is not None and m.section
    }
    if section is not None:
        rows = [r for r in rows if r.section_number == section]
    if department:
        rows = [r for r in rows if department in r.departments]
    if light is not None:
        rows = [r for r in rows if r.task_count and r.light is light]
    counts = {
        each.value: sum(1 for m in rows if m.task_count and m.light is each) for each in Light
    }
    shown = rows[offset:] if limit is None else rows[offset:offset + limit]
    return Overview(
        plan_id=found.id,
        plan_key=found.key,
        plan_title=found.title,
        as_of=as_of,
        measures=shown,
        sections=sorted(sections.items()),
        departments=sorted({t.department for t in tasks}),
        plans=plans,
        total=len(rows),
        offset=offset,
        limit=limit or max(len(rows), 1),
        light_counts=counts,
        tasks=tasks,
        department_order=order,
    )


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
    """The plan's measures in number order, each with its lead units as the
    plan names them (the directory's name, or 各区 for a collective)."""
    lead: dict[int, list[str]] = defaultdict(list)
    for measure_id, named_as, name in session.execute(
        select(Responsibility.measure_id, Responsibility.named_as, Department.name)
        .join(Measure, Responsibility.measure_id == Measure.id)
        .outerjoin(Department, Responsibility.department_id == Department.id)
        .where(Measure.plan_id == plan_id, Responsibility.role == "lead")
        .order_by(Responsibility.measure_id, Responsibility.position, Responsibility.id)
    ):
        lead[measure_id].append(name or named_as)
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
            lead=lead.get(measure_id, []),
        )
        for (measure_id, number, title, section, label, heading, kind, doc_ref,
             instructed_by) in rows
    ]


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


# --- scorecard ---------------------------------------------------------------


@dataclass
class ScoreRow:
    """One department's record as of a day: the counts and score of
    :mod:`duban.services.reports.scorecard` (the one place 考核 is counted), plus the
    average working days late of its late and overdue tasks (None when none).
    """

    department: str
    tasks: int = 0
    due: int = 0
    on_time: int = 0
    after_extension: int = 0
    late: int = 0
    overdue: int = 0
    reports_missing: int = 0
    avg_days_late: float | None = None
    score: float | None = None  # None: no score yet (暂无得分)
    rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SCORE_COLUMNS = (
    ("department", "单位"),
    ("tasks", "任务数"),
    ("due", "计分到期"),
    ("on_time", "按期办结"),
    ("after_extension", "延期后办结"),
    ("late", "逾期办结"),
    ("overdue", "逾期未办结"),
    ("reports_missing", "缺报进度"),
    ("avg_days_late", "平均逾期(工作日)"),
    ("score", "得分"),
)


def scorecard(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
    sort: str = "score",
    descending: bool = True,
    zone: tzinfo = LOCAL_ZONE,
) -> list[ScoreRow]:
    """Every department with tasks (all plans), scored as of ``as_of``, sorted
    by ``sort`` (a ScoreRow field; unknown names sort by ``score``), ties by
    name; rows without a value (no score yet) sort last."""
    ledger = task_ledger(session_factory, as_of=as_of, calendar=calendar, policy=policy, zone=zone)
    return scorecard_of_ledger(
        ledger, calendar=calendar, policy=policy, weights=weights, sort=sort, descending=descending
    )


def scorecard_of_ledger(
    ledger: ScoreSource,
    *,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
    sort: str = "score",
    descending: bool = True,
) -> list[ScoreRow]:
    """:func:`scorecard` of a ledger already read (every plan's, as of its day:
    a :class:`~duban.services.reports.ledger.Ledger` or a
    :class:`~duban.services.reports.scorecard.TaskLedger`); ties in the
    directory's order (机构序列)."""
    as_of = ledger.as_of
    card = scorecard_from_ledger(
        ledger, period=Period(), calendar=calendar, policy=policy, weights=weights
    )
    tasks: dict[str, int] = defaultdict(int)
    days_late: dict[str, list[int]] = defaultdict(list)
    for row in ledger.rows:
        tasks[row.department] += 1
        late_until = None
        if row.status is TaskStatus.OVERDUE:
            late_until = as_of
        elif row.status is TaskStatus.DONE_LATE and row.submitted_on is not None:
            late_until = row.submitted_on
        if late_until is not None:
            days = calendar.maybe_count_workdays(row.due, late_until)
            if not isinstance(days, Unpublished):  # not counted while its year is unknown
                days_late[row.department].append(days)
    rows = []
    for entry in card.rows:
        late = days_late.get(entry.department)
        rows.append(
            ScoreRow(
                department=entry.department,
                tasks=tasks[entry.department],
                due=entry.counts.tasks_due,
                on_time=entry.counts.on_time,
                after_extension=entry.counts.after_extension,
                late=entry.counts.late,
                overdue=entry.counts.overdue,
                reports_missing=entry.counts.reports_missing,
                avg_days_late=round(sum(late) / len(late), 1) if late else None,
                score=entry.score,
                rank=entry.rank,
            )
        )
    key = sort if sort in {c for c, _label in SCORE_COLUMNS} else "score"
    rows.sort(key=lambda r: ledger.department_key(r.department))
    present = [r for r in rows if getattr(r, key) is not None]
    absent = [r for r in rows if getattr(r, key) is None]
    present.sort(key=lambda r: getattr(r, key), reverse=descending)
    return present + absent
