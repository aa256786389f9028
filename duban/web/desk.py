"""The coordinators' desk (督办科): the queue, decisions on tasks, department
links and assignment (deliveries: :mod:`duban.web.desk_deliveries`). Supervisors may open a task's
page (read-only); every POST here needs a coordinator and the CSRF token.

Actions name the coordinator in the task's event log as ``督办科(姓名)``;
fixes outside a task's lifecycle go to the audit log.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from duban.domain.errors import DubanError
from duban.domain.issued_documents import NOTICE_KINDS
from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.services import desk
from duban.services.accounts.link_access import issue_department_link
from duban.services.accounts.links import revoke_links
from duban.services.desk.queue import SECTION_LABELS, WorkQueue, work_queue
from duban.services.plans.assignment import assign_measure
from duban.services.plans.to_assign import measures_to_run
from duban.services.reports.choices import departments_with_tasks
from duban.services.reports.issued_documents import list_documents
from duban.services.tasks import extensions, lifecycle
from duban.web.actions import Outcome, back_to, form_text, run_action
from duban.web.auth import CheckedForm, Coordinator, Staff, require_staff
from duban.web.department import send_attachment, task_page_of
from duban.web.desk_plans import late_refusal
from duban.web.state import WebState, flash, parse_day, render, state_of

router = APIRouter(include_in_schema=False)


def _caption(request: Request, task_id: int) -> str:
    return desk.task_caption(state_of(request).context.session_factory, task_id) or "该任务"


QUEUE_PREVIEW = 10  # rows of each section on the landing page
QUEUE_PAGE = 50  # rows per page of one section's full list


def _queue(request: Request, shown: dict[str, tuple[int, int]]) -> WorkQueue:
    """The queue with only the rows ``shown`` (see work_queue)."""
    web = state_of(request)
    return work_queue(web.context.session_factory, now=web.clock.now(),
                      calendar=web.context.calendar, zone=web.zone,
                      blocked_after_workdays=web.context.settings.delivery_blocked_workdays,
                      shown=shown)


@router.get("/desk")
def desk_home(request: Request, user: Coordinator) -> Response:
    """The work queue: each section's count and its most urgent rows."""
    queue = _queue(request, {name: (1, QUEUE_PREVIEW) for name in SECTION_LABELS})
    return render(request, "desk/home.html", queue=queue, counts=queue.counts(),
                  labels=SECTION_LABELS, preview=QUEUE_PREVIEW, section=None, page=1,
                  pages=1)


@router.get("/desk/queue/{section}")
def desk_section(request: Request, user: Coordinator, section: str, page: int = 1) -> Response:
    """One section of the queue in full, ``QUEUE_PAGE`` rows a page."""
    if section not in SECTION_LABELS:
        raise HTTPException(404, "没有这一类待办")
    queue = _queue(request, {section: (page, QUEUE_PAGE)})
    counts = queue.counts()
    return render(request, "desk/home.html", queue=queue, counts=counts,
                  labels=SECTION_LABELS, preview=QUEUE_PAGE, section=section,
                  page=queue.pages[section], pages=max(1, -(-counts[section] // QUEUE_PAGE)))


@router.post("/desk/urge")
def urge(request: Request, user: Coordinator, form: CheckedForm) -> Response:
    """催办 now: one task (the row's button, ``only``) or the ticked ones (``tasks``)."""
    only = form_text(form, "only")
    chosen = [only] if only else [v for v in form.getlist("tasks") if isinstance(v, str)]
    try:
        task_ids = [int(v) for v in chosen]
    except ValueError:
        raise HTTPException(400, "所选任务无效") from None
    def run(web: WebState) -> Outcome:
        done = desk.urge_now(
            task_ids, actor=user.actor, note=form_text(form, "note"), now=web.clock.now(),
            zone=web.zone, session_factory=web.context.session_factory)
        web.wake_delivery()
        return _urged(web, done)

    return run_action(request, back_to(form, "/desk"), run, "")


def _urged(web: WebState, done: desk.UrgeOutcome) -> Outcome:
    """What an urge did, in words: the tasks urged (the first three named), and
    how many were left alone and why."""
    parts = []
    if done.urged:
        names = [desk.task_caption(web.context.session_factory, i) for i in done.urged]
        shown = "、".join(names[:3]) + (f"等 {len(names)} 项" if len(names) > 3 else "")
        parts.append(f"已催办 {shown},办公时间内发给联络员,并记入督办记录。")
    if done.skipped:
        reasons = sorted({why for _i, why in done.skipped})
        parts.append(f"{len(done.skipped)} 项未催办({'、'.join(reasons)})。")
    return Outcome("".join(parts), "ok" if done.urged else "error")


@router.get("/tasks/{task_id}")
def task_page(request: Request, task_id: int, k: str | None = None) -> Response:
    """A notice's link (``?k=TOKEN``) goes to the department's page; without
    it, the staff view (coordinators act here, supervisors read)."""
    if k:
        return RedirectResponse(f"/d/{quote(k, safe='')}/tasks/{task_id}", 303)
    user = require_staff(request)
    web = state_of(request)
    page = task_page_of(web, task_id)
    return render(
        request,
        "desk/task.html",
        user=user,
        **page.context(),
        is_open=page.task.state in OPEN_STATES,
        is_submitted=page.task.state is TaskState.SUBMITTED,
        documents=list_documents(web.context.session_factory, task_id=task_id),
        document_kinds=NOTICE_KINDS,
    )


@router.get("/tasks/{task_id}/files/{attachment_id}")
def staff_attachment(request: Request, user: Staff, task_id: int, attachment_id: int) -> Response:
    return send_attachment(request, task_id, attachment_id)


@router.get("/tasks/{task_id}/files/{attachment_id}/view")
def staff_attachment_view(
    request: Request, user: Staff, task_id: int, attachment_id: int
) -> Response:
    return send_attachment(request, task_id, attachment_id, inline=True)


@router.post("/desk/tasks/{task_id}/approve")
def approve(request: Request, user: Coordinator, task_id: int, form: CheckedForm) -> Response:
    def run(web: WebState) -> None:
        lifecycle.approve(task_id, actor=user.actor, note=form_text(form, "note") or None,
                          now=web.clock.now(), session_factory=web.context.session_factory)

    return run_action(request, back_to(form, f"/tasks/{task_id}"), run,
               f"已办结:{_caption(request, task_id)}。")


@router.post("/desk/tasks/{task_id}/return")
def return_task(request: Request, user: Coordinator, task_id: int, form: CheckedForm) -> Response:
    def run(web: WebState) -> None:
        lifecycle.return_(task_id, actor=user.actor, reason=form_text(form, "reason"),
                          now=web.clock.now(), session_factory=web.context.session_factory)

    return run_action(request, back_to(form, f"/tasks/{task_id}"), run,
               f"已退回:{_caption(request, task_id)},退回理由已发给该单位。")


@router.post("/desk/tasks/{task_id}/due")
def change_due(request: Request, user: Coordinator, task_id: int, form: CheckedForm) -> Response:
    new_due = parse_day(form_text(form, "new_due"))

    def run(web: WebState) -> None:
        if new_due is None:
            raise DubanError("请填写新期限(YYYY-MM-DD)")
        lifecycle.change_due(task_id, actor=user.actor, new_due=new_due,
                             reason=form_text(form, "reason"), now=web.clock.now(),
                             calendar=web.context.calendar,
                             session_factory=web.context.session_factory)

    return run_action(request, f"/tasks/{task_id}", run, "期限已调整。")


@router.post("/desk/tasks/{task_id}/resend")
def resend(request: Request, user: Coordinator, task_id: int, form: CheckedForm) -> Response:
    def run(web: WebState) -> None:
        desk.resend_notice(task_id, actor=user.actor, now=web.clock.now(),
                           session_factory=web.context.session_factory, zone=web.zone)
        web.wake_delivery()

    return run_action(request, f"/tasks/{task_id}", run,
               "已重新排队发送交办通知(含新链接),办公时间内发出。")


@router.post("/desk/extensions/{extension_id}/{decision}")
def decide_extension(
    request: Request, user: Coordinator, extension_id: int, decision: str, form: CheckedForm
) -> Response:
    if decision not in ("approve", "refuse"):
        raise HTTPException(404, "无此操作")
    decide = extensions.approve_extension if decision == "approve" else extensions.refuse_extension

    def run(web: WebState) -> None:
        decide(extension_id, actor=user.actor, note=form_text(form, "note") or None,
               now=web.clock.now(), session_factory=web.context.session_factory)

    label = "已同意延期申请" if decision == "approve" else "已不同意延期申请"
    return run_action(request, back_to(form, "/desk"), run, f"{label}。")


@router.get("/desk/departments")
def departments(request: Request, user: Coordinator) -> Response:
    rows = departments_with_tasks(state_of(request).context.session_factory)
    return render(request, "desk/departments.html", departments=rows, link=None, link_for=None)


@router.post("/desk/departments/{department_id}/link")
def make_link(
    request: Request, user: Coordinator, department_id: int, form: CheckedForm
) -> Response:
    web = state_of(request)
    try:
        link = issue_department_link(
            department_id, fallback_base_url=web.context.settings.base_url or str(request.base_url),
            now=web.clock.now(), session_factory=web.context.session_factory, signer=web.signer)
    except DubanError as err:
        raise HTTPException(404, str(err)) from None
    rows = departments_with_tasks(web.context.session_factory)
    name = dict(rows).get(department_id, "")
    return render(request, "desk/departments.html", departments=rows, link=link, link_for=name)


@router.post("/desk/departments/{department_id}/revoke")
def revoke(request: Request, user: Coordinator, department_id: int, form: CheckedForm) -> Response:
    def run(web: WebState) -> None:
        revoke_links(department_id, actor=user.actor, now=web.clock.now(),
                     session_factory=web.context.session_factory)

    return run_action(request, "/desk/departments", run,
               "该单位此前发出的链接均已停用;之后的通知会带新链接。")


@router.post("/desk/assign")
def assign(request: Request, user: Coordinator, form: CheckedForm) -> Response:
    """Assign one measure (the same service the measure flow runs; idempotent)."""
    try:
        number = int(form_text(form, "measure"))
    except ValueError:
        flash(request, "请填写措施序号", "error")
        return RedirectResponse("/desk/plans", 303)
    plan = form_text(form, "plan") or None

    def run(web: WebState) -> Outcome:
        refs = [r for r in measures_to_run(web.context.session_factory, plan=plan,
                                           measure=number) if r.assignable]
        refusal = late_refusal(web, refs, accepted=form.get("accept_past") == "1")
        if refusal:
            raise DubanError(refusal)
        result = assign_measure(web.context.session_factory, plan=plan, measure=number,
                                now=web.clock.now(), calendar=web.context.calendar,
                                policy=web.context.assignment_policy)
        text = f"措施{number}:新交办 {len(result.created)} 项,已存在 {len(result.existing)} 项。"
        if result.cancelled:
            text += f"撤销方案已不再包含的任务 {len(result.cancelled)} 项(已通知相关单位)。"
        web.wake_delivery()
        return Outcome(text)

    return run_action(request, "/desk/plans", run, "")


@router.get("/desk/audit")
def audit(request: Request, user: Coordinator) -> Response:
    web = state_of(request)
    return render(request, "desk/audit.html",
                  entries=desk.audit_entries(web.context.session_factory, limit=100),
                  action_labels=desk.AUDIT_ACTION_LABELS)
