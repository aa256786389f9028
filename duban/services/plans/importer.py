"""Import a reviewed plan draft into the database, or update the stored plan.

A plan's identity is its key: the document number when it has one, else the
title. Importing the same content again writes nothing. A changed draft is
compared with the stored plan and applied in place in one transaction: a
measure keeps its id as long as its number stays, so tasks that later hang off
it survive a re-import. On any error nothing is written.

The steps have modules of their own: :mod:`~duban.services.plans.validation`
(the draft checked, the plan's key), :mod:`~duban.services.plans.plan_diff`
(draft against stored plan), :mod:`~duban.services.plans.apply` (the draft
written in place); the result is an
:class:`~duban.services.plans.import_report.ImportReport`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.domain.assignment import (
    AssignmentPolicy,
    MeasureToAssign,
    Responsible,
    task_identities,
)
from duban.domain.directory import Directory, normalize_name
from duban.domain.draft_names import with_pending
from duban.domain.errors import DirectoryError, DubanError
from duban.domain.plan_draft import (
    NewAlias,
    NewDepartment,
    PlanDraft,
    Role,
)
from duban.domain.plan_keys import key_variants
from duban.services.accounts.directory import directory_from_db
from duban.services.plans.apply import Resolution, apply_draft
from duban.services.plans.fates import MeasureFates, task_fates
from duban.services.plans.import_report import ImportReport, ImportStatus
from duban.services.plans.plan_diff import diff_plan
from duban.services.plans.validation import plan_key, validate_draft
from duban.timeutil import system_now
from models import (
    AuditEntry,
    Department,
    DepartmentAlias,
    IndicatorReading,
    Measure,
    Plan,
    Task,
)

CONSOLE_ACTOR = "命令行"  # the audit log's name for the command line


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

    Every import that writes (a new or changed plan) is recorded in the audit
    log in the same transaction (``import_plan``, by ``actor``: the signed-in
    coordinator on the web, :data:`CONSOLE_ACTOR` from the command line).

    Raises DraftError for an inconsistent draft. Writes nothing on error, when
    the content is unchanged (same fingerprint), or when ``dry_run``.
    """
    validate_draft(draft)
    now = now or system_now()  # callers pass their clock's time; scripts may omit it
    with session_factory() as session, session.begin():
        report = _store(
            session, draft, source_text=source_text, dry_run=dry_run,
            create_unknown=create_unknown, now=now, policy=policy,
        )
        if not dry_run and report.status is not ImportStatus.UNCHANGED:
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
        diff_plan(plan, draft, report)
        _guard_assigned_work(session, plan, draft)
        report.task_fates = _task_fates(
            session, plan, draft, with_pending(directory, draft), policy=policy
        )
    if dry_run:
        return report  # nothing was added to the session

    _add_to_directory(session, new_departments, list(unknown), new_aliases)
    resolutions = _resolve_all(session, draft, directory_from_db(session=session))
    if plan is None:
        plan = Plan(key=key, status="active", imported_at=now)
        session.add(plan)
    plan.key = key  # a plan stored under another bracket spelling takes the printed one
    plan.fingerprint = fingerprint
    plan.updated_at = now
    apply_draft(plan, draft, resolutions, source_text=source_text)
    session.flush()
    report.plan_id = plan.id
    return report


def _add_to_directory(
    session: Session,
    departments: Sequence[NewDepartment],
    unknown: Sequence[str],
    aliases: Sequence[NewAlias],
) -> None:
    """Store the draft's new departments, the unknown names it may create (as
    departments) and its new aliases."""
    for new in departments:
        session.add(Department(name=new.name, kind=new.kind, functional_area=False))
    for name in unknown:
        session.add(Department(name=name, kind="department", functional_area=False))
    session.flush()
    ids = {name: id_ for name, id_ in session.execute(select(Department.name, Department.id))}
    for alias in aliases:
        session.add(DepartmentAlias(department_id=ids[alias.department], alias=alias.alias))
    session.flush()


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
) -> dict[str, Resolution]:
    """Normalised printed name -> resolution, for every name in the draft."""
    ids = {name: id_ for name, id_ in session.execute(select(Department.name, Department.id))}
    resolutions: dict[str, Resolution] = {}
    for measure in draft.measures:
        for responsibility in measure.responsibilities:
            name = normalize_name(responsibility.name)
            if name in resolutions:
                continue
            if directory.is_collective(responsibility.name):
                resolutions[name] = Resolution(None, True)
                continue
            department = directory.resolve(responsibility.name)
            if department is None:  # pragma: no cover - checked before
                raise DirectoryError(f"单位“{responsibility.name}”不在机构目录中")
            resolutions[name] = Resolution(ids[department.name], False)
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


# --- apply -------------------------------------------------------------------


