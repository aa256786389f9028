"""Shared fixtures: migrated databases on SQLite and PostgreSQL, and a CLI runner.

Database fixtures are parametrised over two backends. ``sqlite`` uses a file
in the test's tmp_path. ``postgresql`` uses the server on 127.0.0.1:5432
(user postgres, trust auth; DUBAN_TEST_POSTGRES_URL, without a database
name, points elsewhere): each test session creates its own databases,
named ``duban_test_<random>...``, and drops them at the end. When the server
is unreachable those tests are skipped, unless DUBAN_TEST_REQUIRE_POSTGRES=1,
which makes them fail instead (CI sets it).

- ``database_url``: an empty database (no schema), fresh for each test.
- ``engine`` / ``session_factory``: a database migrated to head whose tables
  are empty at the start of each test. The schema is migrated once per session
  and backend; SQLite copies a migrated file, PostgreSQL truncates the tables.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from duban.config import DEFAULT_DIRECTORY_FILE
from duban.db import alembic_config, engine_for_url, make_session_factory
from models import Base

# Prefect's local API keeps its database under PREFECT_HOME: each test
# process (an xdist worker, say) gets its own, never the user's ~/.prefect.
if "PREFECT_HOME" not in os.environ:
    import atexit
    import tempfile

    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="duban-test-prefect-")
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)

# Tests read the environment directly: these are not duban settings.
REQUIRE_POSTGRES_ENV = "DUBAN_TEST_REQUIRE_POSTGRES"
PG_HOST_URL = os.environ.get(
    "DUBAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
).rstrip("/")

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class PostgresServer:
    """Creates uniquely named databases on the test server; drops them all at the end."""

    def __init__(self, admin: Engine) -> None:
        self.admin = admin
        self.prefix = f"duban_test_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"{self.prefix}_{len(self.created)}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return f"{PG_HOST_URL}/{name}"

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL test server, or a skip (a failure if it is required)."""
    admin = create_engine(
        f"{PG_HOST_URL}/postgres",
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as err:
        admin.dispose()
        reason = f"PostgreSQL at {PG_HOST_URL} unreachable: {err.orig}"
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_POSTGRES_ENV}=1 requires it)", pytrace=False)
        pytest.skip(reason)
    server = PostgresServer(admin)
    try:
        yield server
    finally:
        server.drop_all()
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: "sqlite" or "postgresql"."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a new, empty database on ``backend``."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'duban.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to head."""
    from alembic import command

    engine = engine_for_url(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "duban.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated_url(postgres_server: PostgresServer) -> str:
    """One database per session migrated to head; tests truncate it before use."""
    url = postgres_server.create_database()
    migrate(url)
    return url


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def migrated_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a database at head with empty tables (private to this test)."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "duban.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated_url")
    engine = engine_for_url(url)
    try:
        _truncate_all(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = engine_for_url(migrated_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@dataclass
class WriteLog:
    """SQL statements that change data, as executed on an engine."""

    statements: list[str]

    def clear(self) -> None:
        self.statements.clear()


@pytest.fixture
def writes(engine: Engine) -> Iterator[WriteLog]:
    """Records every INSERT, UPDATE and DELETE the engine executes."""
    log = WriteLog([])

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def synced_directory(session_factory: sessionmaker[Session]) -> None:
    """The built-in Zhuhai directory, loaded into the test database."""
    from duban.services.accounts.directory import load_directory_file, sync_directory

    sync_directory(load_directory_file(DEFAULT_DIRECTORY_FILE), session_factory=session_factory)


# --- the console script, in process ------------------------------------------


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Point duban's settings at a private data directory and the given database URL."""

    def use(database_url: str) -> None:
        monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("DUBAN_DATABASE_URL", database_url)

    return use


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Run ``duban ARGS`` through ``duban.cli.main`` (settings come from the
    environment, e.g. set by ``cli_env``) and return its exit code and output."""
    from duban.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["duban", *args])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run



# Under pytest-xdist (./run test), the tests of these folders share a costly
# session fixture (a Prefect test server, a printed corpus, a reference run
# and its clusters): each folder runs on one worker, so it is built once; every
# other test goes wherever a worker is free.
SHARED_SESSION_FOLDERS = ("cluster", "flows", "documents")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class FolderScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            parts = nodeid.split("/")
            if len(parts) > 2 and parts[1] in SHARED_SESSION_FOLDERS:
                return parts[1]
            return nodeid

    return FolderScheduling(config, log)
