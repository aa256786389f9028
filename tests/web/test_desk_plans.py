"""The desk's plan pages: upload → review (each measure beside its marked
source, warnings at the top) → correct units and targets → resolve unknown
names → check → import → assign; refused edits name the measure and field and
change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Department, DepartmentAlias, Measure, Plan, Target, Task
from tests.db.conftest import World
from tests.paths import REFERENCE_PLAN
from tests.web.forms import read_form

Login = Callable[[TestClient, str], str]

SMALL_PLAN = """\
珠海市数字政府建设工作方案
珠府办〔2025〕5号

一、数字政府
1.建设政务数据平台。到2026年6月底前，建成全市统一的政务数据共享平台，数据共享率达到90%以上。（市数据局牵头，市卫计委、市政数局、各相关单位配合）
2.推进一网通办。政务服务事项网上可办率不低于95%。（市政务服务局牵头，市财政局配合）
3.总体要求。坚持统筹规划，分步实施，确保各项任务落到实处。
"""


def upload(client: TestClient, csrf: str, name: str, data: bytes) -> str:
    response = client.post("/desk/plans/upload", data={"csrf_token": csrf},
                           files={"file": (name, data, "text/plain")})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/desk/plans/drafts/"), client.get(location).text
    return str(location)


def draft_files(data_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in (data_dir / "drafts").iterdir()}


def plan_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Plan)) or 0


def test_a_plan_is_uploaded_reviewed_edited_imported_and_assigned(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    csrf = login(client, "coordinator")
    review_url = upload(client, csrf, REFERENCE_PLAN.name, REFERENCE_PLAN.read_bytes())
    page = client.get(review_url).text
    assert "已解析:30 项措施" in page
    # Each measure beside its source paragraph, the clause and targets marked.
    assert '<section class="card measure-review' in page and 'id="m5"' in page
    assert '<mark class="clause">市教育局牵头' in page
    assert '<mark class="target">' in page
    # Warnings at the top link to their measure.
    assert '<a href="#m1">措施1</a>' in page and "“重大意义”没有牵头单位" in page

    form = read_form(page, "review-form")
    assert form["m5-lead"] == ["市教育局", ""]
    assert form["m5-t0-due"] == ["2020-12-31"]
    form["m5-lead"] = ["市教育局", "市人社局"]
    form["m5-supporting"] = ["市财政局、香洲区"]
    form["m5-t0-due"] = ["2019-12-31"]
    form["m5-t0-comparator"], form["m5-t0-value"], form["m5-t0-unit"] = [">="], ["95"], ["%"]
    form["m5-t0-indicator"] = ["义务教育巩固率"]
    form["m5-t1-text"] = ["建成智慧校园"]  # the blank row: a new target
    form["m5-t1-due"] = ["2018-06-30"]
    client.post(review_url, data={**form, "do": "save"})
    page = client.get(review_url).text
    assert "修改已保存(尚未导入)" in page
    form = read_form(page, "review-form")
    assert form["m5-lead"] == ["市教育局", "市人社局", ""]
    assert form["m5-supporting"] == ["市财政局", "香洲区", ""]
    assert form["m5-t1-text"] == ["建成智慧校园"] and form["m5-t1-due"] == ["2018-06-30"]

    form["m5-t1-remove"] = ["on"]  # and remove it again
    checked = client.post(review_url, data={**form, "do": "check"})
    assert "检查通过(未写入)" in client.get(checked.headers["location"]).text
    assert plan_count(session_factory) == 1  # only the seeded world's

    imported = client.post(review_url, data={**form, "do": "import"})
    assert imported.headers["location"] == "/desk/plans#assign"
    assert "已导入" in client.get("/desk/plans").text
    assert client.get(review_url).status_code == 404  # the draft is gone once imported
    with session_factory() as session:
        plan = session.scalars(select(Plan).where(Plan.key == "珠委办201423")).one()
        measure = session.scalars(
            select(Measure).where(Measure.plan_id == plan.id, Measure.number == 5)
        ).one()
        roles = [(r.role, r.named_as) for r in sorted(measure.responsibilities,
                                                      key=lambda r: (r.role, r.position))]
        assert roles == [("lead", "市教育局"), ("lead", "市人社局"),
                         ("supporting", "市财政局"), ("supporting", "香洲区")]
        targets = session.scalars(select(Target).where(Target.measure_id == measure.id)).all()
        assert [(t.due, t.comparator, t.value, t.unit, t.indicator) for t in targets] == [
            (date(2019, 12, 31), ">=", 95.0, "%", "义务教育巩固率")]
        assert session.scalars(select(AuditEntry.action)).all() == ["import_plan"]

    assigned = client.post("/desk/assign", data={"csrf_token": csrf, "plan": "珠委办201423",
                                                  "measure": "5"})
    assert "措施5:新交办" in client.get(assigned.headers["location"]).text
    with session_factory() as session:
        leads = session.scalars(
            select(Task.named_as).where(Task.measure_id == measure.id, Task.role == "lead")
        ).all()
    assert sorted(leads) == ["市人社局", "市教育局"]


def test_bad_edits_name_the_measure_and_field_and_change_nothing(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session],
    web_settings: object,
) -> None:
    csrf = login(client, "coordinator")
    response = client.post("/desk/plans/upload", data={"csrf_token": csrf},
                           files={"file": ("空.txt", b"", "text/plain")})
    assert response.headers["location"] == "/desk/plans"
    assert "无法解析" in client.get("/desk/plans").text
    review_url = upload(client, csrf, "plan.txt", SMALL_PLAN.encode())
    data_dir = web_settings.data_dir  # type: ignore[attr-defined]
    before = draft_files(data_dir)
    form = read_form(client.get(review_url).text, "review-form")
    form["m2-lead"] = [""]  # supporting without a lead
    form["m1-t0-due"] = ["2026-02-30"]
    form["m1-t0-value"] = ["九十"]
    form["m2-t0-comparator"] = [""]  # value without comparator
    form["u0-do"], form["u0-department"] = ["pick"], ["市不存在局"]
    form["m1-t0-text"] = ["改过的原文"]  # a valid change in the same refused form
    assert client.get("/desk/plans/drafts/not-an-id").status_code == 404
    for do in ("save", "import"):
        response = client.post(review_url, data={**form, "do": do})
        assert response.status_code == 400
        page = response.text
        assert "未保存:有 5 处需要修改" in page
        assert '<a href="#m1-t0-due">措施1 目标1 截止日期:“2026-02-30”不是有效日期' in page
        assert "措施1 目标1 数值:“九十”不是数字" in page
        assert "措施2 牵头单位:列有配合单位但没有牵头单位" in page
        assert "措施2 目标1 比较:填了数值,请选择比较方式" in page
        assert "“市数据局”改为“市不存在局”:“市不存在局”不在机构目录中" in page
        assert "改过的原文" in page  # the input is kept for correction
        assert draft_files(data_dir) == before
    assert plan_count(session_factory) == 1

    # Many unknown names at once: the rest left at 暂不处理 become units of one kind.
    form = read_form(client.get(review_url).text, "review-form")
    form["create_rest"], form["rest_kind"] = ["on"], ["district"]
    client.post(review_url, data={**form, "do": "save"})
    page = client.get(review_url).text
    assert page.count("新建为区(功能区)") == 3 and "目录中没有的单位(0 个)" in page


def test_warnings_and_unknown_names_are_resolved_then_the_plan_is_imported_and_assigned(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    csrf = login(client, "coordinator")
    review_url = upload(client, csrf, "plan.txt", SMALL_PLAN.encode())
    page = client.get(review_url).text
    assert "珠府办〔2025〕5号 · 3 项措施" in page  # the 文号 as printed
    # Warnings at the top, each linking to its measure.
    assert "需要核对(6 条)" in page
    for text in ("“各相关单位”未指明具体单位", "目标“政务服务事项网上可办率不低于95%”没有时限",
                 "“总体要求”没有牵头单位,导入后不会交办", "“市数据局”不在机构目录中"):
        assert text in page
    assert page.count('<a href="#m1">措施1</a>') >= 4 and '<a href="#m3">措施3</a>' in page
    form = read_form(page, "review-form")
    form["ack"] = [k for k in _ack_keys(page) if k.startswith("vague_department")]
    form["m2-t0-due"] = ["2026-12-31"]  # gives the undated target a date
    client.post(review_url, data={**form, "do": "save"})
    page = client.get(review_url).text
    assert "需要核对(4 条)" in page and "已核对 1 条" in page
    assert "没有时限" not in page

    assert "目录中没有的单位(3 个)" in page
    form = read_form(page, "review-form")
    names = {form[f"u{i}-name"][0]: i for i in range(3)}
    assert set(names) == {"市数据局", "市卫计委", "市政数局"}
    assert form[f"u{names['市卫计委']}-department"] == ["市卫计局"]  # a close match is offered

    # Importing with names unresolved is refused before anything is written.
    refused = client.post(review_url, data={**form, "do": "import"})
    assert "请先在“目录中没有的单位”里选择" in client.get(refused.headers["location"]).text
    assert plan_count(session_factory) == 1

    form = read_form(client.get(review_url).text, "review-form")
    names = {form[f"u{i}-name"][0]: i for i in range(3)}
    u = {name: f"u{i}-" for name, i in names.items()}
    form[u["市数据局"] + "do"], form[u["市数据局"] + "kind"] = ["create"], ["party"]
    form[u["市卫计委"] + "do"] = ["alias"]
    form[u["市政数局"] + "do"], form[u["市政数局"] + "department"] = ["pick"], ["市政务服务局"]
    client.post(review_url, data={**form, "do": "save"})
    page = client.get(review_url).text
    assert "目录中没有的单位(0 个)" in page
    assert "“市数据局”:新建为党委部门" in page
    assert "“市卫计委”:记为“珠海市卫生和计划生育局”的别名" in page
    assert read_form(page, "review-form")["m1-supporting"] == ["市卫计委", "市政务服务局", ""]
    with session_factory() as session:  # nothing written before the import
        assert session.scalar(select(Department).where(Department.name == "市数据局")) is None

    imported = client.post(review_url, data={**read_form(page, "review-form"), "do": "import"})
    assert imported.headers["location"] == "/desk/plans#assign"
    assert "新建单位 市数据局;新增别名 市卫计委=珠海市卫生和计划生育局" in client.get(
        "/desk/plans").text
    with session_factory() as session:
        created = session.scalars(select(Department).where(Department.name == "市数据局")).one()
        assert created.kind == "party"
        alias = session.scalars(
            select(DepartmentAlias).where(DepartmentAlias.alias == "市卫计委")
        ).one()
        assert alias.department.name == "珠海市卫生和计划生育局"
        entry = session.scalars(select(AuditEntry)).one()
        assert entry.data == {"status": "created", "created_departments": ["市数据局"],
                              "created_aliases": ["市卫计委=珠海市卫生和计划生育局"]}

    with session_factory() as session:
        key = session.scalars(
            select(Plan.key).where(Plan.title == "珠海市数字政府建设工作方案")
        ).one()
    assert key == "珠府办〔2025〕5号"  # the plan key keeps the printed brackets
    everything = client.post("/desk/plans/assign-all", data={"csrf_token": csrf, "plan": key})
    text = client.get(everything.headers["location"]).text
    assert "已交办 2 项措施:新交办 5 项任务,已存在 0 项。未交办(没有牵头单位):措施3。" in text
    with session_factory() as session:
        tasks = session.execute(
            select(Measure.number, Department.name, Task.role, Task.deadline)
            .join(Measure, Measure.id == Task.measure_id)
            .join(Department, Department.id == Task.department_id)
            .where(Measure.plan_id != world.plan_id)
            .order_by(Measure.number, Task.role, Department.name)
        ).all()
    assert [tuple(t) for t in tasks] == [
        (1, "市数据局", "lead", date(2026, 6, 30)),
        (1, "珠海市卫生和计划生育局", "supporting", date(2026, 6, 30)),
        (1, "珠海市政务服务管理局", "supporting", date(2026, 6, 30)),
        (2, "珠海市政务服务管理局", "lead", date(2026, 12, 31)),
        (2, "珠海市财政局", "supporting", date(2026, 12, 31)),
    ]


def _ack_keys(page: str) -> list[str]:
    import re

    return re.findall(r'name="ack" value="([^"]+)"', page)


LATE_PLAN = (
    "关于推进社区治理的实施方案(测试)\n珠委办〔2015〕31号\n\n一、重点任务\n"
    "1.完善社区服务。2015年5月底前,社区综合服务设施全覆盖。(市民政局牵头)\n"
)


def test_a_task_already_late_is_assigned_only_once_the_coordinator_confirms(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    from duban.domain.plan_parser import parse_plan
    from duban.services.plans.importer import import_plan

    draft = parse_plan(LATE_PLAN, known=lambda name: True, source_name="late.txt")
    key = import_plan(draft, session_factory=session_factory).key
    csrf = login(client, "coordinator")
    page = client.get("/desk/plans").text
    assert 'name="accept_past"' in page
    refused = client.post("/desk/plans/assign-all", data={"csrf_token": csrf, "plan": key})
    text = client.get(refused.headers["location"]).text
    assert "未交办:以下任务的完成时限在交办时已过或临近" in text and "2015-05-29已过" in text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Task).join(Measure).where(
            Measure.plan_id != world.plan_id)) == 0
    confirmed = client.post("/desk/assign", data={"csrf_token": csrf, "plan": key,
                                                   "measure": "1", "accept_past": "1"})
    assert "措施1:新交办 1 项" in client.get(confirmed.headers["location"]).text
    with session_factory() as session:
        task = session.scalars(select(Task).join(Measure).where(
            Measure.plan_id != world.plan_id)).one()
        assert task.deadline == date(2015, 5, 31) and task.due == date(2015, 6, 23)
