"""tasks.assigned_at index: the lights in SQL start from the first
assignment (``min(assigned_at)``), read from the index instead of a scan of
every task per page.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f('ix_tasks_assigned_at'), 'tasks', ['assigned_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_tasks_assigned_at'), table_name='tasks')
