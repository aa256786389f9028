"""The desk's plan pages: upload a plan document, review the parsed draft
(each measure beside its source paragraph, warnings at the top), correct
units and targets, decide about names the directory does not know, check or
import it; then assign a measure or the whole plan.

A draft under review lives in ``DATA_DIR/drafts/<id>.yaml`` (the same YAML as
``duban plan parse --out``) with the document's text beside it (``<id>.txt``: line N
is the document's block N, see :mod:`duban.services.plans.documents`) and each line's
provenance label (``<id>.where.json``: 第2页 第3段, 表1 第4行 …), so review survives a
restart and the CLI can read it too. Uploads are .txt, .docx, .pdf, .ofd, .html and
.doc/.wps (through LibreOffice), streamed to a temporary file, never held whole.
A submitted review form is checked as a whole: if any field is wrong, the
page comes back with the input kept and the errors named, and neither the
draft nor the database changes. Only 确认导入 writes to the database.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from duban.domain.directory import Directory
from duban.domain.draft_edits import FieldError, apply_edits
from duban.domain.draft_names import Resolution, resolve_name, unknown_names, with_pending
from duban.domain.draft_warnings import review_warnings
from duban.domain.errors import DubanError
from duban.domain.plan_draft import PlanDraft
from duban.services.accounts.directory import stored_directory
from duban.services.plans.assignment import assign_measure
from duban.services.plans.catalog import stored_plans
from duban.services.plans.documents import MAX_DOCUMENT_BYTES, format_of, read_plan_document
from duban.services.plans.draft_io import dump_draft, load_draft
from duban.services.plans.fates import fate_lines
from duban.services.plans.files import parse_plan_document
from duban.services.plans.import_report import ImportReport, ImportStatus
from duban.services.plans.importer import import_plan
from duban.services.plans.to_assign import MeasureRef, late_tasks, measures_to_run
from duban.services.plans.withdrawal import Cancelled
from duban.web.auth import CheckedForm, Coordinator
from duban.web.limits import accepts_uploads
from duban.web.review_view import (
    SourceDocument,
    SubmittedForm,
    field_id,
    measure_rows,
    name_choices,
    page_context,
    pending_changes,
    read_form,
    resolution_of,
    short_message,
)
from duban.web.state import WebState, flash, render, state_of

router = APIRouter(include_in_schema=False)

_DRAFT_ID = re.compile(r"^[0-9a-f]{16}$")
MAX_PLAN_BYTES = MAX_DOCUMENT_BYTES
_CHUNK = 1024 * 1024


def _drafts_dir(web: WebState) -> Path:
    folder = web.data_dir / "drafts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _paths(web: WebState, draft_id: str) -> tuple[Path, Path]:
    if not _DRAFT_ID.match(draft_id):
        raise HTTPException(404, "找不到该草稿")
    folder = _drafts_dir(web)
    yaml_path, text_path = folder / f"{draft_id}.yaml", folder / f"{draft_id}.txt"
    if not yaml_path.is_file():
        raise HTTPException(404, "找不到该草稿(可能已导入或被删除)")
    return yaml_path, text_path


def _load(web: WebState, draft_id: str) -> tuple[PlanDraft, SourceDocument]:
    """The stored draft and its document: lines ([] when gone) and their
    provenance labels ([] for plain text or a draft from before them)."""
    yaml_path, text_path = _paths(web, draft_id)
    draft = load_draft(yaml_path.read_text(encoding="utf-8"), source="草稿")
    lines = text_path.read_text(encoding="utf-8").splitlines() if text_path.is_file() else []
    where_path = text_path.with_suffix(".where.json")
    where: list[str] = []
    if where_path.is_file():
        try:
            loaded = json.loads(where_path.read_text(encoding="utf-8"))
        except ValueError:
            loaded = []
        where = [str(w or "") for w in loaded] if isinstance(loaded, list) else []
    return draft, SourceDocument(lines, where)


@router.get("/desk/plans")
def plans_page(request: Request, user: Coordinator) -> Response:
    plans = stored_plans(state_of(request).context.session_factory)
    return render(request, "desk/plans.html", plans=plans)


@router.post("/desk/plans/upload")
@accepts_uploads
async def upload(request: Request, user: Coordinator, form: CheckedForm) -> Response:
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        flash(request, "请选择方案文件", "error")
        return RedirectResponse("/desk/plans", 303)
    web = state_of(request)
    try:
        format_of(file.filename)
        with tempfile.TemporaryDirectory(prefix="duban-upload-") as folder:
            saved = Path(folder) / f"plan{Path(file.filename).suffix.lower()}"
            if not await _save_upload(file, saved):
                flash(request, f"方案文件过大(上限 {MAX_PLAN_BYTES // 1024 // 1024} MB)", "error")
                return RedirectResponse("/desk/plans", 303)
            document = read_plan_document(saved, name=file.filename)
        draft = parse_plan_document(document, stored_directory(web.context.session_factory))
    except DubanError as err:
        flash(request, f"无法解析:{err}", "error")
        return RedirectResponse("/desk/plans", 303)
    draft_id = secrets.token_hex(8)
    drafts = _drafts_dir(web)
    (drafts / f"{draft_id}.txt").write_text(document.text, encoding="utf-8")
    (drafts / f"{draft_id}.where.json").write_text(
        json.dumps([b.where for b in document.blocks], ensure_ascii=False), encoding="utf-8"
    )
    (drafts / f"{draft_id}.yaml").write_text(dump_draft(draft), encoding="utf-8")
    flash(request, f"已解析:{len(draft.measures)} 项措施,{len(draft.warnings)} 条提示。请审核。")
    return RedirectResponse(f"/desk/plans/drafts/{draft_id}", 303)


async def _save_upload(upload: UploadFile, target: Path) -> bool:
    """Copy an upload to ``target`` in chunks; False (and nothing kept) past the limit."""
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > MAX_PLAN_BYTES:
                return False
            out.write(chunk)
    return True


def _directory(web: WebState) -> Directory:
    return stored_directory(web.context.session_factory)


def _known(directory: Directory, draft: PlanDraft) -> Callable[[str], bool]:
    try:
        return with_pending(directory, draft).knows
    except DubanError:  # a pending alias whose department is gone: import says so
        return directory.knows


def _render_review(
    request: Request,
    draft_id: str,
    draft: PlanDraft,
    document: SourceDocument,
    directory: Directory,
    *,
    submitted: SubmittedForm | None = None,
    errors: list[FieldError] | None = None,
    name_errors: list[str] | None = None,
) -> Response:
    known = _known(directory, draft)
    warnings = review_warnings(draft, known)
    unknown = unknown_names(draft, known)
    choices = name_choices(unknown, directory, submitted.choices if submitted else None)
    rows = measure_rows(
        draft, document, warnings,
        edits={e.number: e for e in submitted.edits} if submitted else None,
        errors=errors,
    )
    reviewed = set(submitted.reviewed) if submitted else set(draft.reviewed)
    open_warnings = [w for w in warnings if w.key not in reviewed or not w.checkable]
    checked = [w for w in warnings if w.key in reviewed and w.checkable]
    labels = {m.number: m.label or str(m.number) for m in draft.measures}
    failed = bool(errors or name_errors)
    return render(
        request,
        "desk/review.html",
        status_code=400 if failed else 200,
        **page_context(
            draft=draft, draft_id=draft_id, rows=rows, labels=labels,
            open_warnings=open_warnings, checked_warnings=checked, choices=choices,
            pending=pending_changes(draft), errors=errors or [], name_errors=name_errors or [],
            field_id=field_id, known=known, short=lambda w: short_message(w, labels),
            line_label=document.label,
            known_names=[n for d in directory for n in d.names()],
        ),
    )


@router.get("/desk/plans/drafts/{draft_id}")
def review(request: Request, user: Coordinator, draft_id: str) -> Response:
    web = state_of(request)
    draft, document = _load(web, draft_id)
    return _render_review(request, draft_id, draft, document, _directory(web))


def _apply_form(
    draft: PlanDraft, submitted: SubmittedForm, directory: Directory, has_acks: bool
) -> tuple[list[FieldError], list[str]]:
    """Apply the whole form to ``draft`` (in memory); returns field errors and
    errors about names. With any error the caller must not keep ``draft``."""
    errors = apply_edits(draft, submitted.edits)
    name_errors: list[str] = []
    for name in submitted.undo:
        resolve_name(draft, name, Resolution.UNDO, directory=directory)
    for choice in submitted.choices:
        how = resolution_of(choice.action)
        kind = choice.kind
        if how is None and submitted.create_rest:
            how, kind = Resolution.CREATE, submitted.rest_kind
        if how is None or how is Resolution.UNDO:
            continue
        problem = resolve_name(draft, choice.name, how, directory=directory,
                               department=choice.department, kind=kind)
        if problem:
            choice.error = problem
            name_errors.append(problem)
    if has_acks:
        draft.reviewed = list(dict.fromkeys(submitted.reviewed))
    return errors, name_errors


@router.post("/desk/plans/drafts/{draft_id}")
def save_or_import(
    request: Request, user: Coordinator, draft_id: str, form: CheckedForm
) -> Response:
    web = state_of(request)
    draft, document = _load(web, draft_id)
    lines = document.lines
    yaml_path, text_path = _paths(web, draft_id)
    directory = _directory(web)
    do = str(form.get("do") or "save")
    back = f"/desk/plans/drafts/{draft_id}"
    submitted = read_form(form, draft)
    errors, name_errors = _apply_form(draft, submitted, directory, "acks" in form)
    if errors or name_errors:
        stored, _document = _load(web, draft_id)  # the page shows what is stored
        return _render_review(request, draft_id, stored, document, directory,
                              submitted=submitted, errors=errors, name_errors=name_errors)
    yaml_path.write_text(dump_draft(draft), encoding="utf-8")
    if do == "save":
        flash(request, "修改已保存(尚未导入)。")
        return RedirectResponse(back, 303)
    unresolved = unknown_names(draft, _known(directory, draft))
    if unresolved:
        flash(request, "修改已保存,但以下单位不在机构目录中,请先在“目录中没有的单位”里"
              "选择对应单位、记为别名或新建:" + "、".join(unresolved), "error")
        return RedirectResponse(back + "#unknown", 303)
    try:
        report = import_plan(
            draft,
            session_factory=web.context.session_factory,
            source_text="\n".join(lines) + "\n" if lines else None,
            dry_run=do != "import",
            now=web.clock.now(),
            policy=web.context.assignment_policy,
            actor=user.actor,
        )
    except DubanError as err:
        flash(request, f"修改已保存,但未能导入:{err}", "error")
        return RedirectResponse(back, 303)
    summary = _import_summary(report)
    if do != "import":
        flash(request, "检查通过(未写入):" + summary + f";{STATUS_LABELS[report.status]}")
        return RedirectResponse(back, 303)
    yaml_path.unlink(missing_ok=True)
    text_path.unlink(missing_ok=True)
    text_path.with_suffix(".where.json").unlink(missing_ok=True)
    flash(request, f"已导入{summary};{STATUS_LABELS[report.status]}。可在下方交办。")
    return RedirectResponse("/desk/plans#assign", 303)


def _import_summary(report: ImportReport) -> str:
    """The import (or its check) in one line: counts, the directory's
    additions, and what the next 交办 will do to the tasks already assigned."""
    summary = (f"“{report.title}”:{report.measure_count} 项措施、{report.responsibility_count} "
               f"个责任单位、{report.target_count} 个目标")
    if report.created_departments:
        summary += ";新建单位 " + "、".join(report.created_departments)
    if report.created_aliases:
        summary += ";新增别名 " + "、".join(report.created_aliases)
    if report.task_fates:
        summary += ";交办后对已交办任务的影响:" + ";".join(
            line.strip() for line in fate_lines(report.task_fates)
        )
    return summary


def late_refusal(web: WebState, refs: list[MeasureRef], *, accepted: bool) -> str | None:
    """Why assigning ``refs`` now needs the coordinator's confirmation (tasks
    whose due date has passed or is too near), or None; raises DubanError as
    assigning would (unknown year, no lead). Writes nothing."""
    if accepted:
        return None
    late = [
        item
        for ref in refs
        for item in late_tasks(web.context.session_factory, plan=ref.plan, measure=ref.number,
                               now=web.clock.now(), calendar=web.context.calendar,
                               policy=web.context.assignment_policy)
    ]
    if not late:
        return None
    shown = ";".join(item.describe() for item in late[:10])
    more = f"等 {len(late)} 项" if len(late) > 10 else ""
    grace = web.context.assignment_policy.grace_workdays
    return (f"未交办:以下任务的完成时限在交办时已过或临近——{shown}{more}。"
            f"如确认交办,请勾选“确认交办时限已过或临近的任务”后重新提交:"
            f"时限已过的任务期限将改为自交办日起 {grace} 个工作日,不会在交办当天催办或督办;"
            "时限临近的保持原期限。")


STATUS_LABELS = {
    ImportStatus.CREATED: "新方案",
    ImportStatus.UPDATED: "更新已有方案",
    ImportStatus.UNCHANGED: "与已导入的方案相同,无变化",
}


@router.post("/desk/plans/assign-all")
def assign_all(request: Request, user: Coordinator, form: CheckedForm) -> Response:
    """Assign every measure of a plan that has a lead (the service the measure
    flow runs, one measure after another; idempotent)."""
    web = state_of(request)
    plan = str(form.get("plan") or "").strip() or None
    try:
        refs = measures_to_run(web.context.session_factory, plan=plan, measure=None)
        refusal = late_refusal(web, [r for r in refs if r.assignable],
                               accepted=form.get("accept_past") == "1")
        if refusal:
            flash(request, refusal, "error")
            return RedirectResponse("/desk/plans#assign", 303)
        created = existing = 0
        cancelled: list[Cancelled] = []
        for ref in refs:
            if not ref.assignable:
                continue
            result = assign_measure(web.context.session_factory, plan=ref.plan,
                                    measure=ref.number, now=web.clock.now(),
                                    calendar=web.context.calendar,
                                    policy=web.context.assignment_policy)
            created += len(result.created)
            existing += len(result.existing)
            cancelled.extend(result.cancelled)
    except DubanError as err:
        flash(request, f"未能交办:{err}", "error")
        return RedirectResponse("/desk/plans#assign", 303)
    web.wake_delivery()
    skipped = [f"措施{r.number}" for r in refs if not r.assignable]
    message = (f"已交办 {sum(r.assignable for r in refs)} 项措施:新交办 {created} 项任务,"
               f"已存在 {existing} 项。")
    if skipped:
        message += "未交办(没有牵头单位):" + "、".join(skipped) + "。"
    if cancelled:
        message += f"撤销方案已不再包含的任务 {len(cancelled)} 项(已通知相关单位):" + ";".join(
            f"任务#{c.task_id} {c.department}" + (f"由 {c.successor} 接替" if c.successor else "")
            for c in cancelled
        ) + "。"
    flash(request, message)
    return RedirectResponse("/desk/plans#assign", 303)
