"""Signed department links on the web side: which department a request's
token speaks for, and the guard that keeps it to that department's tasks.

Token rules (signature, expiry, revocation) live in
:mod:`duban.services.accounts.links`; here a bad token becomes a 403 page that says
what to do, and a task of another department a 403 as well.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from duban.services.accounts.link_access import TaskAccess, read_link, task_access
from duban.services.accounts.links import LinkError, LinkHolder
from duban.web.state import state_of


def holder_of(request: Request, token: str) -> LinkHolder:
    """The department ``token`` opens, as of the web clock; 403 otherwise."""
    web = state_of(request)
    try:
        return read_link(token, signer=web.signer, now=web.clock.now(),
                         session_factory=web.context.session_factory)
    except LinkError as err:
        raise HTTPException(403, str(err)) from None


def access_to(request: Request, holder: LinkHolder, task_id: int) -> TaskAccess:
    """How the link may open ``task_id``: its own task or, as the lead of the
    measure, a supporting unit's (read-only); 404 if there is no such task, 403
    for another department's."""
    access = task_access(holder.department_id, task_id,
                         session_factory=state_of(request).context.session_factory)
    if access is TaskAccess.MISSING:
        raise HTTPException(404, f"找不到任务 #{task_id}")
    if access is TaskAccess.OTHER:
        raise HTTPException(403, f"此链接属于{holder.department},不能查看或办理其他单位的任务")
    return access


def guard_task(request: Request, holder: LinkHolder, task_id: int) -> None:
    """403 unless ``task_id`` is a task of the link's department (404 if none)."""
    if access_to(request, holder, task_id) is not TaskAccess.OWN:
        raise HTTPException(403, f"此链接属于{holder.department},不能查看或办理其他单位的任务")
