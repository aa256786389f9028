"""The coordinator's and the department's pages in chromium, at 1280 and 390 px.

``duban serve`` runs with its reminder thread (as in production), its clock in
office hours on 2016-01-20, every contact routed to a loopback mail server
(:class:`duban.ops.mail_sink.MailSink`). A coordinator works the queue: 催办 by
hand reaches the department's liaison by mail and the escalation log; a
黄色/红色督办单 is issued, downloaded as .docx (read back with python-docx) and
as PDF (rendered to PNG with pdftoppm). A department on a phone acts from the
top of its task, is asked its name once and finds the submitted task under
its tab, with the attached photo shown. Every page is checked not to scroll
sideways on the phone; screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from docx import Document
from playwright.sync_api import Browser, Page
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.cli.demo import demo_org
from duban.config import Settings
from duban.db import engine_for_url, make_session_factory
from duban.domain.org import parse_org
from duban.ops.mail_sink import MailSink, free_port, text_of
from duban.services.accounts.directory import load_directory_file, sync_directory
from duban.services.accounts.links import LinkSigner, task_link
from duban.services.accounts.org_file import sync_org
from duban.services.accounts.staff import add_user
from duban.services.rounds.daily import replay
from duban.wiring import AppContext
from models import Notice, Task
from notifications.send import validate_url
from tests.db.conftest import World, at, seed_world
from tests.web.screens import SHOTS, Viewer, password_sign_in, serve
from tests.web.test_department_page import PNG

SERVE_AS_OF = "2016-01-20T10:00"
SECRET = "desk-browser-secret"
PASSWORD = "desk-browser-password"


@dataclass
class Server:
    base: str
    world: World
    settings: Settings
    session_factory: sessionmaker[Session]
    sink: MailSink

    def link(self, task_id: int) -> str:
        with self.session_factory() as session:
            task = session.get(Task, task_id)
            assert task is not None
            return task_link(session, task, base_url=self.base, now=at("2016-01-20"),
                             signer=LinkSigner.from_settings(self.settings))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("desk-browser")
    database = folder / "duban.db"
    shutil.copyfile(sqlite_template, database)
    port = free_port()
    settings = Settings(data_dir=folder / "data", database_url=f"sqlite:///{database}",
                        secret_key=SECRET, base_url=f"http://127.0.0.1:{port}")
    engine = engine_for_url(settings.database_url)
    session_factory = make_session_factory(engine)
    sync_directory(load_directory_file(settings.directory_file), session_factory=session_factory)
    world = seed_world(session_factory)
    add_user("dbk", role="coordinator", password=PASSWORD, display_name="张科长",
             now=at("2015-03-02"), session_factory=session_factory)
    with session_factory.begin() as session:  # the ladder before December is not the point
        session.execute(update(Task).values(next_action_at=at("2015-12-01")))
    try:
        with MailSink() as sink:
            org = parse_org(demo_org(settings, sink), source="test", check_url=validate_url)
            sync_org(org, session_factory=session_factory, now=at("2015-12-01"))
            context = AppContext(settings)
            with context.sender() as sender:
                tools = context.round_tools(sender=sender, worker="test")
                replay(session_factory, start=date(2015, 12, 1), end=date(2016, 1, 19),
                       tools=tools)
            # With the reminder thread: what the desk queues goes out at once.
            with serve(settings, as_of=SERVE_AS_OF, port=port, extra=()) as base:
                yield Server(base, world, settings, session_factory, sink)
    finally:
        engine.dispose()


def _mail(sink: MailSink, subject: str, timeout: float = 30.0) -> EmailMessage:
    """The first message whose subject has ``subject``, waiting for it to arrive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(sink.messages):
            if subject in str(message["Subject"]):
                return message
        time.sleep(0.2)
    subjects = [str(m["Subject"]) for m in sink.messages][-5:]
    raise AssertionError(f"no mail “{subject}” within {timeout} s; last: {subjects}")


def test_a_coordinator_urges_by_hand_and_prints_a_supervision_notice(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    district = server.world.district  # 香洲区, overdue since 2015-12-17, red by now
    viewer = Viewer.open(browser, server.base, sign_in=password_sign_in("dbk", PASSWORD))
    desk, _phone = viewer.look("/desk", "coordinator-desk")
    assert "已逾期" in desk.content() and "待审核报结" in desk.content()

    desk.fill("#overdue input[name=note]", "请本周内报结并说明逾期原因")
    desk.click(f"#overdue button[name=only][value='{district}']")
    desk.wait_for_selector("text=已催办")
    viewer.snap("coordinator-desk-urged")
    message = _mail(server.sink, "督办科催办")
    assert "香洲区" in str(message["Subject"])
    assert "请本周内报结并说明逾期原因" in text_of(message)
    with server.session_factory() as session:
        step = session.scalars(select(Notice.status).where(
            Notice.task_id == district, Notice.step == "manual_urge@2016-01-20")).one()
    assert step == "sent"
    desk.goto(f"{server.base}/dashboard/escalations")
    assert "督办科催办" in desk.content()  # in the escalation log like any step

    desk.goto(f"{server.base}/tasks/{district}")
    assert "督办科催办" in desk.content()
    desk.click("#document-form summary")
    desk.select_option("#document-form select[name=kind]", "red")
    desk.click("#document-form button[type=submit]")
    desk.wait_for_url("**/documents/*")
    number = desk.inner_text(".doc-number")
    assert "红色督办单" in desk.content() and number == "珠督〔2016〕1号"  # the org file's pattern
    document_path = desk.url.removeprefix(server.base)
    viewer.look(document_path, "coordinator-document")
    viewer.look(f"/tasks/{district}", "coordinator-task")
    viewer.look("/documents", "coordinator-documents")

    desk.goto(f"{server.base}{document_path}")
    with desk.expect_download() as word:
        desk.click("text=下载 Word")
    document = Document(word.value.path())
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert "香洲区" in cells and any("约谈" in text for text in cells)
    assert number in [p.text for p in document.paragraphs]
    with desk.expect_download(timeout=180_000) as pdf:
        desk.click("text=下载 PDF")
    assert "红色督办单" in pdf.value.suggested_filename
    pages = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1",
                    str(pdf.value.path()), str(pages)], check=True, timeout=60)
    rendered = sorted(tmp_path.glob("page*.png"))
    assert rendered and rendered[0].stat().st_size > 5_000
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(rendered[0], SHOTS / "coordinator-document-pdf.png")
    viewer.close()


def _open(page: Page, label: str, form: str) -> None:
    """Open an action's form as a person would: tap its button unless it is open
    already (a form the task needs now, such as a missing report, starts open)."""
    if not page.locator(form).is_visible():
        page.click(f"#actions summary:has-text('{label}')")


def test_a_department_acts_at_the_top_of_its_task_on_a_phone(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    task_id = server.world.later  # 市卫计局, due 2017, nothing done yet
    viewer = Viewer.open(browser, server.base)
    desk, phone = viewer.look(server.link(task_id), "department-task")
    home = phone.url.split("/tasks/")[0]
    # The action is on the first screen of the phone, above the measure's text.
    assert phone.locator("#ack-form button").bounding_box()["y"] < 844  # type: ignore[index]
    phone.fill("#ack-form input[name=actor]", "张联络")
    phone.click("#ack-form button")
    phone.wait_for_selector("text=已签收。")
    assert "经办人:张联络" in phone.inner_text("#actions")  # asked once, remembered
    _open(phone, "进度反馈", "#report-form")
    phone.fill("#report-form textarea[name=note]", "已完成年度建设任务的 60%")
    phone.click("#report-form button")
    phone.wait_for_selector("text=进度已报送。")
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(PNG)
    _open(phone, "报结", "#submit-form")
    phone.fill("#submit-form textarea[name=note]", "已全部完成,附现场照片")
    phone.set_input_files("#submit-form input[type=file]", str(photo))
    phone.click("#submit-form button")
    phone.wait_for_selector("text=已报结,等待督办科审核。")
    # The thumbnail loads after the page: wait for it (a broken image never gets a width).
    phone.wait_for_function(
        "() => { const i = document.querySelector('img.thumb');"
        " return i !== null && i.complete && i.naturalWidth > 0; }"
    )
    assert phone.locator("img.thumb").evaluate("img => img.naturalWidth") == 1
    desk.goto(phone.url)
    viewer.snap("department-task-submitted")
    viewer.look(f"{home}?tab=submitted", "department-submitted")
    assert "措施8" in phone.inner_text("ul.tasks")
    viewer.look(home, "department-home")
    assert f"tasks/{task_id}" not in phone.inner_html("ul.tasks")
    viewer.close()
