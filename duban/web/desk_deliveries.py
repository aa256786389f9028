"""The desk's 发送记录: every message sent or to be sent, one message's page,
and what a coordinator does about one that did not arrive (retry it, send it
to another contact, or give a channel a new address). Every POST needs a
coordinator and the CSRF token; each fix is recorded in the audit log.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from duban.domain.labels import DELIVERY_FILTER_LABELS
from duban.services import desk
from duban.services.paging import page_offset
from duban.services.reports.choices import (
    QUERY_MAX,
    filter_choices,
    measure_matches,
    parse_measure_query,
)
from duban.services.reports.delivery_detail import find_delivery
from duban.services.reports.delivery_log import DELIVERY_STATUS_FILTERS, delivery_page
from duban.web.actions import back_to, form_text, run_action
from duban.web.auth import CheckedForm, Coordinator
from duban.web.state import WebState, flash, page_number, parse_day, render, state_of

router = APIRouter(include_in_schema=False)


@router.get("/desk/deliveries")
def deliveries(
    request: Request,
    user: Coordinator,
    status: str | None = None,
    department: str | None = None,
    since: str | None = None,
    until: str | None = None,
    measure: str | None = None,
    level: str | None = None,
    page: str | None = None,
) -> Response:
    """Every message sent or to be sent, 50 a page, newest first; filtered by
    status, department, measure, level and day."""
    web = state_of(request)
    chosen = status if status in DELIVERY_STATUS_FILTERS else None
    asked = parse_measure_query(measure)
    chosen_level = int(level) if level in ("0", "1", "2", "3") else None
    found = delivery_page(
        web.context.session_factory,
        zone=web.zone,
        status=chosen,
        department=department or None,
        since=parse_day(since),
        until=parse_day(until),
        measure=asked,
        level=chosen_level,
        offset=page_offset(page_number(page)),
    )
    choices = filter_choices(web.context.session_factory)
    return render(
        request,
        "desk/deliveries.html",
        page=found,
        departments=choices.departments,
        statuses=list(DELIVERY_FILTER_LABELS.items()),
        measures=choices.measures,
        matched=measure_matches(web.context.session_factory, asked) if asked else None,
        filters={"status": chosen or "", "department": department or "", "since": since or "",
                 "until": until or "", "measure": (measure or "").strip()[:QUERY_MAX],
                 "level": "" if chosen_level is None else str(chosen_level)},
    )


@router.get("/desk/deliveries/{delivery_id}")
def delivery_detail(request: Request, user: Coordinator, delivery_id: int) -> Response:
    web = state_of(request)
    detail = find_delivery(web.context.session_factory, delivery_id, zone=web.zone)
    if detail is None:
        raise HTTPException(404, "找不到这条发送记录")
    return render(request, "desk/delivery.html", delivery=detail)


@router.post("/desk/deliveries/{delivery_id}/retry")
def retry(request: Request, user: Coordinator, delivery_id: int, form: CheckedForm) -> Response:
    def run(web: WebState) -> None:
        desk.retry_delivery(delivery_id, actor=user.actor, now=web.clock.now(),
                            session_factory=web.context.session_factory)
        web.wake_delivery()

    return run_action(request, back_to(form, "/desk"), run, "这条消息将在办公时间内重新发送。")


@router.post("/desk/deliveries/{delivery_id}/redirect")
def redirect(
    request: Request, user: Coordinator, delivery_id: int, form: CheckedForm
) -> Response:
    try:
        contact_id = int(form_text(form, "contact"))
    except ValueError:
        flash(request, "请选择改发给谁", "error")
        return RedirectResponse(back_to(form, "/desk"), 303)

    def run(web: WebState) -> None:
        desk.redirect_delivery(delivery_id, contact_id, actor=user.actor, now=web.clock.now(),
                               session_factory=web.context.session_factory, zone=web.zone)
        web.wake_delivery()

    return run_action(request, back_to(form, "/desk"), run,
                      "这条消息将改发给所选联系人(办公时间内发送)。")


@router.post("/desk/channels/{channel_id}/replace")
def replace_channel(
    request: Request, user: Coordinator, channel_id: int, form: CheckedForm
) -> Response:
    def run(web: WebState) -> None:
        desk.replace_channel(channel_id, form_text(form, "url"), actor=user.actor,
                             now=web.clock.now(), session_factory=web.context.session_factory)
        web.wake_delivery()

    return run_action(request, back_to(form, "/desk"), run,
               "联系方式已更新,未发出的消息将改发新地址。请同时更新机构文件。")


