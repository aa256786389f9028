"""tasks.light and tasks.light_key: each task's light stored for one day and
rule (duban.services.tasks.light_sql), and the triggers that mark it stale.

A stored light holds while nothing it reads changes. The database itself sets
``light_key`` to NULL, whatever writes (ORM, Core bulk UPDATEs, imports,
workers on another machine):

- tasks: an UPDATE that changes state, due, submitted_at or assigned_at;
- task_events: a ``report`` event inserted, deleted or changed (reports feed
  the yellow "missing report" rule; other events change nothing the rule reads);
- indicator_readings: any reading inserted, deleted or changed (a task with
  readings is never stored: its light depends on its indicator).

Writing light and light_key alone fires nothing. What else a light depends on
(the day, the working-day calendar, the status policy, the zone) is in the key.

SQLite drops a table's triggers when a batch migration rebuilds it: a later
migration that rebuilds tasks, task_events or indicator_readings must create
them again (tests/reports/test_stored_lights.py fails without them).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READ_COLUMNS = ("state", "due", "submitted_at", "assigned_at")
# (table, operation, SQLite/PostgreSQL WHEN condition, task id columns of the row)
ROW_TRIGGERS = (
    ("task_events", "INSERT", "NEW.action = 'report'", ("NEW",)),
    ("task_events", "DELETE", "OLD.action = 'report'", ("OLD",)),
    ("task_events", "UPDATE", "OLD.action = 'report' OR NEW.action = 'report'", ("OLD", "NEW")),
    ("indicator_readings", "INSERT", None, ("NEW",)),
    ("indicator_readings", "DELETE", None, ("OLD",)),
    ("indicator_readings", "UPDATE", None, ("OLD", "NEW")),
)


def _name(table: str, operation: str) -> str:
    return f"{table}_{operation.lower()}_light_stale"


def _changed() -> str:
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in READ_COLUMNS)


def _stale(row: str) -> str:
    return f"UPDATE tasks SET light_key = NULL WHERE id = {row}.task_id AND light_key IS NOT NULL;"


def upgrade() -> None:
    op.add_column('tasks', sa.Column('light', sa.String(length=16), nullable=True))
    op.add_column('tasks', sa.Column('light_key', sa.String(length=32), nullable=True))
    op.create_index('ix_tasks_light_key_light', 'tasks', ['light_key', 'light'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in READ_COLUMNS)
    op.execute(
        f"CREATE TRIGGER tasks_light_stale AFTER UPDATE OF {', '.join(READ_COLUMNS)} ON tasks "
        f"FOR EACH ROW WHEN NEW.light_key IS NOT NULL AND ({changed}) "
        "BEGIN UPDATE tasks SET light_key = NULL WHERE id = NEW.id; END"
    )
    for table, operation, when, rows in ROW_TRIGGERS:
        condition = f" WHEN {when}" if when else ""
        body = " ".join(_stale(row) for row in rows)
        op.execute(
            f"CREATE TRIGGER {_name(table, operation)} AFTER {operation} ON {table} "
            f"FOR EACH ROW{condition} BEGIN {body} END"
        )


def _postgresql_triggers() -> None:
    op.execute(
        "CREATE FUNCTION tasks_light_stale() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF {_changed()} THEN NEW.light_key := NULL; END IF; RETURN NEW; END $$"
    )
    op.execute(
        f"CREATE TRIGGER tasks_light_stale BEFORE UPDATE OF {', '.join(READ_COLUMNS)} ON tasks "
        "FOR EACH ROW EXECUTE PROCEDURE tasks_light_stale()"
    )
    for rows in (("NEW",), ("OLD",), ("OLD", "NEW")):
        function = f"light_stale_{'_'.join(r.lower() for r in rows)}"
        body = " ".join(_stale(row) for row in rows)
        op.execute(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$"
        )
    for table, operation, when, rows in ROW_TRIGGERS:
        function = f"light_stale_{'_'.join(r.lower() for r in rows)}"
        condition = f" WHEN ({when})" if when else ""
        op.execute(
            f"CREATE TRIGGER {_name(table, operation)} AFTER {operation} ON {table} "
            f"FOR EACH ROW{condition} EXECUTE PROCEDURE {function}()"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, operation, _when, _rows in ROW_TRIGGERS:
        op.execute(f"DROP TRIGGER {_name(table, operation)}" + (f" ON {table}" if postgresql else ""))
    op.execute("DROP TRIGGER tasks_light_stale" + (" ON tasks" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION tasks_light_stale()")
        for function in ("light_stale_new", "light_stale_old", "light_stale_old_new"):
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_index('ix_tasks_light_key_light', table_name='tasks')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('light_key')
        batch_op.drop_column('light')
