"""Printable documents on the web: issue a 督办单 (from a task page, or for a
department) or a 督查通报 (for a period), list what was issued, and download
each as .docx or PDF under a Chinese file name. Coordinators issue; staff
read and download.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.issued_documents import NOTICE_KINDS, DocumentKind, parse_kind
from duban.domain.scorecard import parse_period
from duban.services.reports.choices import department_names
from duban.services.reports.issued_document_files import docx_bytes, pdf_bytes
from duban.services.reports.issued_documents import (
    IssuedView,
    get_document,
    issue_bulletin,
    issue_notice,
    list_documents,
)
from duban.services.reports.libreoffice import ConverterMissing
from duban.web.auth import CheckedForm, Coordinator, Staff
from duban.web.state import flash, render, state_of

router = APIRouter(include_in_schema=False)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def recent_periods(today: date) -> list[tuple[str, str]]:
    """(value, label) of the periods a 通报 is usually about: the last four
    quarters (the latest complete one first), this and last month, the year."""
    quarter = (today.month - 1) // 3 + 1
    year = today.year
    periods: list[tuple[str, str]] = []
    for _ in range(4):
        quarter -= 1
        if quarter == 0:
            year, quarter = year - 1, 4
        periods.append((f"{year}-Q{quarter}", f"{year}年第{'一二三四'[quarter - 1]}季度"))
    current = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    periods.insert(1, (current, "本季度(至今)"))
    periods.append((f"{today.year}-{today.month:02d}", "本月(至今)"))
    periods.append((str(today.year - 1), f"{today.year - 1}年全年"))
    periods.append(("", "方案实施以来全部"))
    return periods


@router.get("/documents")
def documents_page(request: Request, user: Staff) -> Response:
    web = state_of(request)
    return render(request, "documents/list.html", documents=list_documents(
        web.context.session_factory), periods=recent_periods(web.today()),
        departments=department_names(web.context.session_factory), kinds=NOTICE_KINDS)


def _issued(request: Request, form: FormData, action: Any) -> Response:
    """Issue; on success open the document's page, else go back with why."""
    try:
        view: IssuedView = action(state_of(request))
    except NotFoundError:
        flash(request, "未能印发:找不到所选的任务或单位,请刷新页面", "error")
    except DubanError as err:
        flash(request, f"未能印发:{err.message}", "error")
    else:
        flash(request, f"已印发{view.kind.label} {view.number}。")
        return RedirectResponse(f"/documents/{view.id}", 303)
    back = _text(form, "back")
    safe = back.startswith("/") and not back.startswith("//")
    return RedirectResponse(back if safe else "/documents", 303)


@router.post("/documents/notice")
def issue_notice_form(request: Request, user: Coordinator, form: CheckedForm) -> Response:
    """A 督办单 about the form's tasks (``task``, one or more) or department."""
    try:
        task_ids = [int(v) for v in form.getlist("task") if isinstance(v, str) and v.strip()]
    except ValueError:
        raise HTTPException(400, "所选任务无效") from None
    raw_kind = _text(form, "kind")

    def run(web: Any) -> IssuedView:
        return issue_notice(
            web.context.session_factory, actor=user.actor, now=web.clock.now(),
            calendar=web.context.calendar, task_ids=task_ids or None,
            department=_text(form, "department") or None,
            kind=parse_kind(raw_kind, notices_only=True) if raw_kind else None,
            opinion=_text(form, "opinion") or None,
            signer=_text(form, "signer") or user.display_name,
            default_issuer=web.context.settings.sender_name, zone=web.zone)

    return _issued(request, form, run)


@router.post("/documents/bulletin")
def issue_bulletin_form(request: Request, user: Coordinator, form: CheckedForm) -> Response:
    def run(web: Any) -> IssuedView:
        return issue_bulletin(
            web.context.session_factory, actor=user.actor, now=web.clock.now(),
            calendar=web.context.calendar, period=parse_period(_text(form, "period")),
            signer=_text(form, "signer") or user.display_name,
            default_issuer=web.context.settings.sender_name, zone=web.zone)

    return _issued(request, form, run)


@router.get("/documents/{document_id:int}")
def document_page(request: Request, user: Staff, document_id: int) -> Response:
    web = state_of(request)
    view = get_document(web.context.session_factory, document_id)
    return render(request, "documents/detail.html", doc=view,
                  is_bulletin=view.kind is DocumentKind.BULLETIN)


@router.get("/documents/{document_id:int}.docx")
def document_docx(request: Request, user: Staff, document_id: int) -> Response:
    view = get_document(state_of(request).context.session_factory, document_id)
    return _file(docx_bytes(view), f"{view.filename_stem}.docx", DOCX)


@router.get("/documents/{document_id:int}.pdf")
def document_pdf(request: Request, user: Staff, document_id: int) -> Response:
    web = state_of(request)
    view = get_document(web.context.session_factory, document_id)
    try:
        data = pdf_bytes(view, data_dir=web.data_dir, soffice=web.context.settings.soffice)
    except ConverterMissing as err:
        raise HTTPException(503, err.message) from None
    return _file(data, f"{view.filename_stem}.pdf", "application/pdf")


def _file(data: bytes, filename: str, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename*=utf-8''{quote(filename)}",
        "Cache-Control": "no-store",
    })
