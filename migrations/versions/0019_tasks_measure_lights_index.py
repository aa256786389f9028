"""tasks (measure_id, state, light_key, light) index: each measure's worst
stored light and its tasks not cancelled, grouped from the index alone in
measure order (the measures' lights, /api/measures); a stale light is
worked out from the task's row, read by id.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_tasks_measure_lights', 'tasks', ['measure_id', 'state', 'light_key', 'light'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_tasks_measure_lights', table_name='tasks')
