"""Promise: each role opens and does only what it may, and no form is sent
on a user's behalf from elsewhere.

Roles: nobody (no session, no link), a supervisor (督查室, reads), a
coordinator (督办科, reads and acts); a department by its signed link is in
``test_department_links.py``. Every route for every role, on SQLite and
PostgreSQL. Every POST also needs the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import TaskEvent
from tests.db.conftest import World
from tests.web.conftest import csrf

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
STAFF_API = ["/api/tasks", "/api/tasks/{task}", "/api/measures", "/api/escalations",
             "/api/deliveries", "/api/scorecard"]


def count_events(session_factory: sessionmaker[Session]) -> int:
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
    before = count_events(session_factory)
    for path, body in COORDINATOR_ACTIONS:
        response = client.post(path.format(task=world.lead), data={**body, "csrf_token": token})
        assert response.status_code in (303, 401, 403), path
        assert not response.headers.get("location", "").startswith("/desk"), path
    assert count_events(session_factory) == before


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
    before = count_events(session_factory)
    for path, body in COORDINATOR_ACTIONS:
        response = client.post(path.format(task=world.lead), data={**body, "csrf_token": token})
        assert response.status_code == 403, path
    assert count_events(session_factory) == before
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
    before = count_events(session_factory)
    for path, body in COORDINATOR_ACTIONS:
        data = dict(body) if token is None else {**body, "csrf_token": token}
        response = client.post(path.format(task=world.lead), data=data)
        assert response.status_code == 403, path
        assert "安全校验码" in response.text
    assert count_events(session_factory) == before
