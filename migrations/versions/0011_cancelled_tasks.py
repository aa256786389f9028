"""Cancelled tasks: tasks.state may be 'cancelled' (已撤销: a changed plan no
longer yields the task) and tasks.replaced_by_id links a replaced task to its
successor.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "state IN ('assigned', 'acknowledged', 'in_progress', 'submitted', 'approved', 'returned')"
NEW_STATES = (
    "state IN ('assigned', 'acknowledged', 'in_progress', 'submitted', 'approved', 'returned', "
    "'cancelled')"
)


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_tasks_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_tasks_state'), NEW_STATES)
        batch_op.add_column(sa.Column('replaced_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_tasks_replaced_by_id_tasks'), 'tasks', ['replaced_by_id'], ['id'],
            ondelete='SET NULL',
        )


def downgrade() -> None:
    op.execute("UPDATE tasks SET state = 'assigned' WHERE state = 'cancelled'")
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tasks_replaced_by_id_tasks'), type_='foreignkey')
        batch_op.drop_column('replaced_by_id')
        batch_op.drop_constraint(op.f('ck_tasks_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_tasks_state'), OLD_STATES)
