"""Promise: a staff session ends when it should, wherever its cookie went.

Sessions live on the server; the cookie only names one. Signing out ends it
(a copy of the cookie kept from before opens nothing), a new password or a
disabled account ends every session of that person, and every session ends
``DUBAN_SESSION_HOURS`` after signing in, however busy it was. The cookie is
HttpOnly and SameSite=Lax.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.services.accounts.staff import add_user, deactivate_user
from duban.timeutil import running_from
from models import StaffSession
from tests.db.conftest import World
from tests.web.conftest import AS_OF, PASSWORD, csrf

Login = Callable[[TestClient, str], str]
COOKIE = "duban_session"


def _with_cookie(new_client: Callable[[], TestClient], value: str) -> TestClient:
    browser = new_client()
    browser.cookies.set(COOKIE, value, domain="duban.test")
    return browser


def test_signing_out_ends_the_session_even_for_a_kept_copy_of_the_cookie(
    client: TestClient, new_client: Callable[[], TestClient], world: World, login: Login
) -> None:
    form = login(client, "coordinator")
    kept = client.cookies[COOKIE]
    assert _with_cookie(new_client, kept).get("/desk").status_code == 200
    assert client.post("/logout", data={"csrf_token": form}).status_code == 303
    assert client.get("/desk").status_code == 303
    replayed = _with_cookie(new_client, kept).get("/desk")
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/login")


def test_a_new_password_ends_every_session_of_that_person(
    new_client: Callable[[], TestClient],
    world: World,
    login: Login,
    session_factory: sessionmaker[Session],
) -> None:
    office, phone, colleague = new_client(), new_client(), new_client()
    login(office, "coordinator")
    login(phone, "coordinator")
    login(colleague, "supervisor")
    add_user("coordinator", role="coordinator", password="another-password", now=AS_OF,
             session_factory=session_factory)
    assert office.get("/desk").status_code == 303
    assert phone.get("/desk").status_code == 303
    assert colleague.get("/dashboard").status_code == 200


def test_a_disabled_account_is_signed_out_everywhere(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    login(client, "supervisor")
    deactivate_user("supervisor", now=AS_OF, session_factory=session_factory)
    assert client.get("/dashboard").status_code == 303
    token = csrf(client)
    again = client.post("/login", data={"username": "supervisor", "password": PASSWORD,
                                        "csrf_token": token})
    assert again.status_code == 401


def test_a_session_ends_after_its_hours_however_busy_it_was(
    app: FastAPI, client: TestClient, world: World, login: Login, web_settings: Settings
) -> None:
    login(client, "coordinator")
    hours = web_settings.session_hours
    for elapsed in (timedelta(hours=1), timedelta(hours=hours) - timedelta(minutes=1)):
        app.state.web.context.read_clock = running_from(AS_OF + elapsed)
        assert client.get("/desk").status_code == 200
    app.state.web.context.read_clock = running_from(AS_OF + timedelta(hours=hours, minutes=1))
    assert client.get("/desk").status_code == 303


def test_only_live_sessions_are_kept(
    app: FastAPI,
    new_client: Callable[[], TestClient],
    world: World,
    login: Login,
    session_factory: sessionmaker[Session],
    web_settings: Settings,
) -> None:
    login(new_client(), "coordinator")
    app.state.web.context.read_clock = running_from(
        AS_OF + timedelta(hours=web_settings.session_hours + 1)
    )
    login(new_client(), "supervisor")  # signing in clears expired sessions
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 1


def test_the_session_cookie_is_http_only_and_same_site(client: TestClient, world: World) -> None:
    token = csrf(client)
    response = client.post("/login", data={"username": "coordinator", "password": PASSWORD,
                                           "csrf_token": token})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
