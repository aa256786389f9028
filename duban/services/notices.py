"""Queueing one notice for a task, at most once per step key.

A notice is what the outbox will route and send; its ``(task_id, step)`` is
unique, so queueing the same step twice (a rerun, a second click the same day)
adds nothing. Below every room (it knows only the models and the domain's
statuses): the calendar, a plan's withdrawal and the desk all queue notices.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from duban.db import insert_for
from duban.domain.outbox import NoticeStatus
from models import Notice


def queue_notice(
    session: Session,
    task_id: int,
    *,
    step: str,
    level: int,
    now: datetime,
    note: str | None = None,
    reason: str | None = None,
    requested_by: str | None = None,
) -> int | None:
    """A pending notice of ``step`` for ``task_id``, due ``now``; its id, or None
    when the task already has a notice with that step key (nothing is written)."""
    values: dict[str, object] = {
        "task_id": task_id,
        "step": step,
        "status": NoticeStatus.PENDING,
        "level": level,
        "due_at": now,
        "created_at": now,
    }
    for name, value in (("note", note), ("reason", reason), ("requested_by", requested_by)):
        if value is not None:
            values[name] = value
    inserted = session.execute(
        insert_for(session, Notice)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["task_id", "step"])
        .returning(Notice.id)
    ).scalar_one_or_none()
    return None if inserted is None else int(inserted)
