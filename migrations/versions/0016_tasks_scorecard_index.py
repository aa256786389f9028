"""tasks scorecard index: (department_id, state, due, role, assigned_at,
submitted_at), every column the scorecard's task counts read, so SQLite
counts them from the index in department and state order (no table read, no
sort for the grouping).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_tasks_scorecard', 'tasks',
        ['department_id', 'state', 'due', 'role', 'assigned_at', 'submitted_at'], unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_tasks_scorecard', table_name='tasks')
