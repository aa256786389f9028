"""Record a single 督办件 as a measure of the year's standing plan, and list them.

The standing plan (``2027年督办件``, kind ``standing``) is created on first use;
each source (领导批示, 会议纪要 …) is a section of it, so the ledger's and the
dashboard's summaries by section count items by source. An item's measure has
one target, its due date, and the units as typed (resolved through the
directory like a plan's). Assignment, the ladder, the pages and the ledger
then treat it as any measure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.domain.errors import DirectoryError, DubanError
from duban.domain.items import SOURCE_LABELS, Item, ItemSource, item_source_text, standing_plan_key
from duban.domain.plan_draft import Role
from duban.services.accounts.directory import directory_from_db, stored_directory
from models import AuditEntry, Department, Measure, Plan, Responsibility, Section, Target

STANDING = "standing"


@dataclass
class ItemRecord:
    """A recorded item: where it lives and what it says."""

    plan: str
    number: int
    measure_id: int
    title: str
    source: str
    source_label: str
    doc_ref: str | None
    instructed_by: str | None
    lead: list[str]
    supporting: list[str]
    due: date | None
    created_plan: bool = False


def known_names(session_factory: sessionmaker[Session]) -> Callable[[str], bool]:
    """Whether the stored directory knows a name (names, aliases, collectives)."""
    return stored_directory(session_factory).knows


def add_item(
    item: Item,
    *,
    session_factory: sessionmaker[Session],
    now: datetime,
    zone: tzinfo,
    actor: str,
) -> ItemRecord:
    """Store ``item`` as the next measure of the standing plan of ``now``'s year.

    One transaction: the plan (created on first use), the source's section,
    the measure, its units and target, and an audit entry. Raises
    DirectoryError when a unit is no longer in the directory; writes nothing
    on error. Two coordinators adding at once get consecutive numbers.
    """
    for attempt in range(3):
        try:
            return _add(item, session_factory=session_factory, now=now, zone=zone, actor=actor)
        except IntegrityError:  # the plan or the number was taken meanwhile: retry
            if attempt == 2:
                raise DubanError("督办件未登记:同时登记的人太多,请稍后重试") from None
    raise AssertionError("unreachable")


def _add(
    item: Item, *, session_factory: sessionmaker[Session], now: datetime, zone: tzinfo, actor: str
) -> ItemRecord:
    year = now.astimezone(zone).year
    key = standing_plan_key(year)
    with session_factory.begin() as session:
        directory = directory_from_db(session=session)
        unknown = [n for n in (*item.lead, *item.supporting) if not directory.knows(n)]
        if unknown:
            raise DirectoryError(f"督办件未登记:“{'、'.join(unknown)}”不在机构目录中")
        plan = session.scalars(
            select(Plan).where(Plan.key == key).with_for_update()
        ).one_or_none()
        created = plan is None
        if plan is None:
            plan = Plan(key=key, title=key, doc_number=None, plan_year=year,
                        horizon=date(year, 12, 31), kind=STANDING, status="active",
                        fingerprint=hashlib.sha256(key.encode("utf-8")).hexdigest(),
                        imported_at=now, updated_at=now)
            session.add(plan)
            session.flush()
        elif plan.kind != STANDING:
            raise DubanError(f"已有名为“{key}”的工作方案,不能作为督办件汇总使用")
        section = _section_for(session, plan, item.source)
        number = (session.scalar(
            select(func.max(Measure.number)).where(Measure.plan_id == plan.id)
        ) or 0) + 1
        ids = dict(session.execute(select(Department.name, Department.id)).all())
        measure = Measure(
            plan_id=plan.id, section_id=section.id, number=number, label=str(number),
            title=item.title, text=item.text, source_line=0, source_end_line=0,
            clause=None, clause_line=None, leaders=[],
            source_kind=item.source.value, doc_ref=item.doc_ref, instructed_by=item.leader,
        )
        for role, names in ((Role.LEAD, item.lead), (Role.SUPPORTING, item.supporting)):
            for position, name in enumerate(names, start=1):
                department = directory.resolve(name)
                measure.responsibilities.append(Responsibility(
                    named_as=name, role=role.value, position=position, source_line=0,
                    collective=department is None,
                    department_id=ids[department.name] if department is not None else None,
                ))
        text = f"{item.due.year}年{item.due.month}月{item.due.day}日前办结"
        measure.targets.append(Target(position=1, due=item.due, text=text, source_text=text,
                                      source_line=0))
        session.add(measure)
        plan.updated_at = now
        session.flush()
        session.add(AuditEntry(at=now, actor=actor, action="add_item",
                               subject=f"{key} 措施{number} {item.title}",
                               data={"source": item.source.value, "doc_ref": item.doc_ref}))
        return ItemRecord(
            plan=key, number=number, measure_id=measure.id, title=item.title,
            source=item.source.value, source_label=item.source_label, doc_ref=item.doc_ref,
            instructed_by=item.leader, lead=list(item.lead), supporting=list(item.supporting),
            due=item.due, created_plan=created,
        )


def _section_for(session: Session, plan: Plan, source: ItemSource) -> Section:
    number = list(ItemSource).index(source) + 1
    section = session.scalars(
        select(Section).where(Section.plan_id == plan.id, Section.number == number)
    ).one_or_none()
    if section is None:
        section = Section(plan_id=plan.id, number=number, label="", title=SOURCE_LABELS[source],
                          source_line=0)
        session.add(section)
        session.flush()
    return section


def list_items(
    session_factory: sessionmaker[Session], *, year: int | None = None
) -> list[ItemRecord]:
    """Items of every standing plan (or of ``year``'s), newest year first, by number."""
    with session_factory() as session:
        query = (
            select(Measure)
            .join(Plan, Plan.id == Measure.plan_id)
            .where(Plan.kind == STANDING)
            .options(selectinload(Measure.responsibilities), selectinload(Measure.targets),
                     selectinload(Measure.plan))
            .order_by(Plan.plan_year.desc(), Measure.number)
        )
        if year is not None:
            query = query.where(Plan.plan_year == year)
        records = []
        for measure in session.scalars(query):
            ordered = sorted(measure.responsibilities, key=lambda r: r.position)
            dues = [t.due for t in measure.targets if t.due is not None]
            source = measure.source_kind or ItemSource.OTHER.value
            records.append(ItemRecord(
                plan=measure.plan.key, number=measure.number, measure_id=measure.id,
                title=measure.title, source=source,
                source_label=item_source_text(source, None, None),
                doc_ref=measure.doc_ref, instructed_by=measure.instructed_by,
                lead=[r.named_as for r in ordered if r.role == Role.LEAD.value],
                supporting=[r.named_as for r in ordered if r.role == Role.SUPPORTING.value],
                due=max(dues) if dues else None,
            ))
        return records

