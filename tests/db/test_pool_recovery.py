"""Pooled connections that the server dropped (a PostgreSQL restart, an
administrator's pg_terminate_backend) are replaced, not handed out dead."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import OperationalError

from duban.db import engine_for_url, make_session_factory
from models import Task
from tests.conftest import PostgresServer

POOLED = 3


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Overrides tests/conftest.py's backend: backends are a PostgreSQL matter."""
    return str(request.param)


def fill_pool_then_kill_it(engine: Engine, server: PostgresServer) -> set[int]:
    """Check out POOLED connections, return them to the pool, then terminate
    their server processes from another connection; returns their pids."""
    connections = [engine.connect() for _ in range(POOLED)]
    pids = {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in connections}
    for connection in connections:
        connection.close()
    assert engine.pool.checkedin() == POOLED  # type: ignore[attr-defined]
    with server.admin.connect() as admin:
        for pid in pids:
            # With a timeout, pg_terminate_backend waits until the process is gone.
            assert admin.execute(
                text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
            ).scalar_one()
    return pids


def test_the_engine_replaces_connections_the_server_terminated(
    migrated_url: str, postgres_server: PostgresServer
) -> None:
    engine = engine_for_url(migrated_url)
    try:
        dead = fill_pool_then_kill_it(engine, postgres_server)
        with make_session_factory(engine)() as session:
            assert session.scalars(select(Task.id)).all() == []
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert pid not in dead
        for _ in range(POOLED):  # every pooled connection works again
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_without_pre_ping_the_next_statement_would_fail(
    migrated_url: str, postgres_server: PostgresServer
) -> None:
    """The scenario above is real: a pool that does not ping hands out a dead
    connection, and the statement on it fails."""
    engine = create_engine(migrated_url, pool_size=POOLED, pool_pre_ping=False)
    try:
        fill_pool_then_kill_it(engine, postgres_server)
        with pytest.raises(OperationalError), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
