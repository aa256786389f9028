"""Deliveries: a 'superseded' status (nothing left worth sending when retried),
the parts of a split message already accepted and that message.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 08:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "status IN ('pending', 'sending', 'sent', 'failed', 'dead')"
NEW = "status IN ('pending', 'sending', 'sent', 'failed', 'dead', 'superseded')"


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('parts_sent', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('partial', sa.JSON(), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_deliveries_status'), type_='check')
        batch_op.create_check_constraint('status', NEW)


def downgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'dead' WHERE status = 'superseded'")
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_deliveries_status'), type_='check')
        batch_op.create_check_constraint('status', OLD)
        batch_op.drop_column('partial')
        batch_op.drop_column('parts_sent')
