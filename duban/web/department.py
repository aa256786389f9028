"""The liaison's pages (联络员), reached without a password from the signed
link in every notice: the department's tasks, one task with the measure, the
other departments, the due date and the ladder ahead, and the actions
签收 / 进度反馈 / 报结 (with attachments) / 延期申请. A lead department's link
also opens its supporting units' tasks of the measures it leads, read-only
(``department/watch.html``: no forms, no files); their actions stay refused.

Every route takes the link token in its path and serves only the tasks of the
token's department; every form also carries the session's CSRF token. Each
action is recorded in the task's event log as ``单位(经办人)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from duban.domain.errors import DubanError
from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.services.accounts.link_access import TaskAccess
from duban.services.accounts.links import LinkHolder
from duban.services.paging import PAGE_SIZE, page_offset
from duban.services.reports.ics import DEFAULT_DAYS, MAX_DAYS, department_ics
from duban.services.reports.task_page import TaskPage, task_page
from duban.services.tasks import extensions, lifecycle
from duban.services.tasks.attachments import (
    Upload,
    attachment_file,
    preview_type,
    staged_files,
)
from duban.services.tasks.unit_list import TABS, unit_list, watched_list
from duban.web.auth import CheckedForm
from duban.web.limits import accepts_uploads
from duban.web.links import access_to, guard_task, holder_of
from duban.web.state import (
    WebState,
    flash,
    for_people,
    page_number,
    parse_day,
    render,
    state_of,
)

router = APIRouter(include_in_schema=False)

ACTOR_COOKIE = "duban_actor"
ACTOR_MAX = 50


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def remembered_actor(request: Request) -> str:
    """The 经办人 this browser gave on this link before (its own cookie, scoped
    to the link's path), or ""."""
    return unquote(request.cookies.get(ACTOR_COOKIE, ""))[:ACTOR_MAX].strip()


def _remember_actor(request: Request, response: Response, token: str, name: str) -> None:
    """Keep the 经办人 for this link (asked once): a cookie for the link's path
    only, so another link opened on the same phone asks again, kept as long
    as a link lives."""
    settings = state_of(request).context.settings
    response.set_cookie(
        ACTOR_COOKIE, quote(name[:ACTOR_MAX]), max_age=settings.link_max_age_days * 86400,
        path=f"/d/{token}", httponly=True, samesite="lax", secure=settings.cookie_secure,
    )


@router.get("/d/{token}")
def department_home(
    request: Request,
    token: str,
    tab: str = "open",
    page: str | None = None,
    watch_page: str | None = None,
) -> Response:
    """The unit's tasks, one tab 50 a page; under the open tab also its
    supporters' tasks of the measures it leads (read-only), 50 a page
    (``watch_page``; each list's pager keeps the other's page)."""
    holder = holder_of(request, token)
    web = state_of(request)
    listed = unit_list(
        web.context.session_factory,
        department_id=holder.department_id,
        as_of=web.today(),
        calendar=web.context.calendar,
        zone=web.zone,
        tab=tab,
        offset=page_offset(page_number(page)),
        limit=PAGE_SIZE,
    )
    tab = listed.tab
    watched = watched_list(
        web.context.session_factory,
        department_id=holder.department_id,
        as_of=web.today(),
        calendar=web.context.calendar,
        zone=web.zone,
        offset=page_offset(page_number(watch_page)),
        limit=PAGE_SIZE,
    ) if tab == "open" else None
    return render(
        request,
        "department/home.html",
        watched=watched,
        holder=holder,
        token=token,
        tabs=TABS,
        tab=tab,
        feed_days=DEFAULT_DAYS,
        tasks=listed.page.entries,
        page=listed.page,
        counts=listed.counts,
        overdue=listed.overdue,
        returned=listed.returned,
    )


@router.get("/d/{token}/calendar.ics")
def department_calendar(
    request: Request,
    token: str,
    everything: Annotated[bool, Query(alias="all")] = False,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = DEFAULT_DAYS,
) -> Response:
    """The department's iCalendar feed (the due dates and report deadlines of its
    open tasks from a month ago to ``days`` ahead, and the due dates of its
    overdue open tasks; ``?all=1`` every task and date), at the same signed
    link, so Outlook or a phone calendar can subscribe."""
    holder = holder_of(request, token)
    web = state_of(request)
    feed = department_ics(
        web.context.session_factory,
        department=holder.department_id,
        now=web.clock.now(),
        calendar=web.context.calendar,
        base_url=str(request.base_url).rstrip("/"),
        zone=web.zone,
        link_token=token,  # each event opens the task at this same link
        everything=everything,
        days=days,
    )
    return Response(
        feed,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="duban.ics"'},
    )


@router.get("/d/{token}/tasks/{task_id}")
def department_task(request: Request, token: str, task_id: int) -> Response:
    holder = holder_of(request, token)
    web = state_of(request)
    if access_to(request, holder, task_id) is TaskAccess.WATCHED:
        return _watch_page(request, holder, token, task_id)
    page = task_page_of(web, task_id)
    detail = page.task
    returns = [e for e in detail.events if e.action == "return"]
    return render(
        request,
        "department/task.html",
        holder=holder,
        token=token,
        **page.context(),
        returned=returns[-1] if detail.state is TaskState.RETURNED and returns else None,
        actor=remembered_actor(request),
        ask_actor=not remembered_actor(request) or request.query_params.get("who") == "change",
        can_act=detail.state in OPEN_STATES,
        max_upload=web.context.settings.upload_max_bytes,
    )


def task_page_of(web: WebState, task_id: int, *, with_attachments: bool = True) -> TaskPage:
    """The task's page as of the server's today (staff and department pages alike)."""
    return task_page(task_id, today=web.today(), calendar=web.context.calendar, zone=web.zone,
                     session_factory=web.context.session_factory,
                     with_attachments=with_attachments)


def _watch_page(request: Request, holder: LinkHolder, token: str, task_id: int) -> Response:
    """A supporting unit's task as its lead department reads it: facts, the
    ladder and the record, without forms or attachments (read-only)."""
    page = task_page_of(state_of(request), task_id, with_attachments=False)
    return render(request, "department/watch.html", holder=holder, token=token, **page.context())


def _actor(request: Request, form: FormData) -> str:
    """The 经办人 the form names, else the one remembered for this link."""
    return _text(form, "actor")[:ACTOR_MAX] or remembered_actor(request)


def _act(
    request: Request,
    token: str,
    task_id: int,
    action: Callable[[WebState, str], Any],
    done: str,
    form: FormData,
) -> Response:
    """Run a department action; flash the outcome and go back to the task page.
    A 经办人 given in the form is remembered for this link."""
    holder = holder_of(request, token)
    guard_task(request, holder, task_id)
    web = state_of(request)
    response = RedirectResponse(f"/d/{token}/tasks/{task_id}", 303)
    try:
        action(web, holder.department)
    except DubanError as err:
        # The page names the task; the message needs no record reference.
        flash(request, f"未能办理:{err.message}", "error")
    else:
        flash(request, done)
        given = _text(form, "actor")
        if given:
            _remember_actor(request, response, token, given)
    return response


@router.post("/d/{token}/tasks/{task_id}/ack")
def acknowledge(request: Request, token: str, task_id: int, form: CheckedForm) -> Response:
    def run(web: WebState, department: str) -> None:
        lifecycle.acknowledge(
            task_id,
            department=department,
            actor=_actor(request, form),
            now=web.clock.now(),
            session_factory=web.context.session_factory,
        )

    return _act(request, token, task_id, run, "已签收。", form)


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
            actor=_actor(request, form),
            now=web.clock.now(),
            session_factory=web.context.session_factory,
            zone=web.zone,
            value_bound=web.context.settings.indicator_max,
        )

    return _act(request, token, task_id, run, "进度已报送。", form)


@router.post("/d/{token}/tasks/{task_id}/submit")
@accepts_uploads
async def submit(request: Request, token: str, task_id: int, form: CheckedForm) -> Response:
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]

    def run(web: WebState, department: str) -> None:
        # Files are kept only if the 报结 is accepted: placed before its
        # transaction commits, removed if it is refused or fails.
        with staged_files(
            [Upload(f.filename or "", f.content_type or "", f.file) for f in files],
            task_id=task_id,
            data_dir=web.data_dir,
            max_bytes=web.context.settings.upload_max_bytes,
        ) as staged:
            staged.place()
            lifecycle.submit(
                task_id,
                department=department,
                note=_text(form, "note"),
                actor=_actor(request, form),
                now=web.clock.now(),
                session_factory=web.context.session_factory,
                attachments=staged.files,
            )

    return _act(request, token, task_id, run, "已报结,等待督办科审核。", form)


@router.post("/d/{token}/tasks/{task_id}/extend")
def extend(request: Request, token: str, task_id: int, form: CheckedForm) -> Response:
    new_due = parse_day(_text(form, "new_due"))

    def run(web: WebState, department: str) -> None:
        if new_due is None:
            raise DubanError("请填写申请的新期限(YYYY-MM-DD)")
        extensions.request_extension(
            task_id,
            department=department,
            new_due=new_due,
            reason=_text(form, "reason"),
            actor=_actor(request, form),
            now=web.clock.now(),
            calendar=web.context.calendar,
            session_factory=web.context.session_factory,
            zone=web.zone,
        )

    return _act(request, token, task_id, run, "延期申请已提交,等待督办科审批。", form)


@router.get("/d/{token}/tasks/{task_id}/files/{attachment_id}")
def attachment(request: Request, token: str, task_id: int, attachment_id: int) -> Response:
    holder = holder_of(request, token)
    guard_task(request, holder, task_id)
    return send_attachment(request, task_id, attachment_id)


@router.get("/d/{token}/tasks/{task_id}/files/{attachment_id}/view")
def attachment_view(request: Request, token: str, task_id: int, attachment_id: int) -> Response:
    holder = holder_of(request, token)
    guard_task(request, holder, task_id)
    return send_attachment(request, task_id, attachment_id, inline=True)


def send_attachment(
    request: Request, task_id: int, attachment_id: int, *, inline: bool = False
) -> Response:
    """The file as a download; with ``inline``, shown in the browser when its
    content is an image or a PDF (judged by its first bytes, sent with that
    type only), else downloaded all the same. Other user content is never
    rendered inline."""
    web = state_of(request)
    try:
        view, path = attachment_file(
            attachment_id,
            task_id=task_id,
            data_dir=web.data_dir,
            session_factory=web.context.session_factory,
        )
    except DubanError as err:
        return render(request, "error.html", status_code=404, message=for_people(err.message))
    shown = preview_type(path) if inline else None
    if shown is not None:
        return FileResponse(path, filename=view.filename, media_type=shown,
                            content_disposition_type="inline")
    return FileResponse(
        path,
        filename=view.filename,
        media_type="application/octet-stream",
        content_disposition_type="attachment",
    )
