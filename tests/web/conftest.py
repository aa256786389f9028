"""The web application on the seeded world, on SQLite and PostgreSQL.

``client`` is a Starlette TestClient on :func:`duban.web.create_app` with the
clock started at :data:`AS_OF`; ``login`` signs a client in as one of the
accounts ``coordinator`` (督办科) or ``supervisor`` (督查室); ``link`` makes a
department link token as the notices do. ``browser`` (from
:mod:`tests.web.screens`) is the browser tests' chromium, one per module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.services.accounts.links import LinkSigner, department_token
from duban.services.calendar.data import build_work_calendar
from duban.web import create_app
from models import Task, User
from tests.db.conftest import World, at, seed_world
from tests.reports.conftest import History, seed_history
from tests.web.screens import browser  # noqa: F401  (the browser tests' chromium, one per module)

AS_OF = at("2015-06-01", 10)
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web_settings(migrated_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=migrated_url,
                    secret_key="test-secret-key", base_url="http://duban.test")


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One Argon2 hash of PASSWORD for every test account (hashing costs ~0.3 s)."""
    return PasswordHasher().hash(PASSWORD)


@pytest.fixture
def world(
    session_factory: sessionmaker[Session], synced_directory: None, password_hash: str
) -> World:
    """The seeded plan and tasks, plus the accounts ``coordinator`` and ``supervisor``."""
    world = seed_world(session_factory)
    with session_factory.begin() as session:
        for role in ("coordinator", "supervisor"):
            session.add(User(username=role, display_name=f"{role}-name", role=role,
                             password_hash=password_hash, active=True, created_at=AS_OF,
                             password_changed_at=AS_OF))
    return world


@pytest.fixture
def history_client(
    web_settings: Settings,
    session_factory: sessionmaker[Session],
    synced_directory: None,
    password_hash: str,
) -> tuple[TestClient, History]:
    """A client of the app on the small world with a known history
    (tests/reports/conftest.py) seen on 2016-01-29, with both accounts."""
    history = seed_history(session_factory, build_work_calendar([]))
    with session_factory.begin() as session:
        for role in ("coordinator", "supervisor"):
            session.add(User(username=role, display_name=f"{role}-name", role=role,
                             password_hash=password_hash, active=True, created_at=AS_OF,
                             password_changed_at=AS_OF))
    app = create_app(web_settings, as_of=at("2016-01-29", 10))
    return TestClient(app, base_url="http://duban.test", follow_redirects=False), history


@pytest.fixture
def app(web_settings: Settings, world: World) -> FastAPI:
    return create_app(web_settings, as_of=AS_OF)


@pytest.fixture
def new_client(app: FastAPI) -> Iterator[Callable[[], TestClient]]:
    """Make another browser (its own cookies) on the same app."""
    made: list[TestClient] = []

    def make() -> TestClient:
        test_client = TestClient(app, base_url="http://duban.test", follow_redirects=False)
        test_client.__enter__()
        made.append(test_client)
        return test_client

    yield make
    for test_client in made:
        test_client.__exit__(None, None, None)


@pytest.fixture
def client(new_client: Callable[[], TestClient]) -> TestClient:
    return new_client()


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def csrf(client: TestClient, path: str = "/login") -> str:
    """The CSRF token of this client's session (from a page that carries one)."""
    response = client.get(path)
    return csrf_of(response.text)


@pytest.fixture
def login() -> Callable[[TestClient, str], str]:
    """Sign ``client`` in as ``coordinator`` or ``supervisor``; returns the session's CSRF token."""

    def sign_in(client: TestClient, who: str) -> str:
        token = csrf(client)
        response = client.post("/login", data={"username": who, "password": PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 303, response.text
        return csrf(client, "/dashboard")

    return sign_in


@pytest.fixture
def link(
    web_settings: Settings, session_factory: sessionmaker[Session]
) -> Callable[..., str]:
    """A department link token for the department of ``task_id`` (as a notice carries)."""
    signer = LinkSigner.from_settings(web_settings)

    def make(task_id: int, *, now: datetime = AS_OF) -> str:
        with session_factory() as session:
            task = session.get(Task, task_id)
            assert task is not None
            return department_token(session, task.department_id, now=now, signer=signer)

    return make
