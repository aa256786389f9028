"""The pages in a real browser: Debian's chromium, headless, driven by
Playwright, against a ``duban serve`` subprocess on 127.0.0.1.

A department opens its link (on a phone-sized screen), acknowledges, reports
and submits with an attachment; a coordinator signs in and approves; a
supervisor filters the dashboard to red measures, drills down to a red measure's
units (both widths) and reads the escalation log and the scorecard;
a coordinator takes a Word plan from upload through review to assigned tasks
and records a single 督办件 (last: it adds plans to the served database).
Screenshots of every page go to ``test-artifacts/screenshots/``.

Skipped (with the reason) only when /usr/bin/chromium is missing outside CI;
in CI (``CI`` set) a missing browser is a failure.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.cli.demo import demo_org
from duban.config import Settings
from duban.db import engine_for_url, make_session_factory
from duban.domain.org import parse_org
from duban.ops.mail_sink import MailSink, free_port
from duban.services.accounts.directory import load_directory_file, sync_directory
from duban.services.accounts.links import LinkSigner, task_link
from duban.services.accounts.org_file import sync_org
from duban.services.accounts.staff import add_user
from duban.services.rounds.daily import replay
from duban.wiring import AppContext
from models import Department, Measure, Plan, Task
from notifications.send import validate_url
from tests.db.conftest import REIMBURSEMENT, World, at, seed_world
from tests.documents.render import write_docx
from tests.web.screens import Viewer, password_sign_in, serve, shot

SERVE_AS_OF = "2016-01-20T10:00"
SECRET = "browser-test-secret"
PASSWORD = "browser-test-password"


@dataclass
class Server:
    base: str
    world: World
    settings: Settings
    session_factory: sessionmaker[Session]


def _seed(settings: Settings, session_factory: sessionmaker[Session]) -> World:
    """The seeded world, two accounts, contacts on a mail sink and the reminder
    rounds from December 2015 to the serving day, so the log has escalations."""
    sync_directory(load_directory_file(settings.directory_file), session_factory=session_factory)
    world = seed_world(session_factory)
    add_user("dbk", role="coordinator", password=PASSWORD, display_name="张科长",
             now=at("2015-03-02"), session_factory=session_factory)
    add_user("dcs", role="supervisor", password=PASSWORD, display_name="李主任",
             now=at("2015-03-02"), session_factory=session_factory)
    with session_factory.begin() as session:
        session.execute(update(Task).values(next_action_at=at("2015-12-01")))
    context = AppContext(settings)
    with MailSink() as sink:
        org = parse_org(demo_org(settings, sink), source="test", check_url=validate_url)
        sync_org(org, session_factory=session_factory, now=at("2015-12-01"))
        with context.sender() as sender:
            tools = context.round_tools(sender=sender, worker="test")
            replay(session_factory, start=date(2015, 12, 1), end=date(2016, 1, 20), tools=tools)
    return world


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser")
    database = folder / "duban.db"
    shutil.copyfile(sqlite_template, database)
    port = free_port()
    settings = Settings(data_dir=folder / "data", database_url=f"sqlite:///{database}",
                        secret_key=SECRET, base_url=f"http://127.0.0.1:{port}")
    engine = engine_for_url(settings.database_url)
    session_factory = make_session_factory(engine)
    world = _seed(settings, session_factory)
    try:
        with serve(settings, as_of=SERVE_AS_OF, port=port) as base:
            yield Server(base, world, settings, session_factory)
    finally:
        engine.dispose()


def _sign_in(page: Page, base: str, username: str) -> None:
    password_sign_in(username, PASSWORD)(page, base)


def test_a_department_acts_from_its_link_and_a_coordinator_approves(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    with server.session_factory() as session:
        task = session.get(Task, server.world.lead)
        assert task is not None
        signer = LinkSigner.from_settings(server.settings)
        link = task_link(session, task, base_url=server.base, now=at("2016-01-20"),
                         signer=signer)
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(link)
    assert "/d/" in phone.url
    assert "保障和改善民生" in phone.content()
    assert "牵头" in phone.content() and "珠海市民政局" in phone.content()
    shot(phone, "department-1-task")
    phone.fill("#ack-form input[name=actor]", "张联络")
    phone.click("#ack-form button")
    phone.wait_for_selector("text=已签收。")
    phone.click("#actions summary:has-text('进度反馈')")
    phone.fill("#report-form textarea[name=note]", "住院报销比例已达 72%")
    phone.fill(f"#report-form input[name='value:{REIMBURSEMENT}']", "72")
    phone.click("#report-form button")
    phone.wait_for_selector("text=进度已报送。")
    shot(phone, "department-2-reported")
    evidence = tmp_path / "验收材料.txt"
    evidence.write_text("验收通过", encoding="utf-8")
    phone.click("#actions summary:has-text('报结')")
    phone.fill("#submit-form textarea[name=note]", "已完成,附验收材料")
    phone.set_input_files("#submit-form input[type=file]", str(evidence))
    phone.click("#submit-form button")
    phone.wait_for_selector("text=已报结,等待督办科审核。")
    assert "验收材料.txt" in phone.content()
    shot(phone, "department-3-submitted")
    phone.goto(phone.url.split("/tasks/")[0])
    shot(phone, "department-4-list")

    desk = browser.new_page(viewport={"width": 1366, "height": 768})
    _sign_in(desk, server.base, "dbk")
    desk.wait_for_url("**/desk")
    assert "已完成,附验收材料" in desk.content()
    shot(desk, "coordinator-1-desk")
    desk.click(f"#submissions form[action='/desk/tasks/{server.world.lead}/approve'] button")
    desk.wait_for_selector("text=已办结:措施")
    shot(desk, "coordinator-2-approved")
    desk.goto(f"{server.base}/tasks/{server.world.lead}")
    content = desk.content()
    assert "督办科(张科长)" in content and "珠海市卫生和计划生育局(张联络)" in content
    shot(desk, "coordinator-3-task")
    desk.goto(f"{server.base}/desk/deliveries")
    shot(desk, "coordinator-4-deliveries")


def test_a_supervisor_filters_to_red_and_reads_the_escalation_log(
    server: Server, browser: Browser
) -> None:
    viewer = Viewer.open(browser, server.base, sign_in=password_sign_in("dcs", PASSWORD))
    assert viewer.desktop.url.endswith("/dashboard")
    viewer.look("/dashboard", "supervisor-1-dashboard")
    page = viewer.desktop
    page.select_option("#measure-filters select[name=light]", "red")
    page.click("#measure-filters button[type=submit]")
    page.wait_for_url("**light=red**")
    lights = page.locator("table.measures tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.light)"
    )
    assert lights and set(lights) == {"red"}
    viewer.look(page.url, "supervisor-2-red")
    # Drill down: a red measure's page names each unit's task, its light and why,
    # at both widths; its 逾期 count lists exactly that many tasks.
    red = page.url
    for window in viewer.pages:
        window.goto(red)
        window.click("table.measures tbody tr[data-light=red] td.m-title a")
        window.wait_for_url("**/dashboard/measures/**")
        assert window.locator("li.unit[data-light=red] .why").count() > 0
    viewer.snap("supervisor-3-measure")
    assert "香洲区" in page.content() and "已逾期" in page.content()
    page.go_back()
    overdue = page.locator("table.measures tbody tr[data-light=red] a.bad").first
    expected = int(overdue.inner_text().split()[0])
    overdue.click()
    page.wait_for_url("**show=overdue**")
    assert page.locator("li.unit").count() == expected
    page.click("nav >> text=督办记录")
    page.wait_for_url("**/dashboard/escalations")
    rows = page.locator("table.list tbody tr")
    assert rows.count() > 0
    text = page.content()
    assert "督办(红色督办单,约谈)" in text and "已送达" in text
    viewer.look(page.url, "supervisor-4-escalations")
    page.select_option("#escalation-filters select[name=level]", "3")
    page.click("#escalation-filters button[type=submit]")
    page.wait_for_url("**level=3**")
    viewer.look(page.url, "supervisor-5-escalations-red")
    page.click("nav >> text=单位考核")
    viewer.look(page.url, "supervisor-6-scorecard")
    assert page.locator("table.score tbody tr").count() > 0
    assert "计分规则" in page.content() and page.locator("#department-chart svg").count() == 1
    # A unit's own page: its tasks of every plan and its charts, from the scorecard.
    page.click("table.score tbody a >> text=香洲区")
    page.wait_for_url("**/dashboard/units?name=**")
    assert page.locator("#charts svg").count() == 2 and page.locator("li.unit").count() > 0
    viewer.look(page.url, "supervisor-7-unit")


WORD_PLAN = """\
珠海市数字政府建设工作方案
珠府办〔2025〕5号
一、数字政府
1.建设政务数据平台。到2026年6月底前，建成全市统一的政务数据共享平台，数据共享率达到90%以上。（市数据局牵头，市卫计委、市政数局、各相关单位配合）
2.推进一网通办。政务服务事项网上可办率不低于95%。（市政务服务局牵头，市财政局配合）
3.总体要求。坚持统筹规划，分步实施，确保各项任务落到实处。
"""


def test_a_coordinator_takes_a_word_plan_from_upload_to_assigned_tasks(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    """Review at 1280 and 390 px: each measure beside its marked source and its
    provenance; unknown names resolved, units and targets corrected with the
    page's own controls (rows added in place), a bad value refused with the
    field named and the input kept; imported, every measure assigned; then a
    single 督办件 recorded by form."""
    document = write_docx(WORD_PLAN, tmp_path / "数字政府建设工作方案.docx")
    viewer = Viewer.open(browser, server.base, sign_in=password_sign_in("dbk", PASSWORD))
    page = viewer.desktop
    page.goto(f"{server.base}/desk/plans")
    page.set_input_files("form[action='/desk/plans/upload'] input[type=file]", str(document))
    page.click("form[action='/desk/plans/upload'] button[type=submit]")
    page.wait_for_url("**/desk/plans/drafts/**")
    desktop, phone = viewer.look(page.url, "plan-review")
    text = desktop.inner_text("main")
    assert "需要核对(6 条)" in text and "目录中没有的单位(3 个)" in text
    clause = desktop.locator("#m1 .source mark.clause").first.inner_text()
    assert clause.startswith("市数据局牵头")
    assert desktop.locator("#m1 .source .ln").first.inner_text().endswith("段")  # provenance
    assert phone.locator("#m1 .source mark.target").first.is_visible()

    # Unknown names: create one (a 党委部门), alias one, replace one.
    names = [page.locator(f"#u{i}-choice legend").inner_text().split("”")[0].lstrip("“")
             for i in range(3)]
    u = {name: f"#u{i}-choice" for i, name in enumerate(names)}
    page.check(f"{u['市数据局']} input[value=create]")
    page.select_option(f"{u['市数据局']} select", "party")
    page.check(f"{u['市卫计委']} input[value=alias]")
    page.check(f"{u['市政数局']} input[value=pick]")
    page.fill(f"{u['市政数局']} input[name$=department]", "市政务服务局")
    # Measure 2: another supporting unit in a row added in place, and a date.
    page.click("#m2-supporting .add-row")
    page.locator("#m2-supporting .unit-row input").last.fill("市人社局")
    page.fill("#m2-t0-due", "2026-12-31")
    # Measure 1: a second target through its button, first with a bad value.
    assert not page.locator("#m1-t1-text").is_visible()  # the blank row waits folded
    page.click("#m1-targets .add-row")
    page.fill("#m1-t1-text", "建成全市数据共享交换平台")
    page.fill("#m1-t1-due", "2026-03-31")
    page.select_option("#m1-t1-comparator", ">=")
    page.fill("#m1-t1-value", "九十")
    page.click("#review-form button[value=save]")
    assert "措施1 目标2 数值:“九十”不是数字" in page.inner_text("#errors")
    assert page.input_value("#m1-t1-text") == "建成全市数据共享交换平台"  # the input is kept
    shot(page, "plan-review-refused-1280")
    page.fill("#m1-t1-value", "95")
    page.click("#review-form button[value=save]")
    page.wait_for_selector("text=修改已保存(尚未导入)")
    assert "目录中没有的单位(0 个)" in page.inner_text("#unknown")

    page.click("#review-form button[value=import]")
    page.wait_for_url("**/desk/plans#assign")
    assert "新建单位 市数据局" in page.inner_text("main")
    page.select_option("form[action='/desk/plans/assign-all'] select",
                       label="珠海市数字政府建设工作方案")
    page.click("form[action='/desk/plans/assign-all'] button")
    page.wait_for_selector("text=已交办 2 项措施")

    page.goto(f"{server.base}/desk/items")
    page.select_option("select[name=source]", "领导批示")
    page.fill("input[name=doc_ref]", "市府办批〔2016〕12号")
    page.fill("input[name=leader]", "张市长")
    page.fill("textarea[name=text]", "请市卫计局牵头研究解决社区医院夜间门诊不足问题。")
    page.fill("input[name=lead]", "市卫计局")
    page.fill("input[name=due]", "2016-06-30")
    page.click("#item-form button[type=submit]")
    page.wait_for_selector("text=已登记督办件:2016年督办件 措施1")
    viewer.close()

    with server.session_factory() as session:
        rows = session.execute(
            select(Plan.title, Measure.number, Task.deadline, Department.name, Task.role)
            .join(Measure, Measure.id == Task.measure_id).join(Plan, Plan.id == Measure.plan_id)
            .join(Department, Department.id == Task.department_id)
            .where(Plan.id != server.world.plan_id)
            .order_by(Plan.id, Measure.number, Task.deadline, Task.role, Department.name)
        ).all()
    assert [tuple(r[1:]) for r in rows if r[0] != "2016年督办件"] == [
        (1, date(2026, 3, 31), "市数据局", "lead"),
        (1, date(2026, 3, 31), "珠海市卫生和计划生育局", "supporting"),
        (1, date(2026, 3, 31), "珠海市政务服务管理局", "supporting"),
        (1, date(2026, 6, 30), "市数据局", "lead"),
        (1, date(2026, 6, 30), "珠海市卫生和计划生育局", "supporting"),
        (1, date(2026, 6, 30), "珠海市政务服务管理局", "supporting"),
        (2, date(2026, 12, 31), "珠海市政务服务管理局", "lead"),
        (2, date(2026, 12, 31), "珠海市人力资源和社会保障局", "supporting"),
        (2, date(2026, 12, 31), "珠海市财政局", "supporting"),
    ]
    assert [tuple(r[1:]) for r in rows if r[0] == "2016年督办件"] == [
        (1, date(2016, 6, 30), "珠海市卫生和计划生育局", "lead")]
