"""department_dues: every task counted by department, state and due date
(models.DepartmentDues), kept exact by triggers so the dashboard's department
chart and overdue trend read a row per group instead of grouping every task.

The counts do not depend on the day: the database keeps them itself,
whatever writes (the ORM, Core updates and deletes, imports, reassignments,
extensions, withdrawals): a task inserted adds one to its group, one deleted
takes one away, one whose department, state or due date changes moves from
its old group to its new one; a group whose count falls to 0 is deleted.
Filled from the tasks by the upgrade.

SQLite drops a table's triggers when a batch migration rebuilds it: a later
migration that rebuilds tasks must create them again
(tests/reports/test_department_dues.py fails without them).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("department_id", "state", "due")
# (trigger, operation, SQLite WHEN condition, rows taken away, rows added)
TRIGGERS = (
    ("tasks_insert_department_dues", "INSERT", None, (), ("NEW",)),
    ("tasks_delete_department_dues", "DELETE", None, ("OLD",), ()),
    ("tasks_regroup_department_dues", "UPDATE OF department_id, state, due",
     " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in COLUMNS), ("OLD",), ("NEW",)),
)


def _same(row: str) -> str:
    return " AND ".join(f"{c} = {row}.{c}" for c in COLUMNS)


def _take(row: str) -> str:
    return (f"UPDATE department_dues SET tasks = tasks - 1 WHERE {_same(row)}; "
            f"DELETE FROM department_dues WHERE {_same(row)} AND tasks = 0;")


def _add(row: str) -> str:
    return (f"INSERT INTO department_dues (department_id, state, due, tasks) "
            f"VALUES ({row}.department_id, {row}.state, {row}.due, 1) "
            f"ON CONFLICT (department_id, state, due) "
            f"DO UPDATE SET tasks = department_dues.tasks + 1;")


def upgrade() -> None:
    op.create_table(
        'department_dues',
        sa.Column('department_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('tasks', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('department_id', 'state', 'due',
                                name=op.f('pk_department_dues')),
    )
    op.execute(
        "INSERT INTO department_dues (department_id, state, due, tasks) "
        "SELECT department_id, state, due, count(*) FROM tasks "
        "GROUP BY department_id, state, due"
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, operation, when, taken, added in TRIGGERS:
        body = " ".join([*(_take(row) for row in taken), *(_add(row) for row in added)])
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
    for name, _operation, _when, _taken, _added in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}" + (" ON tasks" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_table('department_dues')
