"""Two partial indexes of tasks for the desk (duban.services.desk): on
PostgreSQL ix_tasks_desk answers counts from the index alone but not a task's
id, so a page of submissions sorted the submitted tasks read from the table
and the unacknowledged section's groups and pages read each assigned task's
row (PostgreSQL's indexes hold no row id; SQLite's do):

- ix_tasks_submitted (submitted_at, id) of the submitted tasks: a page of
  submissions by 报结 then id, and their count;
- ix_tasks_assigned (policy_id, due, assigned_at, light_key, missed_count,
  missed_since, id) of the assigned tasks: per policy, the not yet
  acknowledged by assignment day with their stored missed report periods,
  and a page of their ids.

Partial (``WHERE state = ...``), so no other query of the tasks picks them,
and a write of a task in another state does not touch them.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 22:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBMITTED = "state = 'submitted'"
ASSIGNED = "state = 'assigned'"


def upgrade() -> None:
    op.create_index(
        'ix_tasks_submitted', 'tasks', ['submitted_at', 'id'], unique=False,
        postgresql_where=sa.text(SUBMITTED), sqlite_where=sa.text(SUBMITTED),
    )
    op.create_index(
        'ix_tasks_assigned', 'tasks',
        ['policy_id', 'due', 'assigned_at', 'light_key', 'missed_count', 'missed_since', 'id'],
        unique=False,
        postgresql_where=sa.text(ASSIGNED), sqlite_where=sa.text(ASSIGNED),
    )


def downgrade() -> None:
    op.drop_index('ix_tasks_assigned', table_name='tasks')
    op.drop_index('ix_tasks_submitted', table_name='tasks')
