"""Single 督办件: a plan's kind (a year's standing plan of items) and a measure's
source, document number and instructing leader.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=16), server_default='plan', nullable=False)
        )

    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_kind', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('doc_ref', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('instructed_by', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.drop_column('instructed_by')
        batch_op.drop_column('doc_ref')
        batch_op.drop_column('source_kind')

    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('kind')
