"""tasks.calendar_wait_year: a ladder step waits for a year's holiday notice
(待日历公布); indexed, so a round releases exactly those tasks once the year
is covered.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_wait_year', sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_tasks_calendar_wait_year'), ['calendar_wait_year'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_calendar_wait_year'))
        batch_op.drop_column('calendar_wait_year')
