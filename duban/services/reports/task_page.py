"""One task as its pages show it: the task, its files and its ladder.

The staff page (``/tasks/N``), a department's page (``/d/…/tasks/N``) and a lead
department's read-only view of a supporting unit's task all show the same four
things; :func:`task_page` reads them once, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from duban.domain.status import StatusPolicy
from duban.domain.workdays import WorkCalendar
from duban.services.ladder.outlook import NextStep, PastStep, next_steps, past_escalations
from duban.services.tasks.attachments import AttachmentView, list_attachments
from duban.services.tasks.detail import get_task
from duban.services.tasks.views import TaskDetail


@dataclass(frozen=True)
class TaskPage:
    """``task`` in full as of the day; ``attachments`` its files (empty when not
    asked for); ``steps`` the ladder still ahead; ``past`` its 催办 and 督办 so far."""

    task: TaskDetail
    attachments: list[AttachmentView]
    steps: list[NextStep]
    past: list[PastStep]

    def context(self) -> dict[str, Any]:
        """The four as template variables of the same names."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def task_page(
    task_id: int,
    *,
    today: date,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    session_factory: sessionmaker[Session],
    with_attachments: bool = True,
) -> TaskPage:
    """The task page of ``task_id`` as of ``today``.

    Raises NotFoundError naming the id when there is no such task."""
    return TaskPage(
        task=get_task(
            session_factory,
            task_id=task_id,
            as_of=today,
            calendar=calendar,
            policy=StatusPolicy(),
            zone=zone,
        ),
        attachments=(
            list_attachments(task_id, session_factory=session_factory) if with_attachments else []
        ),
        steps=next_steps(
            task_id, today=today, calendar=calendar, zone=zone, session_factory=session_factory
        ),
        past=past_escalations(task_id, zone=zone, session_factory=session_factory),
    )
