"""Import a reviewed plan draft into the database, or update the stored plan.

A plan's identity is its key: the document number when it has one, else the
title. Importing the same content again writes nothing. A changed draft is
compared with the stored plan and applied in place in one transaction: a
measure keeps its id as long as its number stays, so tasks that later hang off
it survive a re-import. On any error nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.domain.assignment import (
    AssignmentPolicy,
    MeasureToAssign,
    Responsible,
    task_identities,
)
from duban.domain.directory import Directory, normalize_name
from duban.domain.draft_edits import with_pending
from duban.domain.errors import DirectoryError, DraftError, DubanError
from duban.domain.labels import UNIT_ROLE_LABELS
from duban.domain.plan_draft import (
    COMPARATORS,
    NewAlias,
    NewDepartment,
    PlanDraft,
    Role,
    format_value,
)
from duban.domain.plan_draft import Measure as DraftMeasure
from duban.domain.plan_draft import Target as DraftTarget
from duban.domain.plan_keys import key_variants
from duban.services.accounts.directory import directory_from_db
from duban.services.plans.withdrawal import MeasureFates, task_fates
from duban.services.serialize import jsonable
from models import (
    AuditEntry,
    Department,
    DepartmentAlias,
    IndicatorReading,
    Measure,
    Plan,
    Responsibility,
    Section,
    Target,
    Task,
)

# Column widths the schema enforces (PostgreSQL rejects longer strings).
MAX_KEY = 300
MAX_DOC_NUMBER = 100
MAX_SOURCE_NAME = 500
MAX_LABEL = 20
MAX_NAME = 200
MAX_UNIT = 50

CONSOLE_ACTOR = "命令行"  # the audit log's name for the command line


class ImportStatus(StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"


@dataclass
class FieldChange:
    """One field that differs: ``old`` as stored, ``new`` as in the draft (JSON-able)."""

    field: str
    old: Any
    new: Any


@dataclass
class MeasureChange:
    """A measure present before and after whose content changed.

    ``changes`` fields are among: label, title, text, section, clause, lead,
    supporting, targets (lead/supporting/targets as lists of strings).
    """

    number: int
    title: str
    changes: list[FieldChange] = field(default_factory=list)


@dataclass
class ImportReport:
    """The outcome of :func:`import_plan` (the same for a dry run).

    ``plan_id`` is None only for a dry run of a new plan. ``relocated`` counts
    measures whose source lines moved without their content changing.
    ``created_departments`` are names created (or, in a dry run, to be created)
    from the draft's ``new_departments`` and by ``create_unknown``;
    ``created_aliases`` are the draft's aliases added, as ``别名=单位``.
    """

    status: ImportStatus
    dry_run: bool
    key: str
    title: str
    plan_id: int | None
    measure_count: int
    responsibility_count: int
    target_count: int
    plan_changes: list[FieldChange] = field(default_factory=list)
    sections_added: list[int] = field(default_factory=list)
    sections_removed: list[int] = field(default_factory=list)
    sections_changed: list[int] = field(default_factory=list)
    measures_added: list[int] = field(default_factory=list)
    measures_removed: list[int] = field(default_factory=list)
    measures_changed: list[MeasureChange] = field(default_factory=list)
    relocated: int = 0
    created_departments: list[str] = field(default_factory=list)
    created_aliases: list[str] = field(default_factory=list)
    # What the next ``duban assign`` will do to the tasks already assigned
    # (stay / replaced / cancelled) and which tasks it will add, per measure
    # with tasks whose responsibilities or dates changed.
    task_fates: list[MeasureFates] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``plan import --json`` shape: this dataclass with dates as ISO strings."""
        return jsonable(self)


@dataclass(frozen=True)
class _Resolution:
    department_id: int | None
    collective: bool


def plan_key(draft: PlanDraft) -> str:
    """The identity of the draft's plan: its document number, else its title."""
    if draft.doc_number and draft.doc_number.strip():
        return draft.doc_number.strip()
    return draft.title.strip()


def import_plan(
    draft: PlanDraft,
    *,
    session_factory: sessionmaker[Session],
    source_text: str | None = None,
    dry_run: bool = False,
    create_unknown: bool = False,
    now: datetime | None = None,
    policy: AssignmentPolicy | None = None,
    actor: str = CONSOLE_ACTOR,
) -> ImportReport:
    """Store ``draft`` as a new plan or apply it to the stored plan with its key.

    ``source_text`` is the decoded document the draft's lines point into; when
    None, the stored text is kept if the draft comes from the same source
    (equal ``source_sha256``), else none is stored.

    Every responsibility name must resolve through the stored directory
    (official names and aliases; collectives such as 各区 are kept unresolved
    with ``collective`` true) together with the draft's ``new_departments``
    and ``new_aliases``, which are added to the directory in the same
    transaction (those the directory already knows by then are skipped).
    Unknown names raise DirectoryError listing each name with its measures and
    lines, unless ``create_unknown``, which creates them as departments of
    kind ``department``.

    For a stored plan the report also says what assigning it again will do
    to its tasks (``task_fates``; ``policy`` is the assignment policy, for a
    measure without dated targets).

    Every import that is not a dry run and does not fail — unchanged content
    too — is recorded in the audit log (``import_plan``, by ``actor``: the
    signed-in coordinator on the web, :data:`CONSOLE_ACTOR` from the command
    line), in the same transaction.

    Raises DraftError for an inconsistent draft. Writes nothing on error or
    when ``dry_run``, and only the audit entry when the content is unchanged
    (same fingerprint).
    """
    validate_draft(draft)
    now = now or datetime.now(UTC)
    with session_factory() as session, session.begin():
        report = _store(
            session, draft, source_text=source_text, dry_run=dry_run,
            create_unknown=create_unknown, now=now, policy=policy,
        )
        if not dry_run:
            session.add(AuditEntry(
                at=now, actor=actor, action="import_plan", subject=report.key,
                data={"status": report.status.value,
                      "created_departments": report.created_departments,
                      "created_aliases": report.created_aliases},
            ))
    return report


def _store(
    session: Session,
    draft: PlanDraft,
    *,
    source_text: str | None,
    dry_run: bool,
    create_unknown: bool,
    now: datetime,
    policy: AssignmentPolicy | None,
) -> ImportReport:
    """The body of :func:`import_plan` inside its transaction."""
    key = plan_key(draft)
    fingerprint = draft.content_fingerprint()
    plan = _load_plan(session, key)
    report = ImportReport(
        status=ImportStatus.CREATED if plan is None else ImportStatus.UPDATED,
        dry_run=dry_run,
        key=key,
        title=draft.title,
        plan_id=plan.id if plan is not None else None,
        measure_count=len(draft.measures),
        responsibility_count=sum(len(m.responsibilities) for m in draft.measures),
        target_count=sum(len(m.targets) for m in draft.measures),
    )
    if plan is not None and plan.kind == "standing":
        raise DubanError(
            f"“{key}”是督办件汇总(逐件登记的督办件),不能用方案文件导入或覆盖;"
            "请修改方案标题或文号"
        )
    if plan is not None and plan.fingerprint == fingerprint:
        report.status = ImportStatus.UNCHANGED
        return report

    directory = directory_from_db(session=session)
    new_departments, new_aliases = _directory_changes(draft, directory)
    unknown = _unknown_names(draft, with_pending(directory, draft))
    if unknown and not create_unknown:
        raise DirectoryError(_unknown_message(unknown))
    report.created_departments = [d.name for d in new_departments] + list(unknown)
    report.created_aliases = [f"{a.alias}={a.department}" for a in new_aliases]
    if plan is not None:
        _diff(plan, draft, report)
        _guard_assigned_work(session, plan, draft)
        report.task_fates = _task_fates(
            session, plan, draft, with_pending(directory, draft), policy=policy
        )
    if dry_run:
        return report  # nothing was added to the session

    for new in new_departments:
        session.add(Department(name=new.name, kind=new.kind, functional_area=False))
    for name in unknown:
        session.add(Department(name=name, kind="department", functional_area=False))
    session.flush()
    ids = {name: id_ for name, id_ in session.execute(select(Department.name, Department.id))}
    for alias in new_aliases:
        session.add(DepartmentAlias(department_id=ids[alias.department], alias=alias.alias))
    session.flush()
    resolutions = _resolve_all(session, draft, directory_from_db(session=session))
    if plan is None:
        plan = Plan(key=key, status="active", imported_at=now)
        session.add(plan)
    plan.key = key  # a plan stored under another bracket spelling takes the printed one
    _apply(plan, draft, resolutions, source_text=source_text)
    plan.fingerprint = fingerprint
    plan.updated_at = now
    session.flush()
    report.plan_id = plan.id
    return report


def _directory_changes(
    draft: PlanDraft, directory: Directory
) -> tuple[list[NewDepartment], list[NewAlias]]:
    """The draft's new departments and aliases still missing from ``directory``.

    Raises DirectoryError when an alias points to a department the directory
    does not have, or when the changes would give one name to two departments.
    """
    with_pending(directory, draft)  # raises on a clash or a missing department
    departments: list[NewDepartment] = []
    seen: set[str] = set()
    for new in draft.new_departments:
        if directory.resolve(new.name) is None and normalize_name(new.name) not in seen:
            seen.add(normalize_name(new.name))
            departments.append(new)
    aliases: list[NewAlias] = []
    for alias in draft.new_aliases:
        target = directory.resolve(alias.department)
        assert target is not None  # checked by with_pending
        if directory.resolve(alias.alias) is None and normalize_name(alias.alias) not in seen:
            seen.add(normalize_name(alias.alias))
            aliases.append(NewAlias(alias.alias, target.name))
    return departments, aliases


def _guard_assigned_work(session: Session, plan: Plan, draft: PlanDraft) -> None:
    """Refuse a re-import that would delete a measure that has tasks, or a target
    that has indicator readings: that history must not vanish silently."""

    drafted = {m.number: m for m in draft.measures}
    problems: list[str] = []
    for measure in plan.measures:
        kept = drafted.get(measure.number)
        if kept is None:
            count = session.scalar(
                select(func.count()).select_from(Task).where(Task.measure_id == measure.id)
            )
            if count:
                problems.append(f"措施{measure.number}已交办 {count} 项任务,不能从方案中删除")
            continue
        dropped = [t.id for t in measure.targets[len(kept.targets) :]]
        if dropped and session.scalar(
            select(func.count())
            .select_from(IndicatorReading)
            .where(IndicatorReading.target_id.in_(dropped))
        ):
            problems.append(f"措施{measure.number}被删除的目标已有进度指标数据,不能删除")
    if problems:
        raise DubanError(
            "未导入任何内容:" + ";".join(problems) + "。请在草稿中保留这些措施或目标后重新导入"
        )


def _task_fates(
    session: Session,
    plan: Plan,
    draft: PlanDraft,
    directory: Directory,
    *,
    policy: AssignmentPolicy | None,
) -> list[MeasureFates]:
    """For each stored measure with tasks that the draft keeps: what assigning
    it as drafted will do to them. Only measures where something changes."""
    stored = {m.number: m for m in plan.measures}
    with_tasks = set(
        session.scalars(
            select(Task.measure_id).where(Task.measure_id.in_([m.id for m in plan.measures]))
        )
    )
    districts = tuple(
        session.scalars(
            select(Department.name).where(Department.kind == "district").order_by(Department.id)
        )
    )
    found: list[MeasureFates] = []
    for measure in draft.measures:
        row = stored.get(measure.number)
        if row is None or row.id not in with_tasks:
            continue
        responsible = []
        for r in sorted(measure.responsibilities, key=lambda r: r.role is not Role.LEAD):
            if directory.is_collective(r.name):
                names: tuple[str, ...] = districts
            else:
                department = directory.resolve(r.name)
                names = (department.name,) if department is not None else (r.name.strip(),)
            responsible.append(Responsible(r.name, r.role, names))
        to_assign = MeasureToAssign(
            number=measure.number,
            title=measure.title,
            responsible=tuple(responsible),
            target_dates=tuple(t.due for t in measure.targets if t.due is not None),
        )
        try:
            yielded = task_identities(to_assign, horizon=draft.horizon, policy=policy)
        except DubanError:
            continue  # no lead: ``duban assign`` refuses the measure, its tasks stay
        fates = task_fates(session, row.id, measure.number, yielded)
        if fates.new or any(f.fate.value != "stay" for f in fates.fates):
            found.append(fates)
    return found


# --- validation --------------------------------------------------------------


def validate_draft(draft: PlanDraft) -> None:
    """Raise DraftError (naming the measure and line) if the draft cannot be stored."""
    if not draft.title.strip():
        raise DraftError("方案标题为空")
    _check_length(plan_key(draft), MAX_KEY, "方案文号或标题")
    _check_length(draft.doc_number, MAX_DOC_NUMBER, "文号")
    _check_length(draft.source_name, MAX_SOURCE_NAME, "来源文件名")

    sections: dict[int, int] = {}
    for section in draft.sections:
        if section.number in sections:
            raise DraftError(
                f"第{section.number}部分重复(第{sections[section.number]}行和第{section.line}行)"
            )
        sections[section.number] = section.line
        _check_length(section.label, MAX_LABEL, f"第{section.number}部分的序号", section.line)

    measures: dict[int, int] = {}
    for measure in draft.measures:
        where = f"第{measure.number}项措施(第{measure.line}行)"
        if measure.number in measures:
            raise DraftError(
                f"第{measure.number}项措施重复(第{measures[measure.number]}行和第{measure.line}行)"
            )
        measures[measure.number] = measure.line
        if measure.section is not None and measure.section not in sections:
            raise DraftError(f"所属的第{measure.section}部分不存在", where=where)
        _check_length(measure.label, MAX_LABEL, "措施序号", measure.line, where)
        _validate_responsibilities(measure, where)
        for target in measure.targets:
            if target.comparator is not None and target.comparator not in COMPARATORS:
                raise DraftError(
                    f"第{target.line}行的目标比较符“{target.comparator}”无效,"
                    f"应为 {' '.join(COMPARATORS)} 之一",
                    where=where,
                )
            _check_length(target.unit, MAX_UNIT, "目标单位", target.line, where)


def _validate_responsibilities(measure: DraftMeasure, where: str) -> None:
    seen: set[tuple[Role, str]] = set()
    for responsibility in measure.responsibilities:
        if not isinstance(responsibility.role, Role):
            raise DraftError(
                f"第{responsibility.line}行的责任角色“{responsibility.role}”无效,"
                "应为 lead 或 supporting",
                where=where,
            )
        label = UNIT_ROLE_LABELS[responsibility.role]
        name = normalize_name(responsibility.name)
        if not name:
            raise DraftError(f"第{responsibility.line}行有空的{label}名称", where=where)
        if (responsibility.role, name) in seen:
            raise DraftError(f"重复列出{label}“{responsibility.name}”", where=where)
        seen.add((responsibility.role, name))
        _check_length(responsibility.name, MAX_NAME, label, responsibility.line, where)


def _check_length(
    value: str | None, limit: int, what: str, line: int | None = None, where: str | None = None
) -> None:
    if value is not None and len(value) > limit:
        at = f"第{line}行的" if line else ""
        raise DraftError(f"{at}{what}超过{limit}个字符:“{value[:40]}…”", where=where)


# --- name resolution ---------------------------------------------------------


def _unknown_names(draft: PlanDraft, directory: Directory) -> dict[str, list[tuple[int, int]]]:
    """Names the directory does not know: printed name -> [(measure, line)].

    Names equal after normalisation are reported once, under the first spelling.
    """
    unknown: dict[str, list[tuple[int, int]]] = {}
    spelling: dict[str, str] = {}
    for measure in draft.measures:
        for responsibility in measure.responsibilities:
            if directory.knows(responsibility.name):
                continue
            name = responsibility.name.strip()
            first = spelling.setdefault(normalize_name(name), name)
            unknown.setdefault(first, []).append((measure.number, responsibility.line))
    return unknown


def _unknown_message(unknown: dict[str, list[tuple[int, int]]]) -> str:
    lines = [f"以下 {len(unknown)} 个单位不在机构目录中,未导入任何内容:"]
    for name, places in unknown.items():
        where = "、".join(f"第{number}项措施第{line}行" for number, line in places)
        lines.append(f"  {name}({where})")
    lines.append(
        "请把它们作为单位或别名写入机构目录文件后运行 duban org load,"
        "或使用 --create-unknown 把它们新建为单位。"
    )
    return "\n".join(lines)


def _resolve_all(
    session: Session, draft: PlanDraft, directory: Directory
) -> dict[str, _Resolution]:
    """Normalised printed name -> resolution, for every name in the draft."""
    ids = {name: id_ for name, id_ in session.execute(select(Department.name, Department.id))}
    resolutions: dict[str, _Resolution] = {}
    for measure in draft.measures:
        for responsibility in measure.responsibilities:
            name = normalize_name(responsibility.name)
            if name in resolutions:
                continue
            if directory.is_collective(responsibility.name):
                resolutions[name] = _Resolution(None, True)
                continue
            department = directory.resolve(responsibility.name)
            if department is None:  # pragma: no cover - checked before
                raise DirectoryError(f"单位“{responsibility.name}”不在机构目录中")
            resolutions[name] = _Resolution(ids[department.name], False)
    return resolutions


# --- diff --------------------------------------------------------------------


def _load_plan(session: Session, key: str) -> Plan | None:
    """The plan stored under ``key``, or under another bracket spelling of the same
    文号 (珠府办(2025)5号 for 珠府办〔2025〕5号), the exact spelling first."""
    variants = key_variants(key)
    found = session.scalars(
        select(Plan)
        .where(Plan.key.in_(variants))
        .options(
            selectinload(Plan.sections),
            selectinload(Plan.measures).selectinload(Measure.responsibilities),
            selectinload(Plan.measures).selectinload(Measure.targets),
        )
    ).all()
    return min(found, key=lambda p: variants.index(p.key)) if found else None


def _diff(plan: Plan, draft: PlanDraft, report: ImportReport) -> None:
    """Fill the report with how ``draft`` differs from the stored ``plan``."""
    for name, old, new in (
        ("title", plan.title, draft.title),
        ("doc_number", plan.doc_number, draft.doc_number),
        ("plan_year", plan.plan_year, draft.plan_year),
        ("horizon", plan.horizon, draft.horizon),
        ("source_name", plan.source_name, draft.source_name),
        ("source_sha256", plan.source_sha256, draft.source_sha256),
    ):
        if old != new:
            report.plan_changes.append(FieldChange(name, old, new))

    stored_sections = {s.number: s for s in plan.sections}
    drafted_sections = {s.number: s for s in draft.sections}
    report.sections_added = sorted(set(drafted_sections) - set(stored_sections))
    report.sections_removed = sorted(set(stored_sections) - set(drafted_sections))
    report.sections_changed = [
        number
        for number in sorted(set(stored_sections) & set(drafted_sections))
        if (stored_sections[number].label, stored_sections[number].title)
        != (drafted_sections[number].label, drafted_sections[number].title)
    ]

    stored = {m.number: m for m in plan.measures}
    drafted = {m.number: m for m in draft.measures}
    report.measures_added = sorted(set(drafted) - set(stored))
    report.measures_removed = sorted(set(stored) - set(drafted))
    for number in sorted(set(stored) & set(drafted)):
        changes = _measure_changes(stored[number], drafted[number])
        if changes:
            report.measures_changed.append(MeasureChange(number, drafted[number].title, changes))
        elif _measure_lines(stored[number]) != _draft_measure_lines(drafted[number]):
            report.relocated += 1


def _measure_changes(row: Measure, measure: DraftMeasure) -> list[FieldChange]:
    stored_section = row.section.number if row.section is not None else None
    pairs: list[tuple[str, Any, Any]] = [
        ("label", row.label, measure.label),
        ("title", row.title, measure.title),
        ("text", row.text, measure.text),
        ("section", stored_section, measure.section),
        ("clause", row.clause, measure.clause),
        ("leaders", list(row.leaders or []), measure.leaders),
        ("lead", _stored_names(row, Role.LEAD), measure.lead),
        ("supporting", _stored_names(row, Role.SUPPORTING), measure.supporting),
        (
            "targets",
            [_describe(_target_content_of_row(t)) for t in row.targets],
            [_describe(_target_content(t)) for t in measure.targets],
        ),
    ]
    changes = [FieldChange(name, old, new) for name, old, new in pairs if old != new]
    # Structured target fields may change while the description does not.
    if not any(c.field == "targets" for c in changes) and [
        _target_content_of_row(t) for t in row.targets
    ] != [_target_content(t) for t in measure.targets]:
        changes.append(
            FieldChange(
                "targets",
                [_target_dict(_target_content_of_row(t)) for t in row.targets],
                [_target_dict(_target_content(t)) for t in measure.targets],
            )
        )
    return changes


def _stored_names(row: Measure, role: Role) -> list[str]:
    chosen = [r for r in row.responsibilities if r.role == role.value]
    return [r.named_as for r in sorted(chosen, key=lambda r: r.position)]


_TargetContent = tuple[
    date | None, str | None, str | None, str | None, float | None, str | None, str, str, bool
]
_TARGET_FIELDS = (
    "due", "due_text", "indicator", "comparator", "value", "unit", "text", "source", "ongoing"
)


def _target_content(target: DraftTarget) -> _TargetContent:
    value = float(target.value) if target.value is not None else None
    return (
        target.due,
        target.due_text,
        target.indicator,
        target.comparator,
        value,
        target.unit,
        target.text,
        target.source_text,
        target.ongoing,
    )


def _target_content_of_row(row: Target) -> _TargetContent:
    return (
        row.due,
        row.due_text,
        row.indicator,
        row.comparator,
        row.value,
        row.unit,
        row.text,
        row.source_text,
        bool(row.ongoing),
    )


def _target_dict(content: _TargetContent) -> dict[str, Any]:
    return jsonable(dict(zip(_TARGET_FIELDS, content, strict=True)))


def _describe(content: _TargetContent) -> str:
    """One line for a target: its text, then due date and quantity if any."""
    due, _due_text, indicator, comparator, value, unit, text, _source, ongoing = content
    extras = []
    if due is not None:
        extras.append(f"期限 {due.isoformat()}")
    if ongoing:
        extras.append("长期任务")
    if value is not None:
        quantity = f"{comparator or ''}{format_value(value)}{unit or ''}"
        extras.append(f"{indicator} {quantity}" if indicator else quantity)
    return f"{text}({';'.join(extras)})" if extras else text


def _measure_lines(row: Measure) -> tuple[Any, ...]:
    return (
        row.source_line,
        row.source_end_line,
        row.clause_line,
        sorted((r.role, r.named_as, r.source_line) for r in row.responsibilities),
        [t.source_line for t in row.targets],
    )


def _draft_measure_lines(measure: DraftMeasure) -> tuple[Any, ...]:
    return (
        measure.line,
        measure.end_line,
        measure.clause_line,
        sorted((r.role.value, r.name, r.line) for r in measure.responsibilities),
        [t.line for t in measure.targets],
    )


# --- apply -------------------------------------------------------------------


def _apply(
    plan: Plan,
    draft: PlanDraft,
    resolutions: dict[str, _Resolution],
    *,
    source_text: str | None,
) -> None:
    """Make ``plan`` and its children equal to ``draft``, updating rows in place."""
    same_source = draft.source_sha256 is not None and plan.source_sha256 == draft.source_sha256
    if source_text is not None:
        plan.source_text = source_text
    elif not same_source:
        plan.source_text = None
    plan.title = draft.title
    plan.doc_number = draft.doc_number
    plan.plan_year = draft.plan_year
    plan.horizon = draft.horizon
    plan.source_name = draft.source_name
    plan.source_sha256 = draft.source_sha256

    sections = {s.number: s for s in plan.sections}
    for drafted_section in draft.sections:
        section = sections.get(drafted_section.number)
        if section is None:
            section = Section(number=drafted_section.number)
            plan.sections.append(section)
            sections[section.number] = section
        section.label = drafted_section.label
        section.title = drafted_section.title
        section.source_line = drafted_section.line
    _remove_missing(plan.sections, {s.number for s in draft.sections}, lambda s: s.number)

    measures = {m.number: m for m in plan.measures}
    for drafted in draft.measures:
        row = measures.get(drafted.number)
        if row is None:
            row = Measure(number=drafted.number)
            plan.measures.append(row)
        row.section = sections.get(drafted.section) if drafted.section is not None else None
        row.label = drafted.label
        row.title = drafted.title
        row.text = drafted.text
        row.source_line = drafted.line
        row.source_end_line = drafted.end_line
        row.clause = drafted.clause
        row.clause_line = drafted.clause_line
        row.leaders = list(drafted.leaders)
        _apply_responsibilities(row, drafted, resolutions)
        _apply_targets(row, drafted)
    _remove_missing(plan.measures, {m.number for m in draft.measures}, lambda m: m.number)


def _apply_responsibilities(
    row: Measure, drafted: DraftMeasure, resolutions: dict[str, _Resolution]
) -> None:
    existing = {(r.role, r.named_as): r for r in row.responsibilities}
    wanted: set[tuple[str, str]] = set()
    positions = {Role.LEAD: 0, Role.SUPPORTING: 0}
    for responsibility in drafted.responsibilities:
        positions[responsibility.role] += 1
        key = (responsibility.role.value, responsibility.name)
        wanted.add(key)
        stored = existing.get(key)
        if stored is None:
            stored = Responsibility(role=key[0], named_as=key[1])
            row.responsibilities.append(stored)
        resolution = resolutions[normalize_name(responsibility.name)]
        stored.department_id = resolution.department_id
        stored.collective = resolution.collective
        stored.position = positions[responsibility.role]
        stored.source_line = responsibility.line
    _remove_missing(row.responsibilities, wanted, lambda r: (r.role, r.named_as))


def _apply_targets(row: Measure, drafted: DraftMeasure) -> None:
    for position, target in enumerate(drafted.targets, start=1):
        if position <= len(row.targets):
            stored = row.targets[position - 1]
        else:
            stored = Target(position=position)
            row.targets.append(stored)
        stored.position = position
        stored.due = target.due
        stored.due_text = target.due_text
        stored.indicator = target.indicator
        stored.comparator = target.comparator
        stored.value = float(target.value) if target.value is not None else None
        stored.unit = target.unit
        stored.text = target.text
        stored.source_text = target.source_text
        stored.source_line = target.line
        stored.ongoing = target.ongoing
    del row.targets[len(drafted.targets) :]


def _remove_missing(rows: list[Any], keep: Iterable[Any], key: Callable[[Any], Any]) -> None:
    """Remove (delete-orphan) every row whose key is not in ``keep``."""
    wanted = set(keep)
    rows[:] = [r for r in rows if key(r) in wanted]
