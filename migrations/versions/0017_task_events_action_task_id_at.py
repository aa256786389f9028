"""task_events (action, task_id, at) index: the scorecard's progress reports
read from the index alone, already in task order for the grouping by task
(PostgreSQL read every event and hashed the reports, spilling to disk at
100k tasks).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 16:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_task_events_action_task_id_at', 'task_events', ['action', 'task_id', 'at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_task_events_action_task_id_at', table_name='task_events')
