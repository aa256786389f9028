"""The coordinator's landing page is the work queue: counts, lists by urgency,
催办 now for one task or a selection, with no internal ids or command names."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Notice
from tests.db.conftest import World

Login = Callable[[TestClient, str], str]
# What must never show on a staff or department page: internal ids, commands.
LEAKS = re.compile(r"#\d|duban [a-z]|user_add|Prefect|manual_urge|retry_delivery")


def _visible(html: str) -> str:
    """The page's text without tags and attribute values (hrefs hold ids)."""
    return re.sub(r"<[^>]*>", " ", html)


def test_the_desk_lists_work_by_urgency_and_urges_one_or_a_selection(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    form = login(client, "coordinator")
    page = client.get("/desk").text
    # 2015-06-01: nobody acknowledged since 2015-03-02; each row links to its task.
    assert "未签收" in page and "交办 63 个工作日未签收" in page
    for task_id in (world.lead, world.support, world.district, world.later, world.single):
        assert f'href="/tasks/{task_id}"' in page
    assert not LEAKS.search(_visible(page)), LEAKS.search(_visible(page))

    response = client.post("/desk/urge", data={
        "csrf_token": form, "tasks": [str(world.lead), str(world.district)],
        "note": "请尽快签收", "back": "/desk#unacknowledged"})
    assert response.status_code == 303 and response.headers["location"] == "/desk#unacknowledged"
    after = client.get("/desk").text
    assert "已催办 措施8" in after and "今日已催办" in after
    single = client.post("/desk/urge", data={"csrf_token": form, "only": str(world.lead),
                                            "tasks": [str(world.single)]})
    assert "1 项未催办(今天已催办过)" in client.get(single.headers["location"]).text
    with session_factory() as session:
        urged = session.execute(
            select(Notice.task_id, Notice.step, Notice.note, Notice.requested_by)
            .where(Notice.level == 1).order_by(Notice.task_id)
        ).all()
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "urge")).one()
    assert [tuple(r) for r in urged] == [
        (world.lead, "manual_urge@2015-06-01", "请尽快签收", "督办科(coordinator-name)"),
        (world.district, "manual_urge@2015-06-01", "请尽快签收", "督办科(coordinator-name)"),
    ]
    assert audit.subject == "措施8 珠海市卫生和计划生育局、措施8 香洲区"
    audit_page = client.get("/desk/audit").text
    assert "督办科催办" in audit_page and not LEAKS.search(_visible(audit_page))


def test_a_section_in_full_and_who_may_urge(
    client: TestClient, new_client: Callable[[], TestClient], world: World, login: Login
) -> None:
    form = login(client, "coordinator")
    full = client.get("/desk/queue/unacknowledged")
    assert full.status_code == 200 and "未签收(5 项)" in full.text
    assert client.get("/desk/queue/nothing").status_code == 404
    empty = client.post("/desk/urge", data={"csrf_token": form})
    assert "请先选择要催办的任务" in client.get(empty.headers["location"]).text
    task = client.get(f"/tasks/{world.single}").text
    assert 'id="urge-form"' in task and not LEAKS.search(_visible(task))

    supervisor = new_client()
    token = login(supervisor, "supervisor")
    refused = supervisor.post("/desk/urge", data={"csrf_token": token, "only": str(world.lead)})
    assert refused.status_code == 403
    assert client.post("/desk/urge", data={"only": str(world.lead)}).status_code == 403  # CSRF
