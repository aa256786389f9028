"""The liaison's pages (联络员), reached without a password from the signed
link in every notice: the department's tasks, one task with the measure, the
other departments, the due date and the ladder ahead, and the actions
签收 / 进度反馈 / 报结 (with attachments) / 延期申请.

Every route takes the link token in its path and serves only the tasks of the
token's department; every form also carries the session's CSRF token. Each
action is recorded in the task's event log as ``单位(经办人)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from duban.domain.errors import DubanError
from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.status import TaskStatus
from duban.services import lifecycle
from duban.services.attachments import (
    Upload,
    attachment_file,
    list_attachments,
    record_attachments,
    store_files,
)
from duban.services.ics import department_ics
from duban.services.outlook import next_steps, past_escalations
from duban.services.tasks import list_tasks
from duban.web.auth import CheckedForm
from duban.web.links import guard_task, holder_of
from duban.web.state import WebState, flash, parse_day, render, state_of

router = APIRouter(include_in_schema=False)

STATE_ORDER = {
    TaskState.RETURNED: 0,
    TaskState.ASSIGNED: 1,
    TaskState.ACKNOWLEDGED: 2,
    TaskState.IN_PROGRESS: 2,
    TaskState.SUBMITTED: 3,
    TaskState.APPROVED: 4,
}


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@router.get("/d/{token}")
def department_home(request: Request, token: str) -> Response:
    holder = holder_of(request, token)
    web = state_of(request)
    views = list_tasks(
        web.context.session_factory,
        as_of=web.today(),
        calendar=web.context.calendar,
        department=holder.department,
        zone=web.zone,
    )
    views.sort(key=lambda v: (STATE_ORDER[v.state], v.due, v.id))
    open_count = sum(1 for v in views if v.state in OPEN_STATES)
    return render(
        request,
        "department/home.html",
        holder=holder,
        token=token,
        tasks=views,
        open_count=open_count,
        overdue=sum(1 for v in views if v.status is TaskStatus.OVERDUE),
    )


@router.get("/d/{token}/calendar.ics")
def department_calendar(request: Request, token: str) -> Response:
    """The department's iCalendar feed (every due date and report deadline of its
    tasks), at the same signed link, so Outlook or a phone calendar can subscribe."""
    holder = holder_of(request, token)
    web = state_of(request)
    feed = department_ics(
        web.context.session_factory,
        department=holder.department,
        now=web.clock.now(),
        calendar=web.context.calendar,
        base_url=str(request.base_url).rstrip("/"),
        zone=web.zone,
    )
    return Response(
        feed,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="duban.ics"'},
    )


@router.get("/d/{token}/tasks/{task_id}")
def department_task(request: Request, token: str, task_id: int) -> Response:
    holder = holder_of(request, token)
    guard_task(request, holder, task_id)
    web = state_of(request)
    detail = web.task_detail(task_id)
    return render(
        request,
        "department/task.html",
        holder=holder,
        token=token,
        task=detail,
        attachments=list_attachments(task_id, session_factory=web.context.session_factory),
        steps=next_steps(
            task_id,
            today=web.today(),
            calendar=web.context.calendar,
            zone=web.zone,
            session_factory=web.context.session_factory,
        ),
        past=past_escalations(task_id, zone=web.zone, session_factory=web.context.session_factory),
        can_act=detail.state in OPEN_STATES,
        max_upload=web.context.settings.upload_max_bytes,
    )


def _act(
    request: Request, token: str, task_id: int, action: Callable[[WebState, str], Any], done: str
) -> Response:
    """Run a department action; flash the outcome and go back to the task page."""
    holder = holder_of(request, token)
    guard_task(request, holder, task_id)
    web = state_of(request)
    try:
        action(web, holder.department)
    except DubanError as err:
        flash(request, f"未能办理:{err}", "error")
    else:
        flash(request, done)
    return RedirectResponse(f"/d/{token}/tasks/{task_id}", 303)


@router.post("/d/{token}/tasks/{task_id}/ack")
def acknowledge(request: Request, token: str, task_id: int, form: CheckedForm) -> Response:
    def run(web: WebState, department: str) -> None:
        lifecycle.acknowledge(
            task_id,
            department=department,
            actor=_text(form, "actor"),
            now=web.clock.now(),
            session_factory=web.context.session_factory,
        )

    return _act(request, token, task_id, run, "已签收。")


@router.post("/d/{token}/tasks/{task_id}/report")
def report(request: Request, token: str, task_id: int, form: CheckedForm) -> Response:
    values = {
        key.removeprefix("value:"): raw.strip()
        for key, raw in form.multi_items()
        if key.startswith("value:") and isinstance(raw, str) and raw.strip()
    }

    def run(web: WebState, department: str) -> None:
        lifecycle.report(
            task_id,
            department=department,
            note=_text(form, "note"),
            values=values or None,
            actor=_text(form, "actor"),
            now=web.clock.now(),
            session_factory=web.context.session_factory,
            zone=web.zone,
        )

    return _act(request, token, task_id, run, "进度已报送。")


@router.post("/d/{token}/tasks/{task_id}/submit")
async def submit(request: Request, token: str, task_id: int, form: CheckedForm) -> Response:
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]

    def run(web: WebState, department: str) -> None:
        stored = store_files(
            [Upload(f.filename or "", f.content_type or "", f.file) for f in files],
            task_id=task_id,
            data_dir=web.data_dir,
            max_bytes=web.context.settings.upload_max_bytes,
        )
        result = lifecycle.submit(
            task_id,
            department=department,
            note=_text(form, "note"),
            actor=_text(form, "actor"),
            now=web.clock.now(),
            session_factory=web.context.session_factory,
        )
        if stored:
            person = _text(form, "actor")
            record_attachments(
                stored,
                task_id=task_id,
                event_id=result.event_id,
                uploaded_by=f"{department}({person})" if person else department,
                now=web.clock.now(),
                session_factory=web.context.session_factory,
            )

    return _act(request, token, task_id, run, "已报结,等待督办科审核。")


@router.post("/d/{token}/tasks/{task_id}/extend")
def extend(request: Request, token: str, task_id: int, form: CheckedForm) -> Response:
    new_due = parse_day(_text(form, "new_due"))

    def run(web: WebState, department: str) -> None:
        if new_due is None:
            raise DubanError("请填写申请的新期限(YYYY-MM-DD)")
        lifecycle.request_extension(
            task_id,
            department=department,
            new_due=new_due,
            reason=_text(form, "reason"),
            actor=_text(form, "actor"),
            now=web.clock.now(),
            calendar=web.context.calendar,
            session_factory=web.context.session_factory,
            zone=web.zone,
        )

    return _act(request, token, task_id, run, "延期申请已提交,等待督办科审批。")


@router.get("/d/{token}/tasks/{task_id}/files/{attachment_id}")
def attachment(request: Request, token: str, task_id: int, attachment_id: int) -> Response:
    holder = holder_of(request, token)
    guard_task(request, holder, task_id)
    return send_attachment(request, task_id, attachment_id)


def send_attachment(request: Request, task_id: int, attachment_id: int) -> Response:
    """The file as a download (never rendered inline: it is user content)."""
    web = state_of(request)
    try:
        view, path = attachment_file(
            attachment_id,
            task_id=task_id,
            data_dir=web.data_dir,
            session_factory=web.context.session_factory,
        )
    except DubanError as err:
        return render(request, "error.html", status_code=404, message=str(err))
    return FileResponse(
        path,
        filename=view.filename,
        media_type="application/octet-stream",
        content_disposition_type="attachment",
    )
