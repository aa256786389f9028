"""task_scores: each task's share of the scorecard (考核) kept for one day and
rule (duban.services.reports.scorecard_kept), and the triggers that mark it
stale.

One row per task, made by a trigger when the task is inserted (and here for
every task already stored: the backfill). ``score_key`` names the day and rule
the row's ``cell`` was counted for; NULL is stale. The page counts the fresh
rows grouped by department and cell from the index ``(score_key,
department_id, cell)`` alone and works out the stale ones, so a row is never
wrong, only stale. The database itself sets ``score_key`` to NULL, whatever
writes (ORM, Core bulk statements, imports, other machines):

- tasks: an UPDATE that changes department_id, role, state, due,
  submitted_at or assigned_at;
- task_events: a ``report`` event inserted, deleted or changed;
- notices: a notice inserted or deleted, or one whose task, level, due time
  or superseded-ness changes (escalations);
- extension_requests: any request inserted, deleted or changed.

What else a cell depends on (the day, the report periods' deadlines from the
calendar and the policy, the zone, the first assignment, the roles counted)
is in the key.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READ_COLUMNS = ("department_id", "role", "state", "due", "submitted_at", "assigned_at")
NOTICE_CHANGED = (
    "OLD.task_id IS DISTINCT FROM NEW.task_id OR OLD.level IS DISTINCT FROM NEW.level"
    " OR OLD.due_at IS DISTINCT FROM NEW.due_at"
    " OR (OLD.status = 'superseded') IS DISTINCT FROM (NEW.status = 'superseded')"
)
# (table, operation, WHEN condition in PostgreSQL's words, task id rows)
ROW_TRIGGERS = (
    ("task_events", "INSERT", "NEW.action = 'report'", ("NEW",)),
    ("task_events", "DELETE", "OLD.action = 'report'", ("OLD",)),
    ("task_events", "UPDATE", "OLD.action = 'report' OR NEW.action = 'report'", ("OLD", "NEW")),
    ("notices", "INSERT", None, ("NEW",)),
    ("notices", "DELETE", None, ("OLD",)),
    ("notices", "UPDATE", NOTICE_CHANGED, ("OLD", "NEW")),
    ("extension_requests", "INSERT", None, ("NEW",)),
    ("extension_requests", "DELETE", None, ("OLD",)),
    ("extension_requests", "UPDATE", None, ("OLD", "NEW")),
)


def _name(table: str, operation: str) -> str:
    return f"{table}_{operation.lower()}_score_stale"


def _stale(row: str, column: str = "task_id") -> str:
    return (f"UPDATE task_scores SET score_key = NULL WHERE task_id = {row}.{column}"
            " AND score_key IS NOT NULL;")


def upgrade() -> None:
    op.create_table(
        'task_scores',
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('score_key', sa.String(length=48), nullable=True),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('cell', sa.String(length=160), nullable=True),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'],
                                name=op.f('fk_task_scores_task_id_tasks'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_task_scores')),
    )
    op.create_index('ix_task_scores_key_cell', 'task_scores',
                    ['score_key', 'department_id', 'cell'], unique=False)
    # The backfill: a stale row for every task (the first page stores them).
    op.execute("INSERT INTO task_scores (task_id) SELECT id FROM tasks")
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    op.execute(
        "CREATE TRIGGER tasks_insert_score_row AFTER INSERT ON tasks FOR EACH ROW "
        "BEGIN INSERT OR IGNORE INTO task_scores (task_id) VALUES (NEW.id); END"
    )
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in READ_COLUMNS)
    op.execute(
        f"CREATE TRIGGER tasks_score_stale AFTER UPDATE OF {', '.join(READ_COLUMNS)} ON tasks "
        f"FOR EACH ROW WHEN {changed} BEGIN {_stale('NEW', 'id')} END"
    )
    for table, operation, when, rows in ROW_TRIGGERS:
        condition = f" WHEN {when.replace('IS DISTINCT FROM', 'IS NOT')}" if when else ""
        body = " ".join(_stale(row) for row in rows)
        op.execute(
            f"CREATE TRIGGER {_name(table, operation)} AFTER {operation} ON {table} "
            f"FOR EACH ROW{condition} BEGIN {body} END"
        )


def _postgresql_triggers() -> None:
    op.execute(
        "CREATE FUNCTION tasks_insert_score_row() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO task_scores (task_id) VALUES (NEW.id) ON CONFLICT DO NOTHING; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER tasks_insert_score_row AFTER INSERT ON tasks "
        "FOR EACH ROW EXECUTE PROCEDURE tasks_insert_score_row()"
    )
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in READ_COLUMNS)
    op.execute(
        "CREATE FUNCTION tasks_score_stale() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {_stale('NEW', 'id')} RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE TRIGGER tasks_score_stale AFTER UPDATE OF {', '.join(READ_COLUMNS)} ON tasks "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE PROCEDURE tasks_score_stale()"
    )
    for rows in (("NEW",), ("OLD",), ("OLD", "NEW")):
        function = f"score_stale_{'_'.join(r.lower() for r in rows)}"
        body = " ".join(_stale(row) for row in rows)
        op.execute(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$"
        )
    for table, operation, when, rows in ROW_TRIGGERS:
        function = f"score_stale_{'_'.join(r.lower() for r in rows)}"
        condition = f" WHEN ({when})" if when else ""
        op.execute(
            f"CREATE TRIGGER {_name(table, operation)} AFTER {operation} ON {table} "
            f"FOR EACH ROW{condition} EXECUTE PROCEDURE {function}()"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, operation, _when, _rows in ROW_TRIGGERS:
        op.execute(f"DROP TRIGGER {_name(table, operation)}" + (f" ON {table}" if postgresql else ""))
    for trigger in ("tasks_score_stale", "tasks_insert_score_row"):
        op.execute(f"DROP TRIGGER {trigger}" + (" ON tasks" if postgresql else ""))
    if postgresql:
        for function in ("tasks_score_stale", "tasks_insert_score_row", "score_stale_new",
                         "score_stale_old", "score_stale_old_new"):
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_index('ix_task_scores_key_cell', table_name='task_scores')
    op.drop_table('task_scores')
