"""Signed department links on the web side: which department a request's
token speaks for, and the guard that keeps it to that department's tasks.

Token rules (signature, expiry, revocation) live in
:mod:`duban.services.accounts.links`; here a bad token becomes a 403 page that says
what to do, and a task of another department a 403 as well.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from sqlalchemy import select

from duban.services.accounts.links import LinkError, LinkHolder, may_watch
from duban.web.state import state_of
from models import Task


def holder_of(request: Request, token: str) -> LinkHolder:
    """The department ``token`` opens, as of the web clock; 403 otherwise."""
    web = state_of(request)
    with web.context.session_factory() as session:
        try:
            return web.signer.read(token, now=web.clock.now(), session=session)
        except LinkError as err:
            raise HTTPException(403, str(err)) from None


def guard_task(request: Request, holder: LinkHolder, task_id: int) -> None:
    """403 unless ``task_id`` is a task of the link's department (404 if none)."""
    web = state_of(request)
    with web.context.session_factory() as session:
        owner = session.scalar(select(Task.department_id).where(Task.id == task_id))
    if owner is None:
        raise HTTPException(404, f"找不到任务 #{task_id}")
    if owner != holder.department_id:
        raise HTTPException(403, f"此链接属于{holder.department},不能查看或办理其他单位的任务")


def watching(request: Request, holder: LinkHolder, task_id: int) -> bool:
    """Whether the link's department reads ``task_id`` as the lead of its
    measure (a supporting unit's task): a read-only view, never its actions."""
    web = state_of(request)
    with web.context.session_factory() as session:
        task = session.get(Task, task_id)
        return task is not None and may_watch(session, holder.department_id, task)
