"""The weekly digest through the outbox to a real SMTP server on loopback
(aiosmtpd), with the ledger and a chart attached, on SQLite and PostgreSQL;
and what the digest says, from the small world's ledger."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from openpyxl import load_workbook
from prefect.flows import load_flow_from_entrypoint
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.accounts.links import LinkSigner
from duban.services.accounts.org_file import load_org_file, sync_org
from duban.services.reports.digest import WEEKLY_BATCH, digest_context, week_of
from duban.services.reports.ledger import build_ledger
from duban.services.rounds.weekly import send_weekly_digest
from duban.services.tasks import lifecycle
from duban.wiring import open_context
from models import Delivery, DeliveryItem
from notifications.render import DEFAULT_TEMPLATES_DIR, render
from tests.db.conftest import HEALTH, HR, XIANGZHOU, at
from tests.notifications.conftest import SMTPServer, smtp_server  # noqa: F401  (fixture)
from tests.reports.conftest import History

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2016, 1, 4, 9, 30, tzinfo=ZONE)
ROOT = Path(__file__).resolve().parents[2]


def mail(server: SMTPServer, to: str) -> str:
    return f"mailto://127.0.0.1:{server.port}?from=duban@example.gov.cn&to={to}"


@pytest.fixture
def org(
    history: History,
    session_factory: sessionmaker[Session],
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: SMTPServer,  # noqa: F811
) -> SMTPServer:
    """Supervisors, coordinators and three liaisons, all mailing ``smtp_server``."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", migrated_url)
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))

    def liaison(name: str, short: str, address: str) -> dict[str, Any]:
        return {
            "name": name,
            "liaison": [{"name": f"{short}联络员", "notify": [mail(smtp_server, address)]}],
        }

    data = {
        "base_url": "http://duban.test",
        "coordinators": [{"name": "督办科", "notify": [mail(smtp_server, "dbk@example.gov.cn")]}],
        "supervisors": [{"name": "督查室", "notify": [mail(smtp_server, "dcs@example.gov.cn")]}],
        "departments": [
            liaison(HEALTH, "卫计", "wj@example.gov.cn"),
            liaison(HR, "人社", "rs@example.gov.cn"),
            {**liaison(XIANGZHOU, "香洲", "xz@example.gov.cn"), "kind": "district"},
        ],
    }
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    sync_org(
        load_org_file(path), session_factory=session_factory, now=datetime(2015, 1, 1, tzinfo=UTC)
    )
    return smtp_server


def to(server: SMTPServer, address: str) -> list[EmailMessage]:
    return [m for m in server.messages if address in str(m["To"])]


def attachments(message: EmailMessage) -> dict[str, bytes]:
    found = {}
    for part in message.iter_attachments():
        name = part.get_filename()
        assert name is not None
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found[name] = payload
    return found


def test_digest_arrives_with_the_ledger_attached(
    history: History, org: SMTPServer, session_factory: sessionmaker[Session], backend: str
) -> None:
    world = history.world
    # 香洲区 gets more time and reports numbers behind the straight line, so
    # measure 8 is yellow with its chart attached.
    lifecycle.acknowledge(
        world.district, department=XIANGZHOU, now=at("2015-10-08"), session_factory=session_factory
    )
    for day, value in (("2015-10-09", 50), ("2015-12-01", 52)):
        lifecycle.report(
            world.district,
            department=XIANGZHOU,
            note="进展",
            now=at(day),
            values={"住院报销比例": value},
            session_factory=session_factory,
        )
    lifecycle.change_due(
        world.district,
        actor="督办科",
        new_due=date(2016, 6, 30),
        reason="区级统筹",
        now=at("2015-12-10"),
        calendar=history.calendar,
        session_factory=session_factory,
    )
    context = open_context()
    with context.sender() as sender:
        tools = context.round_tools(sender=sender, worker="test")
        result = send_weekly_digest(session_factory, now=MONDAY, tools=tools)
        again = send_weekly_digest(session_factory, now=MONDAY.replace(day=7), tools=tools)
    assert (result.queued.digests, result.queued.summaries) == (2, 2)
    assert result.round.delivery.sent == 4 and result.round.delivery.dead == 0
    # Twice in one week: nothing new is queued or sent.
    assert (again.queued.digests, again.queued.summaries, again.queued.existing) == (0, 0, 4)
    assert again.round.delivery.sent == 0
    assert len(org.messages) == 4

    [digest] = to(org, "dcs@example.gov.cn")
    assert len(to(org, "dbk@example.gov.cn")) == 1
    assert "每周督办简报" in str(digest["Subject"])
    text = digest.get_body(preferencelist=("plain", "html")).get_content()  # type: ignore[union-attr]
    assert "措施8 保障和改善民生" in text and "2015-12-31 红色督办" in text.replace("：", " ")
    # Staff sign in; only a department is told its links need none.
    assert "请登录督办系统查看" in text and "本单位专用链接" not in text
    files = attachments(digest)
    assert set(files) == {"督办台账-2016-01-04.xlsx", "指标进度-措施8.svg"}
    book = load_workbook(io.BytesIO(files["督办台账-2016-01-04.xlsx"]))
    assert book["台账"].max_row == 3 + 5  # title, 制表单位, header, five tasks
    assert b"<svg" in files["指标进度-措施8.svg"]
    if backend == "sqlite":  # for a reviewer: the digest as the supervisors see it
        html = digest.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        (ROOT / "test-artifacts" / "weekly-digest.html").write_text(html, encoding="utf-8")

    # Liaisons: their own unfinished tasks; 市人社局 has none left, so no mail.
    [health] = to(org, "wj@example.gov.cn")
    body = health.get_body(preferencelist=("plain", "html")).get_content()  # type: ignore[union-attr]
    assert "每周任务清单" in str(health["Subject"]) and "未办结任务 1 项" in str(health["Subject"])
    assert "本单位专用链接" in body and "请登录" not in body
    # Each task by the department's own signed link (a liaison has no account).
    found = re.search(rf"http://duban\.test/tasks/{world.later}\?k=([\w.\-]+)", body)
    assert found is not None
    with session_factory() as session:
        holder = LinkSigner.from_settings(context.settings).read(
            found.group(1), now=MONDAY, session=session)
    assert holder.department == HEALTH
    assert f"/tasks/{world.lead}" not in body
    assert "?k=" not in text  # never in the supervisors' digest
    assert to(org, "rs@example.gov.cn") == []
    [district] = to(org, "xz@example.gov.cn")
    assert (
        "指标进度落后"
        in district.get_body(  # type: ignore[union-attr]
            preferencelist=("plain", "html")
        ).get_content()
    )
    assert not list(district.iter_attachments())

    with session_factory() as session:
        weekly = session.scalars(select(Delivery).where(Delivery.batch == WEEKLY_BATCH)).all()
        assert {d.day for d in weekly} == {week_of(date(2016, 1, 4))}
        assert all(d.status == "sent" and d.title for d in weekly)
        assert session.scalar(select(func.count()).select_from(DeliveryItem)) == 0


def test_digest_content_from_the_ledger(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    ledger = build_ledger(session_factory, as_of=date(2016, 1, 4), calendar=history.calendar)
    data = digest_context(ledger, base_url="http://duban.test/")
    # 市民政局's support task was submitted late: 逾期办结, not green.
    assert data["totals"] == {"tasks": 5, "red": 1, "yellow": 1, "blue": 0, "late": 1,
                              "green": 2, "approved": 3}
    [m8] = data["measures"]  # measure 9 (人社局) is done: green, not listed
    assert (m8["number"], m8["light"], m8["red_departments"]) == (8, "red", [XIANGZHOU])
    assert [(e["on"], e["label"]) for e in data["escalations"]] == [("2015-12-31", "红色督办")]
    assert [d["department"] for d in data["missing_departments"]] == [HEALTH, XIANGZHOU]
    message = render(
        "weekly_digest",
        {
            **data,
            "recipient_name": "督查室",
            "department": "全部责任单位",
            "sender": "督办科",
            "base_url": "http://duban.test",
            "items": [],
            "as_of": "2016-01-04",
            "since": "2015-12-29",
            "attachments": ["督办台账-2016-01-04.xlsx"],
        },
        templates_dir=DEFAULT_TEMPLATES_DIR,
    )
    m8_id = next(r.measure_id for r in ledger.rows if r.measure == 8)
    measure_page = f"http://duban.test/dashboard/measures/{m8_id}"
    assert m8["link"] == measure_page and "逾期办结 1 项" in message.text
    for body in (message.text, message.html, message.markdown):
        assert "措施8" in body and "红色督办" in body and XIANGZHOU in body
        assert measure_page in body  # each flagged measure links to its page
    assert message.markdown.startswith("## 每周督办简报")


def test_flow_entrypoint_loads() -> None:
    flow = load_flow_from_entrypoint(str(ROOT / "flows" / "digest.py") + ":weekly_digest_flow")
    assert flow.name == "weekly-digest"


def test_summary_renders_every_format_and_escapes_user_text() -> None:
    task = {
        "task_id": 4,
        "measure_number": 8,
        "measure_title": "<b>**民生**</b>",
        "role_label": "牵头",
        "due": "2017-12-29",
        "original_due": "2017-06-30",
        "state_label": "办理中",
        "status_label": "未到期",
        "light": "yellow",
        "light_label": "黄灯",
        "reasons": ["缺报进度2次"],
        "latest_progress_on": None,
        "link": "http://duban.test/tasks/4",
    }
    message = render(
        "weekly_summary",
        {
            "recipient_name": "卫计联络员",
            "department": HEALTH,
            "sender": "督办科",
            "base_url": "http://duban.test",
            "items": [],
            "as_of": "2016-01-04",
            "since": "2015-12-29",
            "tasks": [task],
            "counts": {"red": 0, "yellow": 1, "blue": 0, "late": 0, "green": 0},
        },
        templates_dir=DEFAULT_TEMPLATES_DIR,
    )
    assert message.title == f"【每周任务清单】{HEALTH} 未办结任务 1 项（截至 2016-01-04）"
    assert "&lt;b&gt;" in message.html and "<b>**" not in message.html
    assert (
        "**民生**" not in message.markdown
        and "[任务 4](http://duban.test/tasks/4)" in message.markdown
    )
    assert "原定 2017-06-30" in message.text and "尚未报送" in message.text
