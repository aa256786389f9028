"""Every message is written for its reader, read as that person would: the
mail the real SMTP server received and the markdown the local WeCom endpoint
was posted, on SQLite and PostgreSQL.

Measure 10 of the reference plan (led by 珠海市民政局, eight supporting units
due 2015-12-17, the lead due 2015-12-31) replayed from assignment to the
lead's red 督办 on 2016-01-15, with a 督办科催办 by hand on the way. The
coordinators are on mail and a WeCom bot; the supervisors on mail and on a
WeCom key the server rejects, so a digest of many departments fails.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services import desk
from duban.services.accounts.links import LinkSigner, signing_key
from duban.services.rounds.daily import replay
from duban.web import create_app
from models import Department, Measure, Task
from tests.e2e.test_reminder_delivery import BAD_KEY, GOOD_KEY, build_world, mail
from tests.notifications.conftest import (  # noqa: F401  (fixtures)
    SMTPServer,
    WeComServer,
    smtp_server,
    wecom_server,
)

ZONE = ZoneInfo("Asia/Shanghai")
STAFF_KEY = "STAFF-KEY-31c9"
LEAD = "珠海市民政局"
MEASURE = "措施10 增强城乡基层群众自治活力"
LINK = re.compile(r"http://duban\.test/tasks/(\d+)(?:\?k=([\w.\-]+))?")
URGE_NOTE = "请于本周内报送办理情况"


@pytest.fixture
def replayed(
    session_factory: sessionmaker[Session],
    synced_directory: None,
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: SMTPServer,  # noqa: F811
    wecom_server: WeComServer,  # noqa: F811
) -> dict[str, Any]:
    wecom = f"dubanwecom://{{key}}?base={wecom_server.base}"
    world = build_world(
        session_factory, migrated_url, tmp_path, monkeypatch, smtp_server, wecom_server,
        coordinators=[mail(smtp_server, "dbk@example.gov.cn"), wecom.format(key=STAFF_KEY)],
        supervisors=[mail(smtp_server, "dcs@example.gov.cn"), wecom.format(key=BAD_KEY)],
    )
    context = world["context"]
    with session_factory() as session:
        tasks = {
            name: (task_id, role)
            for task_id, role, name in session.execute(
                select(Task.id, Task.role, Department.name)
                .join(Department, Department.id == Task.department_id)
                .join(Measure, Measure.id == Task.measure_id)
                .where(Measure.number == 10)
            )
        }
        departments = {name: id_ for name, id_ in session.execute(
            select(Department.name, Department.id))}
    with context.sender() as sender:
        tools = context.round_tools(sender=sender)
        replay(session_factory, start=date(2015, 9, 1), end=date(2015, 12, 18), tools=tools)
        desk.urge_now([tasks["香洲区"][0]], actor="督办科(李四)", note=URGE_NOTE,
                      now=datetime(2015, 12, 21, 8, 30, tzinfo=ZONE), zone=ZONE,
                      session_factory=session_factory)
        replay(session_factory, start=date(2015, 12, 21), end=date(2016, 1, 15), tools=tools)
    return {**world, "tasks": tasks, "departments": departments}


def mails_to(smtp: SMTPServer, address: str) -> list[EmailMessage]:
    return [m for m in smtp.messages if address in str(m["To"])]


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def test_every_reader_gets_a_message_written_for_them(
    replayed: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    """One replay (it costs seconds), read by each reader in turn."""
    staff_read_grouped_measures_with_staff_links_and_no_department_token(replayed)
    a_failed_digest_report_names_every_department_in_it(replayed)
    the_lead_department_reads_its_supporters_tasks_read_only(replayed, session_factory)
    departments_read_their_own_unit_and_the_manual_urge_note(replayed)
    every_link_is_signed_for_its_reader_only(replayed, session_factory)


def every_link_is_signed_for_its_reader_only(
    replayed: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    """Each token in every message received speaks for the recipient's own department."""
    smtp, wecom, context = replayed["smtp"], replayed["wecom"], replayed["context"]
    # Whenever it was sent: the replay spans more than a link's lifetime.
    signer = LinkSigner(signing_key(context.settings), max_age=timedelta(days=3650))
    # (The rejected key is both 斗门区's and the supervisors': staff messages carry no token.)
    readers = {"mz@": LEAD, "mzh@": LEAD, GOOD_KEY: "香洲区", BAD_KEY: "斗门区"}
    received = [(str(m["To"]), body) for m in smtp.messages for body in bodies(m)]
    received += [(c.query.get("key", ""), c.body["markdown"]["content"]) for c in wecom.sends()
                 if c.body.get("msgtype") == "markdown"]
    seen = 0
    with session_factory() as session:
        for to, body in received:
            for _task, token in LINK.findall(body):
                if not token:
                    continue
                reader = next(name for key, name in readers.items() if key in to)
                holder = signer.read(token, now=datetime(2016, 1, 15, 10, tzinfo=ZONE),
                                     session=session)
                assert holder.department == reader, (to, holder.department)
                seen += 1
    assert seen > 20


def staff_read_grouped_measures_with_staff_links_and_no_department_token(
    replayed: dict[str, Any],
) -> None:
    smtp, wecom, tasks = replayed["smtp"], replayed["wecom"], replayed["tasks"]
    supporters = sorted(name for name, (_id, role) in tasks.items() if role == "supporting")
    assert len(supporters) == 8
    staff_mail = mails_to(smtp, "dbk@example.gov.cn") + mails_to(smtp, "dcs@example.gov.cn")
    staff_markdown = [c.body["markdown"]["content"] for c in wecom.sends()
                      if c.query.get("key") == STAFF_KEY]
    assert staff_mail and staff_markdown
    for message in staff_mail:
        for body in bodies(message):
            assert "?k=" not in body and "/d/" not in body, message["Subject"]
            assert "个单位" not in body  # never a group label for a unit
    for markdown in staff_markdown:
        assert "?k=" not in markdown and "/d/" not in markdown

    # 督办科, the day the supporters' yellow 督办 went out: by measure, each unit
    # named with its role, rung, lateness and the staff page of its task.
    [yellow] = [m for m in mails_to(smtp, "dbk@example.gov.cn")
                if "【督办情况】8 项任务：黄色督办 8 项" in str(m["Subject"])]
    text, html = bodies(yellow)
    assert f"{MEASURE}（牵头：{LEAD}）" in text
    for name in supporters:
        assert f"{name}（配合）【黄色督办】" in text
        assert f"http://duban.test/tasks/{tasks[name][0]}" in text
        assert f'href="http://duban.test/tasks/{tasks[name][0]}"' in html
    assert "已逾期 5 个工作日" in text and "需登录" in text
    assert "请逐项办理" not in text and "你单位" not in text  # not spoken to as a department
    [card] = [md for md in staff_markdown if "黄色督办" in md and "香洲区" in md]
    assert "香洲区（配合）" in card and f"/tasks/{tasks['香洲区'][0]})" in card

    # 督查室: the red 督办 of the supporters, then of the lead itself.
    red = [bodies(m)[0] for m in mails_to(smtp, "dcs@example.gov.cn")]
    assert any(all(f"{n}（配合）【红色督办】" in body for n in supporters) for body in red)
    assert any(f"{LEAD}（牵头）【红色督办】" in body for body in red)
    assert all("登录后查看。" in body and "催办或审核" not in body for body in red)
    assert "登录后查看、催办或审核" in text


def a_failed_digest_report_names_every_department_in_it(replayed: dict[str, Any]) -> None:
    smtp, tasks = replayed["smtp"], replayed["tasks"]
    reports = [bodies(m)[0] for m in mails_to(smtp, "dbk@example.gov.cn")
               if "送达失败" in str(m["Subject"]) and "督查室" in str(m["Subject"])]
    assert reports
    first = reports[0]
    assert "发给督查室的" in first and "共 8 项任务" in first
    for name, (_id, role) in tasks.items():
        if role == "supporting":
            assert name in first, name
    assert BAD_KEY not in first and "/desk/deliveries/" in first


def the_lead_department_reads_its_supporters_tasks_read_only(
    replayed: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    smtp, tasks, context = replayed["smtp"], replayed["tasks"], replayed["context"]
    lead_id = replayed["departments"][LEAD]
    signer = LinkSigner.from_settings(context.settings)
    moment = datetime(2015, 12, 24, 10, tzinfo=ZONE)
    [copy] = [m for m in mails_to(smtp, "mz@example.gov.cn")
              if "配合单位督办情况" in str(m["Subject"])]
    text, html = bodies(copy)
    assert "你单位牵头的措施中" in text and "只读" in text
    links: dict[int, str] = {}
    for body in (text, html):
        for task_id, token in LINK.findall(body):
            assert token, "a department message carries its own signed link"
            links[int(task_id)] = token
    supporters = {tasks[n][0]: n for n, (_id, role) in tasks.items() if role == "supporting"}
    assert set(links) == set(supporters)
    for name in supporters.values():
        assert f"{name}（配合）【黄色督办】" in text
    with session_factory() as session:
        for token in set(links.values()):  # the lead's own token, never a supporter's
            assert signer.read(token, now=moment, session=session).department_id == lead_id

    app = create_app(context.settings, as_of=moment)
    with TestClient(app, base_url="http://duban.test", follow_redirects=False) as client:
        task_id, token = next(iter(links.items()))
        opened = client.get(f"/tasks/{task_id}?k={token}")
        assert opened.status_code == 303
        page = client.get(opened.headers["location"])
        assert page.status_code == 200
        assert supporters[task_id] in page.text and "只读" in page.text
        assert "<form" not in page.text and "签收</button>" not in page.text
        # The staff messages' link to the same task asks to sign in first.
        staff = client.get(f"/tasks/{task_id}")
        assert staff.status_code == 303
        assert staff.headers["location"] == f"/login?next=/tasks/{task_id}"
        refused = client.post(f"/d/{token}/tasks/{task_id}/ack", data={"actor": "张三"})
        assert refused.status_code == 403
        with session_factory() as session:
            task = session.get(Task, task_id)
            assert task is not None and task.state == "assigned"


def departments_read_their_own_unit_and_the_manual_urge_note(
    replayed: dict[str, Any],
) -> None:
    smtp, wecom, tasks = replayed["smtp"], replayed["wecom"], replayed["tasks"]
    own = [bodies(m)[0] for m in mails_to(smtp, "mz@example.gov.cn")
           if "配合单位督办情况" not in str(m["Subject"])]
    assert any(f"责任单位：{LEAD}（牵头）" in body for body in own)
    for body in own:
        assert "个单位（" not in body and "办理入口：http://duban.test/tasks/" in body
    xiangzhou = [c.body["markdown"]["content"] for c in wecom.sends()
                 if c.query.get("key") == GOOD_KEY]
    assert xiangzhou and all("责任单位：香洲区（配合）" in md for md in xiangzhou)
    # The other units in the same brackets as the reader's own (not 其他责任单位：X(牵头)).
    assert all(f"其他责任单位：{LEAD}（牵头）" in md for md in xiangzhou if "其他责任单位" in md)
    assert any("其他责任单位：" in md for md in xiangzhou)
    [urged] = [md for md in xiangzhou if "督办科催办" in md]
    assert URGE_NOTE in urged and f"/tasks/{tasks['香洲区'][0]}?k=" in urged
