"""lights_stored: the one row naming the rule whose lights tasks.light holds
(duban.services.tasks.light_sql), so a day's refresh writes only the tasks
whose light changed instead of every task's key.

``tasks.light_key`` now holds a generation (``g`` and ten digits); keys of
the rule before (a day and a hash) sort below every generation and are stale
to the new code, so nothing is rewritten here.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'lights_stored',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rule_key', sa.String(length=64), nullable=False),
        sa.Column('rule', sa.Text(), nullable=False),
        sa.Column('base', sa.Integer(), nullable=False),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lights_stored')),
    )


def downgrade() -> None:
    op.drop_table('lights_stored')
