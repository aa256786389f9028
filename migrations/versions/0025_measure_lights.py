"""measure_lights: each measure's tasks counted by stored light
(duban.services.tasks.kept_lights), kept with the stored lights so the
dashboard reads one row per measure instead of grouping every task.

A row holds while its ``light_key`` is a generation of the stored lights the
page reads and none of the measure's tasks is stale (the page checks both).
A refresh of the stored lights deletes the row of every measure whose tasks
it writes, then keeps one for every measure whose tasks are all stored. What
the page's check cannot see, the database deletes itself here, whatever
writes: the row of the measure of a task inserted or deleted, and of both
measures of a task moved to another.

Empty after the upgrade: the next refresh of the stored lights (the day's
first round, or a page finding many stale) fills it; until then the page
groups the tasks as before.

SQLite drops a table's triggers when a batch migration rebuilds it: a later
migration that rebuilds tasks must create them again
(tests/reports/test_kept_lights.py fails without them).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 22:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIGHTS = ("red", "yellow", "blue", "late", "green")
# (trigger, operation, SQLite WHEN condition, rows whose measure's row goes)
TRIGGERS = (
    ("tasks_insert_measure_lights", "INSERT", None, ("NEW",)),
    ("tasks_delete_measure_lights", "DELETE", None, ("OLD",)),
    ("tasks_move_measure_lights", "UPDATE OF measure_id",
     "OLD.measure_id IS NOT NEW.measure_id", ("OLD", "NEW")),
)


def _forget(row: str) -> str:
    return f"DELETE FROM measure_lights WHERE measure_id = {row}.measure_id;"


def upgrade() -> None:
    op.create_table(
        'measure_lights',
        sa.Column('measure_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('light_key', sa.String(length=32), nullable=False),
        sa.Column('tasks', sa.Integer(), nullable=False),
        *(sa.Column(light, sa.Integer(), nullable=False) for light in LIGHTS),
        sa.ForeignKeyConstraint(['measure_id'], ['measures.id'],
                                name=op.f('fk_measure_lights_measure_id_measures'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('measure_id', name=op.f('pk_measure_lights')),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, operation, when, rows in TRIGGERS:
        body = " ".join(_forget(row) for row in rows)
        if postgresql:
            condition = (f" WHEN ({when.replace(' IS NOT ', ' IS DISTINCT FROM ')})"
                         if when else "")
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {body} RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {operation} ON tasks "
                f"FOR EACH ROW{condition} EXECUTE PROCEDURE {name}()"
            )
        else:
            condition = f" WHEN {when}" if when else ""
            op.execute(
                f"CREATE TRIGGER {name} AFTER {operation} ON tasks "
                f"FOR EACH ROW{condition} BEGIN {body} END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, _operation, _when, _rows in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}" + (" ON tasks" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_table('measure_lights')
