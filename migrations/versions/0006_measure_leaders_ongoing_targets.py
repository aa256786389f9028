"""Plan intake: a measure's leaders (分管领导/责任领导) and ongoing targets (长期坚持).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaders', sa.JSON(), server_default='[]', nullable=False))

    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('ongoing', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_column('ongoing')

    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.drop_column('leaders')
