"""Promise: a password can't be guessed faster through any door.

The login form and the API's HTTP Basic are one sign-in path: the same
lockout (5 failures per name, 20 per client address, in 15 minutes), the same
counting, about the same time for a known and an unknown name. The table of
failures stays small whatever is thrown at it. The form needs its CSRF token
and never sends a signed-in user off the site.
"""

from __future__ import annotations

import base64

import argon2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.accounts import staff as accounts
from duban.services.accounts.staff import authenticate
from duban.web.signin import MAX_FAILURES_PER_NAME, LoginThrottle, SignIn, name_key
from models import User
from tests.db.conftest import World
from tests.web.conftest import PASSWORD, csrf


def _form_login(client: TestClient, username: str, password: str) -> int:
    token = csrf(client)
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    return response.status_code


def _basic(username: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def test_a_wrong_password_is_refused_and_next_stays_on_site(
    client: TestClient, world: World
) -> None:
    token = csrf(client)
    wrong = client.post("/login", data={"username": "coordinator", "password": "nope-nope",
                                         "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.text
    token = csrf(client)
    ok = client.post("/login", data={"username": "coordinator", "password": PASSWORD,
                                      "csrf_token": token, "next": "//evil.example/x"})
    assert ok.status_code == 303 and ok.headers["location"] == "/desk"


def test_the_login_form_needs_its_csrf_token_too(client: TestClient, world: World) -> None:
    response = client.post("/login", data={"username": "coordinator", "password": "x" * 20})
    assert response.status_code == 403


def test_after_five_wrong_form_logins_neither_the_form_nor_the_api_lets_the_name_in(
    client: TestClient, world: World
) -> None:
    for _ in range(MAX_FAILURES_PER_NAME):
        assert _form_login(client, "supervisor", "guess-1234") == 401
    locked = client.post("/login", data={"username": "supervisor", "password": PASSWORD,
                                         "csrf_token": csrf(client)})
    assert locked.status_code == 429 and "请 15 分钟后再试" in locked.text
    api = client.get("/api/measures", headers=_basic("supervisor", PASSWORD))
    assert api.status_code == 429 and "请 15 分钟后再试" in api.json()["detail"]
    assert client.get("/api/measures", headers=_basic("coordinator", PASSWORD)).status_code == 200


def test_wrong_passwords_over_http_basic_count_towards_the_same_lockout(
    app: FastAPI, client: TestClient, world: World
) -> None:
    app.state.web.sign_in = SignIn(LoginThrottle(per_name=2))  # the same count, sooner
    for index in range(2):
        response = client.get("/api/tasks", headers=_basic("Supervisor", f"guess{index}"))
        assert response.status_code == 401
    assert client.get("/api/tasks", headers=_basic("supervisor", PASSWORD)).status_code == 429
    assert _form_login(client, "supervisor", PASSWORD) == 429


def test_one_address_trying_many_names_is_locked_out_as_well(
    app: FastAPI, client: TestClient, world: World
) -> None:
    app.state.web.sign_in = SignIn(LoginThrottle(per_address=3))
    for name in ("alice", "bob", "carol"):
        assert _form_login(client, name, "guess-1234") == 401
    # A real account with its right password, but from the same address.
    assert _form_login(client, "coordinator", PASSWORD) == 429


def test_the_failure_table_stays_small_whatever_names_are_sent() -> None:
    throttle = LoginThrottle(max_keys=50)
    huge = "x" * 1_000_000
    for index in range(200):
        throttle.record_failure(f"{index}{huge}", f"10.0.{index // 250}.{index % 250}")
    assert len(throttle) <= 50
    # Keys are digests: a megabyte-long name costs what a short one does.
    assert len(name_key(huge)) == len(name_key("dcs")) < 40
    assert throttle.footprint() <= 50 * (40 + 20)


def test_failures_older_than_the_window_are_forgotten_and_pruned() -> None:
    now = [0.0]
    throttle = LoginThrottle(window=900, clock=lambda: now[0])
    for _ in range(MAX_FAILURES_PER_NAME):
        throttle.record_failure("dcs", "10.0.0.1")
    assert throttle.blocked("dcs", "10.0.0.2")
    now[0] = 901
    assert not throttle.blocked("dcs", "10.0.0.2")
    throttle.record_failure("other", "10.0.0.3")  # any failure prunes what has aged out
    assert len(throttle) == 2


def test_names_differing_only_in_case_width_or_spaces_share_one_count() -> None:
    throttle = LoginThrottle()
    for variant in ("dcs", "DCS", " dcs ", "ｄｃｓ", "Dcs"):
        throttle.record_failure(variant, f"10.0.0.{len(variant)}")
    assert throttle.blocked("dcs", "192.168.1.1")


def test_an_unknown_name_costs_the_same_hash_check_as_a_wrong_password(
    world: World, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Timing cannot tell which names exist: a wrong password, an unknown name
    and an impossible one each verify one Argon2 hash of the same parameters
    (counted at the hasher, not timed)."""
    checked: list[argon2.Parameters] = []
    real = accounts._HASHER

    class CountingHasher:
        def verify(self, stored: str, password: str) -> bool:
            checked.append(argon2.extract_parameters(stored))
            return real.verify(stored, password)

    monkeypatch.setattr(accounts, "_HASHER", CountingHasher())
    for name in ("coordinator", "nobody-here", "n" * 5000):
        checked.clear()
        assert authenticate(name, "wrong-password", session_factory=session_factory) is None
        assert checked == [real_parameters(session_factory, "coordinator")], name


def real_parameters(session_factory: sessionmaker[Session], username: str) -> argon2.Parameters:
    with session_factory() as session:
        stored = session.scalars(select(User.password_hash).where(User.username == username)).one()
    return argon2.extract_parameters(stored)
