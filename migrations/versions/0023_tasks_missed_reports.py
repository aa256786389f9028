"""tasks.missed_count and tasks.missed_since: with each stored light, how
many report periods the task missed and the first one's deadline
(duban.services.tasks.light_sql), and the desk's indexes.

For the rule whose light ``light_key`` holds: the number of owed report
periods whose report the task lacks and the deadline of the first of them
(0 and NULL for a task that owes none that day: closed, cancelled, past due,
or none missed). The coordinators' desk counts and orders its "missing
reports" section by them from an index instead of working out every yellow
task's reports. They go stale with the light (migration 0018's triggers
clear light_key) and a move to another day rewrites them with it.

ix_tasks_missed (missed_count, missed_since, id, light_key): the missing
reports grouped, and a group's tasks in id order, from the index alone.

ix_tasks_desk (policy_id, state, due, assigned_at, submitted_at): per
escalation policy, the desk's overdue tasks (open and past due) grouped by
due date, its unacknowledged ones (assigned, not past due) by assignment day,
and its submissions by the time of their 报结, from the index alone. The policy leads so that no query without one picks it (with
state first SQLite scanned it for the light rule's "open and not past due"
probe of the tasks with readings, where it had looked up a few ids).

ALTER TABLE ADD COLUMN keeps SQLite's triggers (no table rebuild).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 20:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('tasks', sa.Column('missed_count', sa.Integer(), nullable=True))
    op.add_column('tasks', sa.Column('missed_since', sa.Date(), nullable=True))
    op.create_index('ix_tasks_missed', 'tasks',
                    ['missed_count', 'missed_since', 'id', 'light_key'], unique=False)
    op.create_index('ix_tasks_desk', 'tasks',
                    ['policy_id', 'state', 'due', 'assigned_at', 'submitted_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_tasks_desk', table_name='tasks')
    op.drop_index('ix_tasks_missed', table_name='tasks')
    # Not a batch operation: rebuilding tasks on SQLite would drop 0018's triggers.
    op.execute("ALTER TABLE tasks DROP COLUMN missed_since")
    op.execute("ALTER TABLE tasks DROP COLUMN missed_count")
