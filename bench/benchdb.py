"""Throw-away databases for the benchmarks, and query plans of what a call runs.

* :func:`sqlite_database` — a SQLite file in a new temporary directory (removed after);
* :func:`postgres_database` — a database ``duban_bench_<random>`` on a PostgreSQL
  server, created for the run and dropped after it;
* :func:`migrated_engine` — an engine on that database after ``alembic upgrade head``;
* :func:`plan_of_first_select` — the query plan of the first SELECT a call runs,
  so a benchmark shows the plan of the service's own query, not of a copy of it;
* :func:`use_sqlite_wal` — WAL journal and ``synchronous=NORMAL`` (an experiment:
  duban's engines use SQLite's defaults);
* :func:`revision` — the commit measured.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from duban.db import alembic_config, engine_for_url

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def sqlite_database(directory: Path | None = None) -> Iterator[str]:
    """The URL of a new SQLite file under ``directory`` (default: the system temp dir)."""
    folder = Path(tempfile.mkdtemp(prefix="duban-bench-", dir=directory))
    try:
        yield f"sqlite:///{folder / 'bench.db'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database(server_url: str = DEFAULT_POSTGRES) -> Iterator[str]:
    """The URL of a new database on the server of ``server_url``; dropped on exit."""
    name = f"duban_bench_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def migrated_engine(url: str) -> Engine:
    """An engine on ``url`` (duban's own factory) after migrating it to head."""
    engine = engine_for_url(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection=connection), "head")
    return engine


def plan_of_first_select(engine: Engine, call: Callable[[], Any]) -> str:
    """Run ``call`` and return the query plan of the first SELECT it sent to ``engine``
    (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN), one line per plan node."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not seen and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    if not seen:
        return "(no SELECT)"
    statement, parameters = seen[0]
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(str(row[-1]) for row in rows)
        rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        return "\n".join(str(row[0]) for row in rows)


def use_sqlite_wal(engine: Engine) -> None:
    """Every new connection of ``engine`` uses WAL with ``synchronous=NORMAL``."""

    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()
    event.listen(engine, "connect", pragmas)


def revision() -> str:
    """The commit measured, and whether the working tree differed from it."""
    try:
        here = Path(__file__).resolve().parent
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=here,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=here,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"
