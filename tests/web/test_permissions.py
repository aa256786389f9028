"""Who may open and do what: every route for every role, on SQLite and PostgreSQL.

Roles: nobody (no session, no link), a supervisor (督查室, reads), a
coordinator (督办科, reads and acts), a department by its signed link (its own
tasks only). Every POST also needs the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.links import revoke_links
from models import TaskEvent
from tests.db.conftest import World
from tests.web.conftest import AS_OF, csrf

# Pages any signed-in staff member may read ({task} is the lead task's id).
STAFF_PAGES = [
    "/dashboard",
    "/dashboard?light=red",
    "/dashboard/escalations",
    "/dashboard/escalations?level=0&delivered=no",
    "/dashboard/scorecard?sort=late&order=asc",
    "/dashboard/ledger.xlsx",
    "/tasks/{task}",
]
# Coordinator-only pages.
COORDINATOR_PAGES = [
    "/desk",
    "/desk/deliveries",
    "/desk/deliveries?status=failed",
    "/desk/departments",
    "/desk/plans",
    "/desk/audit",
]
# Coordinator-only actions (POST), with a body that would otherwise be valid.
COORDINATOR_ACTIONS = [
    ("/desk/tasks/{task}/approve", {}),
    ("/desk/tasks/{task}/return", {"reason": "材料不全"}),
    ("/desk/tasks/{task}/due", {"new_due": "2015-12-30", "reason": "统筹安排"}),
    ("/desk/tasks/{task}/resend", {}),
    ("/desk/extensions/1/approve", {}),
    ("/desk/extensions/1/refuse", {}),
    ("/desk/deliveries/1/retry", {}),
    ("/desk/channels/1/replace", {"url": "mailto://a:b@example.com"}),
    ("/desk/departments/1/link", {}),
    ("/desk/departments/1/revoke", {}),
    ("/desk/assign", {"measure": "8"}),
    ("/desk/plans/drafts/0123456789abcdef", {"do": "import"}),
]
# Department actions through the link.
DEPARTMENT_ACTIONS = [
    ("ack", {"actor": "张三"}),
    ("report", {"note": "进展顺利"}),
    ("submit", {"note": "已完成"}),
    ("extend", {"new_due": "2016-03-31", "reason": "工程延误"}),
]
STAFF_API = ["/api/tasks", "/api/tasks/{task}", "/api/measures", "/api/escalations",
             "/api/deliveries", "/api/scorecard"]


def _events(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(TaskEvent)) or 0)


# --- nobody -------------------------------------------------------------------------


def test_nobody_is_sent_to_login_from_every_staff_page(client: TestClient, world: World) -> None:
    for page in STAFF_PAGES + COORDINATOR_PAGES:
        response = client.get(page.format(task=world.lead))
        assert response.status_code == 303, page
        assert response.headers["location"].startswith("/login?next="), page


def test_nobody_can_act_even_with_a_csrf_token(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    token = csrf(client)
    before = _events(session_factory)
    for path, body in COORDINATOR_ACTIONS:
        response = client.post(path.format(task=world.lead), data={**body, "csrf_token": token})
        assert response.status_code in (303, 401, 403), path
        assert not response.headers.get("location", "").startswith("/desk"), path
    assert _events(session_factory) == before


def test_the_api_needs_a_caller(client: TestClient, world: World) -> None:
    for path in STAFF_API:
        assert client.get(path.format(task=world.lead)).status_code == 401, path
    assert client.get("/api/openapi.json").status_code == 200


# --- supervisor ---------------------------------------------------------------------


def test_a_supervisor_reads_the_dashboard_but_not_the_desk(
    client: TestClient, world: World, login: Callable[[TestClient, str], str]
) -> None:
    login(client, "supervisor")
    for page in STAFF_PAGES:
        assert client.get(page.format(task=world.lead)).status_code == 200, page
    for page in COORDINATOR_PAGES:
        response = client.get(page)
        assert response.status_code == 403, page
        assert "仅限督办科" in response.text
    for path in STAFF_API:
        assert client.get(path.format(task=world.lead)).status_code == 200, path


def test_a_supervisor_cannot_take_a_coordinator_action(
    client: TestClient,
    world: World,
    login: Callable[[TestClient, str], str],
    session_factory: sessionmaker[Session],
) -> None:
    token = login(client, "supervisor")
    before = _events(session_factory)
    for path, body in COORDINATOR_ACTIONS:
        response = client.post(path.format(task=world.lead), data={**body, "csrf_token": token})
        assert response.status_code == 403, path
    assert _events(session_factory) == before
    page = client.get(f"/tasks/{world.lead}").text
    assert "督办科操作" not in page  # no action forms for a supervisor


# --- coordinator --------------------------------------------------------------------


def test_a_coordinator_opens_every_page(
    client: TestClient, world: World, login: Callable[[TestClient, str], str]
) -> None:
    login(client, "coordinator")
    for page in STAFF_PAGES + COORDINATOR_PAGES:
        assert client.get(page.format(task=world.lead)).status_code == 200, page


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_form_without_its_csrf_token_is_refused(
    client: TestClient,
    world: World,
    login: Callable[[TestClient, str], str],
    session_factory: sessionmaker[Session],
    token: str | None,
) -> None:
    login(client, "coordinator")
    before = _events(session_factory)
    for path, body in COORDINATOR_ACTIONS:
        data = dict(body) if token is None else {**body, "csrf_token": token}
        response = client.post(path.format(task=world.lead), data=data)
        assert response.status_code == 403, path
        assert "安全校验码" in response.text
    assert _events(session_factory) == before


def test_the_login_form_needs_its_csrf_token_too(client: TestClient, world: World) -> None:
    response = client.post("/login", data={"username": "coordinator", "password": "x" * 20})
    assert response.status_code == 403


def test_a_wrong_password_is_refused_and_next_stays_on_site(
    client: TestClient, world: World
) -> None:
    token = csrf(client)
    wrong = client.post("/login", data={"username": "coordinator", "password": "nope-nope",
                                         "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.text
    token = csrf(client)
    from tests.web.conftest import PASSWORD

    ok = client.post("/login", data={"username": "coordinator", "password": PASSWORD,
                                      "csrf_token": token, "next": "//evil.example/x"})
    assert ok.status_code == 303 and ok.headers["location"] == "/desk"


def test_logging_out_ends_the_session(
    client: TestClient, world: World, login: Callable[[TestClient, str], str]
) -> None:
    token = login(client, "coordinator")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/desk").status_code == 303


# --- department links ---------------------------------------------------------------


def test_a_department_link_opens_its_own_tasks_only(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    token = link(world.lead)  # 市卫计局: tasks lead and later
    home = client.get(f"/d/{token}")
    assert home.status_code == 200
    assert "珠海市卫生和计划生育局" in home.text
    assert f"/d/{token}/tasks/{world.lead}" in home.text
    assert f"/tasks/{world.support}" not in home.text
    assert client.get(f"/d/{token}/tasks/{world.lead}").status_code == 200
    other = client.get(f"/d/{token}/tasks/{world.support}")
    assert other.status_code == 403 and "不能查看或办理其他单位的任务" in other.text


def test_a_notice_link_leads_to_the_department_page(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    token = link(world.lead)
    response = client.get(f"/tasks/{world.lead}?k={token}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/d/{token}/tasks/{world.lead}"


def test_a_link_of_department_a_cannot_act_on_a_task_of_b(
    client: TestClient,
    world: World,
    link: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    token = link(world.lead)
    form_token = csrf(client, f"/d/{token}/tasks/{world.lead}")
    before = _events(session_factory)
    for action, body in DEPARTMENT_ACTIONS:
        response = client.post(f"/d/{token}/tasks/{world.support}/{action}",
                               data={**body, "csrf_token": form_token})
        assert response.status_code == 403, action
    response = client.get(f"/d/{token}/tasks/{world.support}/files/1")
    assert response.status_code == 403
    assert _events(session_factory) == before


def test_a_department_form_without_csrf_is_refused(
    client: TestClient,
    world: World,
    link: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    token = link(world.lead)
    client.get(f"/d/{token}/tasks/{world.lead}")
    before = _events(session_factory)
    for action, body in DEPARTMENT_ACTIONS:
        response = client.post(f"/d/{token}/tasks/{world.lead}/{action}", data=body)
        assert response.status_code == 403, action
    assert _events(session_factory) == before


def _tamper(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


@pytest.mark.parametrize("kind", ["tampered", "truncated", "expired", "revoked", "garbage"])
def test_a_bad_link_opens_nothing(
    client: TestClient,
    world: World,
    link: Callable[..., str],
    session_factory: sessionmaker[Session],
    kind: str,
) -> None:
    good = link(world.lead)
    if kind == "tampered":
        token, message = _tamper(good), "链接无效"
    elif kind == "truncated":
        token, message = good[: len(good) // 2], "链接无效"
    elif kind == "expired":
        token, message = link(world.lead, now=AS_OF - timedelta(days=121)), "链接已过期"
    elif kind == "revoked":
        token, message = good, "链接已被督办科停用"
        with session_factory() as session:
            from models import Task

            task = session.get(Task, world.lead)
            assert task is not None
            department_id = task.department_id
        revoke_links(department_id, actor="督办科(测试)", now=AS_OF,
                     session_factory=session_factory)
    else:
        token, message = "not-a-token", "链接无效"
    form_token = csrf(client)
    for path in (f"/d/{token}", f"/d/{token}/tasks/{world.lead}"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert message in response.text
    before = _events(session_factory)
    for action, body in DEPARTMENT_ACTIONS:
        response = client.post(f"/d/{token}/tasks/{world.lead}/{action}",
                               data={**body, "csrf_token": form_token})
        assert response.status_code == 403, action
    assert _events(session_factory) == before
    api = client.get("/api/tasks", headers={"X-Duban-Link": token})
    assert api.status_code == 403


def test_a_link_still_valid_within_its_age(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    token = link(world.lead, now=AS_OF - timedelta(days=119))
    assert client.get(f"/d/{token}").status_code == 200


def test_a_department_link_never_reaches_a_coordinator_page(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    token = link(world.lead)
    client.get(f"/d/{token}")  # the browser now has a session cookie, but no user
    for page in STAFF_PAGES + COORDINATOR_PAGES:
        response = client.get(page.format(task=world.lead))
        assert response.status_code == 303, page
        assert response.headers["location"].startswith("/login"), page
    headers = {"X-Duban-Link": token}
    for path in ("/api/measures", "/api/escalations", "/api/deliveries", "/api/scorecard"):
        assert client.get(path, headers=headers).status_code == 403, path
    own = client.get("/api/tasks", headers=headers).json()
    assert {t["department"] for t in own} == {"珠海市卫生和计划生育局"}
    assert client.get(f"/api/tasks/{world.lead}", headers=headers).status_code == 200
    assert client.get(f"/api/tasks/{world.support}", headers=headers).status_code == 403


def test_a_new_password_ends_the_old_sessions(
    client: TestClient,
    world: World,
    login: Callable[[TestClient, str], str],
    session_factory: sessionmaker[Session],
) -> None:
    from duban.services.accounts import add_user

    login(client, "coordinator")
    assert client.get("/desk").status_code == 200
    add_user("coordinator", role="coordinator", password="another-password", now=AS_OF,
             session_factory=session_factory)
    assert client.get("/desk").status_code == 303


def test_repeated_wrong_passwords_lock_the_name_for_a_while(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from duban.web import auth

    monkeypatch.setattr(auth, "_failures", type(auth._failures)(auth._failures.default_factory))
    for _ in range(auth.MAX_FAILURES):
        token = csrf(client)
        response = client.post("/login", data={"username": "supervisor", "password": "guess-1234",
                                               "csrf_token": token})
        assert response.status_code == 401
    token = csrf(client)
    from tests.web.conftest import PASSWORD

    locked = client.post("/login", data={"username": "supervisor", "password": PASSWORD,
                                         "csrf_token": token})
    assert locked.status_code == 429 and "请 15 分钟后再试" in locked.text
