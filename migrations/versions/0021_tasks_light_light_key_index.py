"""tasks (light, light_key) index: the tasks of one stored light, whose
generations for the rule in force are a range of light_key
(duban.services.tasks.light_sql), found without reading every stored light
(the (light_key, light) index answers the stale ones).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_tasks_light_light_key', 'tasks', ['light', 'light_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tasks_light_light_key', table_name='tasks')
