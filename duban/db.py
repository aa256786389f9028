"""Engines, the session factory and schema migrations.

This is the one place that builds engines and session factories; migrations
run from ``migrations/`` (a plain Alembic environment next to the package).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

import duban
from duban.config import (
    DB_MAX_OVERFLOW,
    DB_POOL_RECYCLE,
    DB_POOL_SIZE,
    DB_POOL_TIMEOUT,
    Settings,
)
from duban.domain.errors import DubanError
from duban.private_files import private_dir, private_file

MIGRATIONS_DIR = Path(duban.__file__).resolve().parent.parent / "migrations"


class SchemaNotReadyError(DubanError):
    """The database has no schema, or an older one than this code needs."""


def insert_for(session: Session, table: Any) -> Any:
    """An INSERT for ``table`` in the session's dialect, so callers can use
    ``.on_conflict_do_nothing(...)`` on SQLite and PostgreSQL alike."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def unreachable_message(err: BaseException, url: str) -> str | None:
    """The Chinese message for a database that cannot be reached or used right
    now (refused, timed out, restarting, a SQLite file locked or unreadable),
    naming ``url`` without its password and what to check; None for other errors."""
    if not isinstance(err, OperationalError | InterfaceError):
        if not (isinstance(err, DBAPIError) and err.connection_invalidated):
            return None
    parsed = make_url(url)
    reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:200]
    if parsed.password:
        reason = reason.replace(str(parsed.password), "***")
    if parsed.get_backend_name() == "sqlite":
        check = "数据库文件是否存在、可读写,是否被其他程序锁住(DUBAN_DATABASE_URL / DUBAN_DATA_DIR)"
    else:
        check = (
            "数据库服务是否在运行,主机与端口是否正确,用户名与密码是否正确"
            "(DUBAN_DATABASE_URL),网络与防火墙是否放行"
        )
    return f"无法使用数据库 {mask_url(url)}:{reason}。请检查:{check}。数据未作任何改动"


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL: readers never wait for the writer; NORMAL: a commit needs no fsync
    # (the outbox commits per message). Durable across a killed process; a
    # power cut may lose the last transactions (see README, production profile).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def ensure_sqlite_dir(url: str) -> None:
    """Create the parent directory (0700) and the file (0600, empty) of a SQLite
    database if they are missing: it holds contact addresses with passwords and
    keys. SQLite gives its journal files the database file's mode."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        private_dir(path.parent)
        private_file(path)


def engine_for_url(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = DB_POOL_SIZE,
    max_overflow: int = DB_MAX_OVERFLOW,
    pool_timeout: float = DB_POOL_TIMEOUT,
    pool_recycle: int = DB_POOL_RECYCLE,
) -> Engine:
    """An engine for ``url``; on SQLite, foreign keys are enforced on every connection.

    On other databases the engine keeps a pool of at most ``pool_size`` +
    ``max_overflow`` connections, waits ``pool_timeout`` seconds for a free one
    (then raises), reopens connections older than ``pool_recycle`` seconds, and
    pings a pooled connection before handing it out, so one that died with a
    PostgreSQL restart is replaced instead of failing the next statement.
    SQLite keeps SQLAlchemy's own pool defaults.
    """
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, echo=echo)
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    # Sizing: the pool is per process, and each process holds at most
    # pool_size + max_overflow connections. A Prefect worker runs every flow
    # run in its own subprocess, `duban serve` is another process, and so is
    # each CLI call. Keep (processes at once) × (pool_size + max_overflow)
    # under PostgreSQL's max_connections (100 by default), leaving room for
    # the Prefect server's own pool when it shares the server: with the
    # defaults (5 + 5), eight processes take at most 80 connections.
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=pool_recycle,
        pool_pre_ping=True,
    )


def make_engine(settings: Settings) -> Engine:
    """The engine for ``settings.database_url``, pooled as the settings say (no
    I/O until first use)."""
    return engine_for_url(
        settings.database_url,
        echo=settings.sql_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The session factory services receive. Objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(*, url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config for ``migrations/``.

    ``migrations/env.py`` uses ``connection`` if given, else ``url``, else the
    URL from the current settings.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    if url is not None:
        config.attributes["url"] = url
    return config


def head_revision() -> str:
    """The newest migration revision this code ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the repository always ships migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it has no schema yet."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(settings: Settings, revision: str = "head") -> str | None:
    """Migrate the settings' database to ``revision``; return the revision reached.

    Creates the directory of a SQLite database file when needed. Running it on
    an up-to-date database changes nothing.
    """
    ensure_sqlite_dir(settings.database_url)
    engine = make_engine(settings)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), revision)
        return current_revision(engine)
    finally:
        engine.dispose()


def require_schema(engine: Engine) -> None:
    """Raise SchemaNotReadyError unless the database is at the head revision."""
    current = current_revision(engine)
    if current is None:
        raise SchemaNotReadyError("数据库尚未初始化,请先运行 duban db upgrade")
    if current != head_revision():
        raise SchemaNotReadyError(
            f"数据库结构版本为 {current},程序需要 {head_revision()},请先运行 duban db upgrade"
        )


def open_session_factory(settings: Settings) -> sessionmaker[Session]:
    """A session factory on the settings' database, after checking its schema.

    Raises SchemaNotReadyError (with the command to run) when the schema is
    missing or old; a SQLite file is not created by this check.
    """
    parsed = make_url(settings.database_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).expanduser().exists():
            raise SchemaNotReadyError("数据库尚未初始化,请先运行 duban db upgrade")
    engine = make_engine(settings)
    require_schema(engine)
    return make_session_factory(engine)
