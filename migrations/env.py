"""Alembic environment for duban.

Where the database is, in order of precedence:
1. ``config.attributes["connection"]``: an open SQLAlchemy connection
   (``duban.db.upgrade`` and the tests pass one);
2. ``config.attributes["url"]`` or the ``sqlalchemy.url`` option;
3. ``duban.config.get_settings().database_url``.

Autogenerate compares against ``models.Base.metadata``. ``render_as_batch``
lets ALTERs work on SQLite, which rewrites tables to change them.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from duban.config import get_settings
from duban.db import engine_for_url
from models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    return str(url) if url else get_settings().database_url


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations use plain SQLAlchemy types, so they never import models/.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
        render_item=_render_item,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    """Run the migrations on ``connection``. On SQLite, foreign keys are off
    meanwhile: a batch migration rebuilds a table (copy, drop, rename), and
    with them enforced dropping the old table deletes every row referencing
    it (ON DELETE CASCADE: a task's events, notices, readings). The pragma is
    a no-op inside a transaction, so it is set before the migration's first
    statement; the references are checked before the transaction ends."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows referencing missing rows: {broken[:5]}")
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_for_url(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
