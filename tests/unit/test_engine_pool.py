"""The engine's connection pool follows the settings on PostgreSQL; SQLite keeps
SQLAlchemy's defaults. Building an engine does no I/O, so no server is needed.

The pool's options are read from QueuePool's attributes (some private): the
pool has no public accessor for them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.pool import QueuePool

from duban.config import Settings
from duban.db import engine_for_url, make_engine

PG_URL = "postgresql+psycopg://duban@db.invalid:5432/duban"


def pool_of(settings: Settings) -> QueuePool:
    engine = make_engine(settings)
    try:
        assert isinstance(engine.pool, QueuePool)
        return engine.pool
    finally:
        engine.dispose()


def test_postgresql_engine_is_pooled_as_the_settings_say(tmp_path: Path) -> None:
    pool = pool_of(
        Settings(
            data_dir=tmp_path,
            database_url=PG_URL,
            db_pool_size=7,
            db_max_overflow=3,
            db_pool_timeout=12.5,
            db_pool_recycle=600,
        )
    )
    assert pool.size() == 7
    assert pool._max_overflow == 3
    assert pool.timeout() == 12.5
    assert pool._recycle == 600
    assert pool._pre_ping is True


def test_pool_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", PG_URL)
    monkeypatch.setenv("DUBAN_DB_POOL_SIZE", "2")
    monkeypatch.setenv("DUBAN_DB_MAX_OVERFLOW", "0")
    pool = pool_of(Settings(data_dir=tmp_path))
    assert (pool.size(), pool._max_overflow, pool._pre_ping) == (2, 0, True)


def test_defaults_keep_ten_connections_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SIZE", "TIMEOUT", "RECYCLE"):
        monkeypatch.delenv(f"DUBAN_DB_POOL_{name}", raising=False)
    monkeypatch.delenv("DUBAN_DB_MAX_OVERFLOW", raising=False)
    settings = Settings(data_dir=tmp_path, database_url=PG_URL)
    pool = pool_of(settings)
    assert (pool.size(), pool._max_overflow, pool.timeout(), pool._recycle) == (5, 5, 30, 1800)
    # engine_for_url without pool arguments (tests, migrations) pools the same way.
    engine = engine_for_url(PG_URL)
    try:
        assert isinstance(engine.pool, QueuePool)
        assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._pre_ping) == (
            5,
            5,
            True,
        )
    finally:
        engine.dispose()


def test_sqlite_keeps_sqlalchemys_pool_defaults(tmp_path: Path) -> None:
    pool = pool_of(
        Settings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'duban.db'}",
            db_pool_size=1,
            db_max_overflow=0,
        )
    )
    assert pool._pre_ping is False
    assert (pool.size(), pool._max_overflow) == (5, 10)
