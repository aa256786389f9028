"""Promise: a department link opens that department's tasks and nothing else,
only as issued, only while it is valid.

A link is signed; any change to it (a character altered, cut short, or
padding appended after the signature) opens nothing. It expires, and the
coordinator can revoke all of a department's links at once. It never opens a
staff page, and it never acts on another department's task. What it opens is
never kept in a cache (``Cache-Control: no-store``), and the department's
calendar feed links each task back through the same link.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy.orm import Session, sessionmaker

from duban.services.accounts.links import revoke_links
from tests.db.conftest import World
from tests.security.test_roles_and_csrf import COORDINATOR_PAGES, STAFF_PAGES, count_events
from tests.web.conftest import AS_OF, csrf

# Department actions through the link.
DEPARTMENT_ACTIONS = [
    ("ack", {"actor": "张三"}),
    ("report", {"note": "进展顺利"}),
    ("submit", {"note": "已完成"}),
    ("extend", {"new_due": "2016-03-31", "reason": "工程延误"}),
]


def test_a_department_link_opens_its_own_tasks_only(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    token = link(world.lead)  # 市卫计局: tasks lead and later
    home = client.get(f"/d/{token}")
    assert home.status_code == 200
    assert "珠海市卫生和计划生育局" in home.text
    assert f"/d/{token}/tasks/{world.lead}" in home.text
    own = home.text.split('id="supporters"')[0]  # its supporters' tasks: read-only, below
    assert f"/tasks/{world.support}" not in own
    assert client.get(f"/d/{token}/tasks/{world.lead}").status_code == 200
    other = client.get(f"/d/{token}/tasks/{world.single}")  # 市人社局's, measure 9
    assert other.status_code == 403 and "不能查看或办理其他单位的任务" in other.text
    # The one exception, read-only: the measure's lead reads its supporters' tasks
    # (tests/web/test_department_page.py); it acts on none (the test below).
    assert "只读" in client.get(f"/d/{token}/tasks/{world.support}").text


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
    before = count_events(session_factory)
    for action, body in DEPARTMENT_ACTIONS:
        response = client.post(f"/d/{token}/tasks/{world.support}/{action}",
                               data={**body, "csrf_token": form_token})
        assert response.status_code == 403, action
    response = client.get(f"/d/{token}/tasks/{world.support}/files/1")
    assert response.status_code == 403
    assert count_events(session_factory) == before


def test_a_department_form_without_csrf_is_refused(
    client: TestClient,
    world: World,
    link: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    token = link(world.lead)
    client.get(f"/d/{token}/tasks/{world.lead}")
    before = count_events(session_factory)
    for action, body in DEPARTMENT_ACTIONS:
        response = client.post(f"/d/{token}/tasks/{world.lead}/{action}", data=body)
        assert response.status_code == 403, action
    assert count_events(session_factory) == before


def _tamper(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


@pytest.mark.parametrize(
    "kind", ["tampered", "truncated", "padded", "trailing", "expired", "revoked", "garbage"]
)
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
    elif kind == "padded":  # base64 padding after the signature: the signature still checks
        token, message = good + "==", "链接无效"
    elif kind == "trailing":
        token, message = good + "x", "链接无效"
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
    before = count_events(session_factory)
    for action, body in DEPARTMENT_ACTIONS:
        response = client.post(f"/d/{token}/tasks/{world.lead}/{action}",
                               data={**body, "csrf_token": form_token})
        assert response.status_code == 403, action
    assert count_events(session_factory) == before
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
    assert {t["department"] for t in own["items"]} == {"珠海市卫生和计划生育局"}
    assert client.get(f"/api/tasks/{world.lead}", headers=headers).status_code == 200
    assert client.get(f"/api/tasks/{world.support}", headers=headers).status_code == 403


def test_what_a_link_opens_is_never_cached(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    token = link(world.lead)
    for path in (f"/tasks/{world.lead}?k={token}", f"/d/{token}",
                 f"/d/{token}/tasks/{world.lead}", f"/d/{token}/calendar.ics"):
        response = client.get(path)
        assert response.status_code in (200, 303), path
        assert response.headers["cache-control"] == "no-store", path


def test_the_calendar_feed_links_each_task_through_the_same_link(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    token = link(world.lead)
    feed = Calendar.from_ical(client.get(f"/d/{token}/calendar.ics").content)
    urls = {str(event.get("url")) for event in feed.walk("VEVENT")}
    assert urls and all(url.endswith(f"?k={token}") for url in urls)
    opened = client.get(next(iter(urls)).removeprefix("http://duban.test"))
    assert opened.status_code == 303
    assert client.get(opened.headers["location"]).status_code == 200
