"""A step taken by hand (督办科催办) keeps who took it and the note it carries
(notices.requested_by, notices.note); printable documents issued under a
文号 (issued_documents, numbered per series and year).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 04:13:07.422067
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('issued_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('series', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=200), nullable=False),
    sa.CheckConstraint("kind IN ('notice', 'yellow', 'red', 'bulletin')", name=op.f('ck_issued_documents_kind')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_issued_documents_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_issued_documents_task_id_tasks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_documents')),
    sa.UniqueConstraint('series', 'year', 'seq', name=op.f('uq_issued_documents_series_year_seq'))
    )
    with op.batch_alter_table('issued_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issued_documents_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_issued_documents_task_id'), ['task_id'], unique=False)

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_column('note')
        batch_op.drop_column('requested_by')

    with op.batch_alter_table('issued_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issued_documents_task_id'))
        batch_op.drop_index(batch_op.f('ix_issued_documents_department_id'))

    op.drop_table('issued_documents')
