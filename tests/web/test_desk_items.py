"""Single 督办件 on the desk: a refused form names each field and writes
nothing; a good one becomes the year's standing-plan measure, is assigned at
once, and its source and 文号 show on the task page and the dashboard."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Measure, Plan, Task
from tests.db.conftest import World

Login = Callable[[TestClient, str], str]

ITEM = {
    "source": "领导批示", "doc_ref": "市府办批〔2015〕7号", "leader": "张市长",
    "text": "请市民政局牵头,9月底前完成全市养老床位摸底。", "title": "",
    "lead": "市民政局", "supporting": "市财政局、各区", "due": "2015-09-30", "assign": "on",
}


def test_a_coordinator_records_an_item_by_form_and_it_is_assigned(
    client: TestClient, new_client: Callable[[], TestClient], world: World, login: Login,
    session_factory: sessionmaker[Session],
) -> None:
    csrf = login(client, "coordinator")
    assert "登记督办件" in client.get("/desk/items").text

    bad = client.post("/desk/items", data={**ITEM, "csrf_token": csrf, "source": "",
                                           "lead": "市民政局、市不存在局", "due": "2015-05-31"})
    assert bad.status_code == 400
    assert "未登记:有 3 处需要修改" in bad.text
    assert '<a href="#item-source">来源:请选择' in bad.text
    assert "牵头单位:“市不存在局”不在机构目录中" in bad.text
    assert "办理期限:2015-05-31 早于今天(2015-06-01)" in bad.text
    assert "请市民政局牵头,9月底前完成全市养老床位摸底。" in bad.text  # input kept
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Plan)) == 1

    done = client.post("/desk/items", data={**ITEM, "csrf_token": csrf})
    assert done.status_code == 303
    page = client.get("/desk/items").text
    assert "已登记督办件:2015年督办件 措施1 请市民政局牵头,9月底前完成全市养老床位摸底。" in page
    assert "领导批示 · 市府办批〔2015〕7号 · 张市长批示" in page
    with session_factory() as session:
        measure = session.scalars(select(Measure).join(Plan)
                                  .where(Plan.key == "2015年督办件")).one()
        tasks = session.scalars(select(Task).where(Task.measure_id == measure.id)).all()
        assert {t.named_as for t in tasks if t.role == "lead"} == {"市民政局"}
        assert len(tasks) > 3  # the lead, 市财政局 and every district
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "add_item" in actions
    task_page = client.get(f"/tasks/{tasks[0].id}").text
    assert "<dt>来源</dt><dd>领导批示 · 市府办批〔2015〕7号 · 张市长批示</dd>" in task_page
    board = client.get("/dashboard", params={"plan": "2015年督办件"}).text
    assert "领导批示 · 市府办批〔2015〕7号 · 张市长批示" in board
    assert "登记督办件" in client.get("/desk/audit").text

    # A supervisor reads but may not record.
    other = new_client()
    token = login(other, "supervisor")
    assert other.post("/desk/items", data={**ITEM, "csrf_token": token}).status_code == 403
