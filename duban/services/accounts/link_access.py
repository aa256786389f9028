"""What a department link opens, for the pages and the API behind it.

Token rules (signature, expiry, revocation) are :mod:`duban.services.accounts.links`'s;
here they are applied in a transaction of their own, and a task is placed
relative to the link's department: its own, one it may read as the lead of
the measure, another department's, or none at all.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.accounts.links import LinkHolder, LinkSigner, department_link, watched_by
from duban.services.accounts.org import org_settings
from models import Task


class TaskAccess(Enum):
    """A task as a department's link sees it."""

    MISSING = "missing"  # no such task
    OWN = "own"  # the department's own task: it reads and acts
    WATCHED = "watched"  # a supporting unit's task of a measure it leads: it reads
    OTHER = "other"  # another department's task: closed to it


def read_link(
    token: str, *, signer: LinkSigner, now: datetime, session_factory: sessionmaker[Session]
) -> LinkHolder:
    """The holder of ``token`` as of ``now``; raises LinkError (invalid,
    expired or revoked)."""
    with session_factory() as session:
        return signer.read(token, now=now, session=session)


def task_access(
    department_id: int, task_id: int, *, session_factory: sessionmaker[Session]
) -> TaskAccess:
    """How ``department_id``'s link may open ``task_id`` (see :class:`TaskAccess`)."""
    with session_factory() as session:
        owner = session.scalar(select(Task.department_id).where(Task.id == task_id))
        if owner is None:
            return TaskAccess.MISSING
        if owner == department_id:
            return TaskAccess.OWN
        watched = session.scalar(
            select(Task.id).where(Task.id == task_id, watched_by(department_id))
        )
    return TaskAccess.WATCHED if watched is not None else TaskAccess.OTHER


def issue_department_link(
    department_id: int,
    *,
    fallback_base_url: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    signer: LinkSigner,
) -> str:
    """``BASE/d/TOKEN`` for the department (see
    :func:`~duban.services.accounts.links.department_link`), ``BASE`` being the
    organisation's stored base URL, else ``fallback_base_url``. NotFoundError
    for an unknown department."""
    with session_factory() as session:
        base = org_settings(session).base_url or fallback_base_url
    return department_link(department_id, base_url=base, now=now,
                           session_factory=session_factory, signer=signer)
