"""The desk's plan pages: upload → review (warnings beside their source line)
→ edit departments and dates → check → import → assign one measure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Measure, Plan, Target, Task
from tests.db.conftest import World
from tests.paths import REFERENCE_PLAN

Login = Callable[[TestClient, str], str]


def test_a_plan_is_uploaded_reviewed_edited_imported_and_assigned(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    form = login(client, "coordinator")
    response = client.post(
        "/desk/plans/upload",
        data={"csrf_token": form},
        files={"file": (REFERENCE_PLAN.name, REFERENCE_PLAN.read_bytes(), "text/plain")},
    )
    assert response.status_code == 303
    review_url = response.headers["location"]
    assert review_url.startswith("/desk/plans/drafts/")
    page = client.get(review_url).text
    assert "已解析:30 项措施" in page
    assert "第34行:措施1“重大意义”没有责任分工" in page  # the warning and its line
    assert "一、加强社会建设的重大意义和总体要求" in page  # the source line itself
    assert 'name="lead-5" value="市教育局"' in page

    edits = {"csrf_token": form, "lead-5": "市教育局、市人社局", "due-5-0": "2019-12-31"}
    client.post(review_url, data={**edits, "do": "save"})
    page = client.get(review_url).text
    assert 'value="市教育局、市人社局"' in page and 'value="2019-12-31"' in page

    checked = client.post(review_url, data={**edits, "do": "check"})
    assert "检查通过(未写入)" in client.get(checked.headers["location"]).text
    with session_factory() as session:
        assert session.scalar(select(Plan).where(Plan.key == "珠委办201423")) is None

    imported = client.post(review_url, data={**edits, "do": "import"})
    assert imported.headers["location"] == "/desk/plans"
    assert "已导入" in client.get("/desk/plans").text
    assert client.get(review_url).status_code == 404  # the draft is gone once imported
    with session_factory() as session:
        plan = session.scalars(select(Plan).where(Plan.key == "珠委办201423")).one()
        measure = session.scalars(
            select(Measure).where(Measure.plan_id == plan.id, Measure.number == 5)
        ).one()
        assert [r.named_as for r in measure.responsibilities if r.role == "lead"] == [
            "市教育局", "市人社局"]
        dues = session.scalars(select(Target.due).where(Target.measure_id == measure.id)).all()
        assert dues == [date(2019, 12, 31)]
        assert session.scalars(select(AuditEntry.action)).all() == ["import_plan"]

    assigned = client.post("/desk/assign", data={"csrf_token": form, "plan": "珠委办201423",
                                                  "measure": "5"})
    assert "措施5:新交办" in client.get(assigned.headers["location"]).text
    with session_factory() as session:
        leads = session.scalars(
            select(Task.named_as).where(Task.measure_id == measure.id, Task.role == "lead")
        ).all()
    assert sorted(leads) == ["市人社局", "市教育局"]
    again = client.post("/desk/assign", data={"csrf_token": form, "plan": "珠委办201423",
                                               "measure": "5"})
    assert "新交办 0 项" in client.get(again.headers["location"]).text


def test_a_file_that_is_not_a_plan_is_refused_in_chinese(
    client: TestClient, world: World, login: Login
) -> None:
    form = login(client, "coordinator")
    response = client.post("/desk/plans/upload", data={"csrf_token": form},
                           files={"file": ("空.txt", b"", "text/plain")})
    assert response.headers["location"] == "/desk/plans"
    assert "无法解析" in client.get("/desk/plans").text


def test_a_bad_date_in_review_is_named(client: TestClient, world: World, login: Login) -> None:
    form = login(client, "coordinator")
    response = client.post(
        "/desk/plans/upload", data={"csrf_token": form},
        files={"file": (REFERENCE_PLAN.name, REFERENCE_PLAN.read_bytes(), "text/plain")},
    )
    review_url = response.headers["location"]
    bad = client.post(review_url, data={"csrf_token": form, "due-5-0": "2019-13-45", "do": "save"})
    assert "措施5 第1个目标的日期“2019-13-45”无效" in client.get(bad.headers["location"]).text
    assert client.get("/desk/plans/drafts/not-an-id").status_code == 404
