"""task_events (task_id, action, at) index: whether a task reported in a
window of time is answered from the index alone (the lights in SQL probe it
per open task and report period).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 13:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_task_events_task_id_action_at', 'task_events', ['task_id', 'action', 'at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_task_events_task_id_action_at', table_name='task_events')
