"""The desk's plan pages: upload a plan document, review the parsed draft
(warnings beside the source line they point to), correct departments and
dates, check or import it; and run assignment for a measure.

A draft under review lives in ``DATA_DIR/drafts/<id>.yaml`` (the same YAML as
``duban plan parse --out``) with the decoded document beside it
(``<id>.txt``), so review survives a restart and the CLI can read it too.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from duban.domain.errors import DubanError
from duban.domain.plan_draft import ParseWarning, PlanDraft, Responsibility, Role, WarningKind
from duban.domain.plan_parser import parse_plan
from duban.domain.text_decoding import decode_plan_bytes
from duban.services.directory import directory_from_db
from duban.services.draft_io import dump_draft, load_draft
from duban.services.plan_import import import_plan
from duban.services.plans import list_plans
from duban.web.auth import CheckedForm, Coordinator
from duban.web.state import WebState, flash, parse_day, render, state_of
from models import AuditEntry

router = APIRouter(include_in_schema=False)

_DRAFT_ID = re.compile(r"^[0-9a-f]{16}$")
_SPLIT = re.compile(r"[、,,;;\s]+")
MAX_PLAN_BYTES = 5 * 1024 * 1024


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


def _load(web: WebState, draft_id: str) -> tuple[PlanDraft, list[dict[str, Any]], list[str]]:
    yaml_path, text_path = _paths(web, draft_id)
    text = yaml_path.read_text(encoding="utf-8")
    draft = load_draft(text, source="草稿")
    warnings = (yaml.safe_load(text) or {}).get("warnings") or []
    lines = text_path.read_text(encoding="utf-8").splitlines() if text_path.is_file() else []
    return draft, warnings, lines


@router.get("/desk/plans")
def plans_page(request: Request, user: Coordinator) -> Response:
    web = state_of(request)
    with web.context.session_factory() as session:
        plans = list_plans(session=session)
    return render(request, "desk/plans.html", plans=plans)


@router.post("/desk/plans/upload")
async def upload(request: Request, user: Coordinator, form: CheckedForm) -> Response:
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        flash(request, "请选择方案文件", "error")
        return RedirectResponse("/desk/plans", 303)
    data = await file.read(MAX_PLAN_BYTES + 1)
    if len(data) > MAX_PLAN_BYTES:
        flash(request, f"方案文件过大(上限 {MAX_PLAN_BYTES // 1024 // 1024} MB)", "error")
        return RedirectResponse("/desk/plans", 303)
    web = state_of(request)
    try:
        text, encoding = decode_plan_bytes(data, source=file.filename)
        with web.context.session_factory() as session:
            directory = directory_from_db(session=session)
        draft = parse_plan(text, known=directory.knows, source_name=file.filename)
        draft.encoding = encoding
    except DubanError as err:
        flash(request, f"无法解析:{err}", "error")
        return RedirectResponse("/desk/plans", 303)
    draft_id = secrets.token_hex(8)
    folder = _drafts_dir(web)
    (folder / f"{draft_id}.txt").write_text(text, encoding="utf-8")
    (folder / f"{draft_id}.yaml").write_text(dump_draft(draft), encoding="utf-8")
    flash(request, f"已解析:{len(draft.measures)} 项措施,{len(draft.warnings)} 条提示。请审核。")
    return RedirectResponse(f"/desk/plans/drafts/{draft_id}", 303)


@router.get("/desk/plans/drafts/{draft_id}")
def review(request: Request, user: Coordinator, draft_id: str) -> Response:
    web = state_of(request)
    draft, warnings, lines = _load(web, draft_id)
    by_line: dict[int, list[dict[str, Any]]] = {}
    for warning in warnings:
        by_line.setdefault(int(warning.get("line") or 0), []).append(warning)
    rows: list[dict[str, Any]] = []
    for measure in draft.measures:
        span = range(measure.line, measure.end_line + 1)
        notes = [
            {**w, "source": lines[w_line - 1] if 0 < w_line <= len(lines) else ""}
            for w_line in span
            for w in by_line.get(w_line, [])
        ]
        rows.append({"measure": measure, "warnings": notes,
                     "section": (s.heading if (s := draft.section(measure.section)) else "")})
    in_measures = {w["line"] for r in rows for w in r["warnings"]}
    loose = [
        {**w, "source": lines[int(w["line"]) - 1] if 0 < int(w["line"]) <= len(lines) else ""}
        for w in warnings
        if w.get("line") not in in_measures
    ]
    return render(request, "desk/review.html", draft=draft, draft_id=draft_id, rows=rows,
                  loose=loose, warning_count=len(warnings))


def _apply_edits(draft: PlanDraft, form: Any) -> None:
    """Departments and target dates from the review form, onto the draft."""
    for measure in draft.measures:
        n = measure.number
        line = measure.clause_line or measure.line
        if f"lead-{n}" in form:
            lead = [x for x in _SPLIT.split(str(form.get(f"lead-{n}"))) if x]
            supporting = [x for x in _SPLIT.split(str(form.get(f"supporting-{n}") or "")) if x]
            measure.responsibilities = [
                *(Responsibility(name, Role.LEAD, line) for name in lead),
                *(Responsibility(name, Role.SUPPORTING, line) for name in supporting),
            ]
        for index, target in enumerate(measure.targets):
            key = f"due-{n}-{index}"
            if key in form:
                raw = str(form.get(key) or "").strip()
                day = parse_day(raw)
                if raw and day is None:
                    raise DubanError(
                        f"措施{n} 第{index + 1}个目标的日期“{raw}”无效,应为 YYYY-MM-DD"
                    )
                target.due = day


@router.post("/desk/plans/drafts/{draft_id}")
def save_or_import(
    request: Request, user: Coordinator, draft_id: str, form: CheckedForm
) -> Response:
    web = state_of(request)
    draft, warnings, lines = _load(web, draft_id)
    yaml_path, text_path = _paths(web, draft_id)
    do = str(form.get("do") or "save")
    back = f"/desk/plans/drafts/{draft_id}"
    try:
        _apply_edits(draft, form)
    except DubanError as err:
        flash(request, str(err), "error")
        return RedirectResponse(back, 303)
    draft.warnings = [  # the parser's warnings stay on the review page
        ParseWarning(WarningKind(w["kind"]), int(w["line"]), str(w["message"]))
        for w in warnings
        if w.get("kind") in {k.value for k in WarningKind}
    ]
    text = dump_draft(draft)
    yaml_path.write_text(text, encoding="utf-8")
    if do == "save":
        flash(request, "修改已保存。")
        return RedirectResponse(back, 303)
    try:
        report = import_plan(
            draft,
            session_factory=web.context.session_factory,
            source_text="\n".join(lines) + "\n" if lines else None,
            dry_run=do != "import",
            create_unknown=form.get("create_unknown") == "on",
            now=web.clock.now(),
        )
    except DubanError as err:
        flash(request, f"未能导入:{err}", "error")
        return RedirectResponse(back, 303)
    summary = (f"“{report.title}”:{report.measure_count} 项措施、{report.responsibility_count} "
               f"个责任单位、{report.target_count} 个目标;状态 {report.status.value}")
    if do != "import":
        flash(request, "检查通过(未写入):" + summary)
        return RedirectResponse(back, 303)
    with web.context.session_factory.begin() as session:
        session.add(AuditEntry(at=web.clock.now(), actor=user.actor, action="import_plan",
                               subject=report.key, data={"status": report.status.value}))
    yaml_path.unlink(missing_ok=True)
    text_path.unlink(missing_ok=True)
    flash(request, "已导入" + summary + "。可在下方按措施交办。")
    return RedirectResponse("/desk/plans", 303)
