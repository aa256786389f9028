"""Read stored plans: a list of summaries and one plan's measures in detail.

Results are plain dataclasses, detached from the session, for the CLI and web.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.items import item_source_text
from duban.domain.plan_keys import key_variants
from duban.services.serialize import jsonable
from models import Measure, Plan, Responsibility, Target


@dataclass
class PlanSummary:
    id: int
    key: str
    title: str
    doc_number: str | None
    status: str
    measure_count: int
    responsibility_count: int
    imported_at: datetime
    updated_at: datetime
    kind: str = "plan"  # "standing": the year's single 督办件


@dataclass
class ResponsibilityView:
    """A department as printed (``named_as``) and as resolved (``department``).

    ``department`` is the official name, or None for a collective such as 各区.
    """

    named_as: str
    department: str | None
    collective: bool
    source_line: int


@dataclass
class TargetView:
    position: int
    text: str
    due: date | None
    due_text: str | None
    indicator: str | None
    comparator: str | None
    value: float | None
    unit: str | None
    source_text: str
    source_line: int


@dataclass
class MeasureView:
    """One measure; ``source_excerpt`` is its lines of the stored document, if any."""

    id: int
    number: int
    label: str
    title: str
    text: str
    section: str | None
    section_number: int | None
    source_line: int
    source_end_line: int
    clause: str | None
    clause_line: int | None
    lead: list[ResponsibilityView] = field(default_factory=list)
    supporting: list[ResponsibilityView] = field(default_factory=list)
    targets: list[TargetView] = field(default_factory=list)
    source_excerpt: str | None = None
    item_source: str = ""  # a single 督办件's source and 文号 (see item_source_text)


@dataclass
class PlanDetail:
    id: int
    key: str
    title: str
    doc_number: str | None
    plan_year: int | None
    horizon: date | None
    status: str
    source_name: str | None
    source_sha256: str | None
    has_source_text: bool
    imported_at: datetime
    updated_at: datetime
    measures: list[MeasureView]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: dates and datetimes as ISO 8601 strings."""
        return jsonable(self)


def summaries_to_json(summaries: list[PlanSummary]) -> list[dict[str, Any]]:
    """The ``plan list --json`` shape."""
    return [jsonable(s) for s in summaries]


def list_plans(*, session: Session) -> list[PlanSummary]:
    """Every stored plan, oldest import first, with measure and responsibility counts."""
    measure_counts = (
        select(Measure.plan_id, func.count(Measure.id).label("n"))
        .group_by(Measure.plan_id)
        .subquery()
    )
    responsibility_counts = (
        select(Measure.plan_id, func.count(Responsibility.id).label("n"))
        .join(Responsibility, Responsibility.measure_id == Measure.id)
        .group_by(Measure.plan_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Plan,
            func.coalesce(measure_counts.c.n, 0),
            func.coalesce(responsibility_counts.c.n, 0),
        )
        .outerjoin(measure_counts, measure_counts.c.plan_id == Plan.id)
        .outerjoin(responsibility_counts, responsibility_counts.c.plan_id == Plan.id)
        .order_by(Plan.imported_at, Plan.id)
    ).all()
    return [
        PlanSummary(
            id=plan.id,
            key=plan.key,
            title=plan.title,
            doc_number=plan.doc_number,
            status=plan.status,
            measure_count=int(measures),
            responsibility_count=int(responsibilities),
            imported_at=plan.imported_at,
            updated_at=plan.updated_at,
            kind=plan.kind,
        )
        for plan, measures, responsibilities in rows
    ]


def stored_plans(session_factory: sessionmaker[Session]) -> list[PlanSummary]:
    """:func:`list_plans` in a session of its own."""
    with session_factory() as session:
        return list_plans(session=session)


def find_plan(key_or_id: str | int | None, *, session: Session) -> Plan:
    """The plan with this key or id; without one, the only stored plan (the
    years' standing plans of single 督办件 aside, unless there is nothing else).

    A string of digits is tried as an id first, then as a key (in any bracket
    spelling of its year: 珠委办(2014)99号 finds 珠委办〔2014〕99号). Raises
    NotFoundError when nothing matches, DubanError when no plan was named and
    there is not exactly one.
    """
    if key_or_id is None:
        plans = session.scalars(
            select(Plan).where(Plan.kind != "standing").order_by(Plan.id).limit(2)
        ).all() or session.scalars(select(Plan).order_by(Plan.id).limit(2)).all()
        if not plans:
            raise NotFoundError("还没有导入任何工作方案,请先运行 duban plan import")
        if len(plans) > 1:
            raise DubanError("已导入多个工作方案,请用 --plan 指定文号、标题或编号")
        return plans[0]
    text = str(key_or_id).strip()
    plan = None
    if text.isdigit():
        plan = session.get(Plan, int(text))
    if plan is None:
        variants = key_variants(text)  # 珠府办(2025)5号 finds 珠府办〔2025〕5号
        found = session.scalars(select(Plan).where(Plan.key.in_(variants))).all()
        plan = min(found, key=lambda p: variants.index(p.key)) if found else None
    if plan is None:
        raise NotFoundError(f"找不到工作方案“{text}”(可用 duban plan list 查看)")
    return plan


def show_plan(
    key_or_id: str | int | None = None,
    measure_number: int | None = None,
    *,
    session: Session,
) -> PlanDetail:
    """A plan with its measures (or only measure ``measure_number``) in detail.

    Lead and supporting departments keep their printed order. The source
    excerpt is filled in for a single measure only. Raises NotFoundError if the
    plan or the measure does not exist (see :func:`find_plan` for the plan).
    """
    plan = find_plan(key_or_id, session=session)
    query = (
        select(Measure)
        .where(Measure.plan_id == plan.id)
        .options(
            selectinload(Measure.section),
            selectinload(Measure.responsibilities).selectinload(Responsibility.department),
            selectinload(Measure.targets),
        )
        .order_by(Measure.number)
    )
    if measure_number is not None:
        query = query.where(Measure.number == measure_number)
    measures = session.scalars(query).all()
    if measure_number is not None and not measures:
        raise NotFoundError(f"工作方案“{plan.key}”中没有第{measure_number}项措施")
    lines = plan.source_text.splitlines() if plan.source_text else None
    views = [_measure_view(m) for m in measures]
    if measure_number is not None and lines is not None:
        view = views[0]
        view.source_excerpt = "\n".join(lines[view.source_line - 1 : view.source_end_line])
    return PlanDetail(
        id=plan.id,
        key=plan.key,
        title=plan.title,
        doc_number=plan.doc_number,
        plan_year=plan.plan_year,
        horizon=plan.horizon,
        status=plan.status,
        source_name=plan.source_name,
        source_sha256=plan.source_sha256,
        has_source_text=plan.source_text is not None,
        imported_at=plan.imported_at,
        updated_at=plan.updated_at,
        measures=views,
    )


def _measure_view(measure: Measure) -> MeasureView:
    ordered = sorted(measure.responsibilities, key=lambda r: r.position)
    return MeasureView(
        id=measure.id,
        number=measure.number,
        label=measure.label,
        title=measure.title,
        text=measure.text,
        section=measure.section.heading if measure.section else None,
        section_number=measure.section.number if measure.section else None,
        source_line=measure.source_line,
        source_end_line=measure.source_end_line,
        clause=measure.clause,
        clause_line=measure.clause_line,
        lead=[_responsibility_view(r) for r in ordered if r.role == "lead"],
        supporting=[_responsibility_view(r) for r in ordered if r.role == "supporting"],
        targets=[_target_view(t) for t in measure.targets],
        item_source=item_source_text(measure.source_kind, measure.doc_ref, measure.instructed_by),
    )


def _responsibility_view(row: Responsibility) -> ResponsibilityView:
    return ResponsibilityView(
        named_as=row.named_as,
        department=row.department.name if row.department else None,
        collective=row.collective,
        source_line=row.source_line,
    )


def _target_view(row: Target) -> TargetView:
    return TargetView(
        position=row.position,
        text=row.text,
        due=row.due,
        due_text=row.due_text,
        indicator=row.indicator,
        comparator=row.comparator,
        value=row.value,
        unit=row.unit,
        source_text=row.source_text,
        source_line=row.source_line,
    )
