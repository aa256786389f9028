"""The task log's entries that no person wrote: the system's own TaskEvent.

Assignment, a calendar change and a plan's withdrawal each record what they did
to a task under one actor, :data:`SYSTEM_ACTOR`, with the system's role. This
module sits below every room (it knows only the model and the domain's actions),
so any of them can write such an entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from duban.domain.lifecycle import Action, ActorRole
from models import TaskEvent

SYSTEM_ACTOR = "督办系统"


def system_event(
    task_id: int,
    action: Action,
    *,
    at: datetime,
    from_state: str | None,
    to_state: str,
    note: str | None,
    data: dict[str, Any] | None,
) -> TaskEvent:
    """A new (not yet added) log entry for ``task_id`` written by the system:
    actor :data:`SYSTEM_ACTOR`, role ``system``; the caller adds it to its session."""
    return TaskEvent(
        task_id=task_id,
        at=at,
        action=action.value,
        actor_role=ActorRole.SYSTEM.value,
        actor=SYSTEM_ACTOR,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data,
    )
