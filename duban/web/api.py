"""The JSON API: what the pages show, behind the same permissions, described
at ``/api/openapi.json`` (OpenAPI 3, for any OpenAPI viewer).

Who may call it:

- a signed-in coordinator or supervisor (the session cookie), or a program
  with a staff account (HTTP Basic): everything;
- a department, with its link token in the ``X-Duban-Link`` header: only
  ``/api/tasks`` and ``/api/tasks/{id}``, and only its own tasks.

Read-only: actions go through the pages (with their CSRF tokens).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request

from duban.domain.outbox import DELIVERY_FAILING, DeliveryStatus
from duban.domain.status import Light, StatusPolicy
from duban.services.accounts.link_access import read_link
from duban.services.accounts.links import LinkError, LinkHolder
from duban.services.accounts.staff import UserView
from duban.services.paging import Page
from duban.services.reports.dashboard import scorecard
from duban.services.reports.delivery_log import delivery_page
from duban.services.reports.escalation_log import escalation_page
from duban.services.reports.overview import measure_overview
from duban.services.tasks.detail import get_task
from duban.services.tasks.queries import task_page
from duban.services.tasks.views import tasks_to_json
from duban.web.auth import current_user, sign_in
from duban.web.signin import LOCKED_MESSAGE, WINDOW
from duban.web.state import parse_day, state_of

router = APIRouter(prefix="/api", tags=["督办"])

# Lists come a page at a time: ``limit`` (default and most) items from ``offset``.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数")]
Offset = Annotated[int, Query(ge=0, description="从第几条起(0 起)")]


def paged(page: Page[Any], items: list[Any]) -> dict[str, Any]:
    """A page as the API answers it: ``total`` matching, this page's ``items``."""
    return {"total": page.total, "offset": page.offset, "limit": page.limit, "items": items}


@dataclass(frozen=True)
class Caller:
    user: UserView | None = None
    department: LinkHolder | None = None


def caller(
    request: Request,
    x_duban_link: Annotated[str | None, Header(description="单位链接中的令牌")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Caller:
    """Who is calling: staff (session or Basic) or a department (link token); 401 otherwise."""
    web = state_of(request)
    if x_duban_link:
        try:
            holder = read_link(x_duban_link, signer=web.signer, now=web.clock.now(),
                               session_factory=web.context.session_factory)
        except LinkError as err:
            raise HTTPException(403, str(err)) from None
        return Caller(department=holder)
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise HTTPException(401, "认证信息格式错误") from None
        name, _, password = decoded.partition(":")
        result = sign_in(request, name, password)  # the form's lockout and counting
        if result.locked:
            raise HTTPException(429, LOCKED_MESSAGE, {"Retry-After": str(int(WINDOW))})
        if result.user is None:
            raise HTTPException(401, "用户名或密码不正确", {"WWW-Authenticate": "Basic"})
        return Caller(user=result.user)
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "请先登录,或提供单位链接令牌", {"WWW-Authenticate": "Basic"})
    return Caller(user=user)


def staff_caller(who: Annotated[Caller, Depends(caller)]) -> Caller:
    if who.user is None:
        raise HTTPException(403, "单位链接只能查看本单位的任务")
    return who


CallerDep = Annotated[Caller, Depends(caller)]
StaffDep = Annotated[Caller, Depends(staff_caller)]


@router.get("/tasks", summary="任务列表(状态与灯色按当日计算,分页)")
def tasks(
    request: Request,
    who: CallerDep,
    department: str | None = None,
    measure: int | None = None,
    plan: str | None = None,
    light: Light | None = None,
    overdue: bool = False,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> dict[str, Any]:
    """``items``: each task as ``duban tasks --json`` prints it, ``limit`` of
    them from ``offset``; ``total``: how many match. A department sees its own only."""
    web = state_of(request)
    if who.department is not None:
        department = who.department.department
    page = task_page(
        web.context.session_factory,
        as_of=web.today(),
        calendar=web.context.calendar,
        department=department,
        measure=measure,
        plan=plan,
        light=light,
        overdue=overdue,
        zone=web.zone,
        offset=offset,
        limit=limit,
    )
    return paged(page, tasks_to_json(page.entries))


@router.get("/tasks/{task_id}", summary="任务详情(办理记录、延期申请、指标报送)")
def task(request: Request, who: CallerDep, task_id: int) -> dict[str, Any]:
    web = state_of(request)
    detail = get_task(
        web.context.session_factory,
        task_id=task_id,
        as_of=web.today(),
        calendar=web.context.calendar,
        policy=StatusPolicy(),
        zone=web.zone,
    )
    if who.department is not None and detail.department != who.department.department:
        raise HTTPException(403, "此令牌属于其他单位")
    return detail.to_dict()


@router.get("/measures", summary="措施与灯色(督查室看板,分页)")
def measures(
    request: Request,
    who: StaffDep,
    plan: str | None = None,
    section: int | None = None,
    department: str | None = None,
    light: Light | None = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> dict[str, Any]:
    """``counts``: measures by light over every match; ``measures``: ``limit``
    of them from ``offset``; ``total``: how many match."""
    web = state_of(request)
    overview = measure_overview(
        web.context.session_factory,
        as_of=web.today(),
        calendar=web.context.calendar,
        plan=plan,
        section=section,
        department=department,
        light=light,
        zone=web.zone,
        offset=offset,
        limit=limit,
    )
    return {
        "plan": overview.plan_key,
        "as_of": overview.as_of.isoformat(),
        "counts": overview.counts,
        "total": overview.total,
        "offset": offset,
        "limit": limit,
        "measures": [m.to_dict() for m in overview.measures],
    }


@router.get("/escalations", summary="督办记录(新的在前,分页)")
def escalations(
    request: Request,
    who: StaffDep,
    since: str | None = None,
    until: str | None = None,
    department: str | None = None,
    level: Annotated[int | None, Query(ge=0, le=3)] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> dict[str, Any]:
    """``items``: fields as ``duban escalations --json`` (task, measure,
    department, step, level, at, recipients in privacy form, delivered, …),
    ``limit`` of them from ``offset``; ``total``: how many match."""
    web = state_of(request)
    page = escalation_page(
        web.context.session_factory,
        zone=web.zone,
        since=parse_day(since),
        until=parse_day(until),
        department=department,
        level=level,
        offset=offset,
        limit=limit,
    )
    return paged(page, [e.to_dict() for e in page.entries])


# /api/deliveries' status filter: each value and the delivery statuses it keeps
# (failed includes the deliveries given up on).
DELIVERY_STATUSES: dict[str, tuple[str, ...]] = {
    "pending": (DeliveryStatus.PENDING,),
    "sending": (DeliveryStatus.SENDING,),
    "sent": (DeliveryStatus.SENT,),
    "failed": DELIVERY_FAILING,
}


@router.get("/deliveries", summary="发送记录(新的在前,分页;地址仅显示隐去密钥的形式)")
def deliveries(
    request: Request,
    who: StaffDep,
    status: Annotated[str | None, Query(pattern="^(pending|sending|sent|failed)$")] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> dict[str, Any]:
    """``items``: each delivery as ``duban deliveries --json`` (recipient,
    department, role, channel in privacy form, status, attempts, error, day,
    tasks, …, and ``step``: its steps joined by commas), ``limit`` of them
    from ``offset``; ``total``: how many match."""
    web = state_of(request)
    page = delivery_page(
        web.context.session_factory,
        zone=web.zone,
        statuses=DELIVERY_STATUSES[status] if status else None,
        offset=offset,
        limit=limit,
    )
    return paged(page, [{**e.to_dict(), "step": ",".join(e.steps)} for e in page.entries])


@router.get("/scorecard", summary="单位考核")
def score(request: Request, who: StaffDep, sort: str = "overdue") -> list[dict[str, Any]]:
    web = state_of(request)
    rows = scorecard(
        web.context.session_factory, as_of=web.today(), calendar=web.context.calendar, sort=sort,
        zone=web.zone,
    )
    return [r.to_dict() for r in rows]
