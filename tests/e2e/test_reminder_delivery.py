"""Reminders and escalations end to end through the real send path, on SQLite
and PostgreSQL: outbox → Sender (Apprise) → a real SMTP server on loopback and
a local HTTP endpoint that speaks the WeCom bot webhook contract."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.accounts.org_file import load_org_file, sync_org
from duban.services.plans.assignment import assign_measure
from duban.services.plans.files import parse_plan_file
from duban.services.plans.importer import import_plan
from duban.services.reports.delivery_log import delivery_log
from duban.services.reports.escalation_log import escalation_log
from duban.services.rounds.daily import replay, run_round
from duban.wiring import open_context
from models import Delivery, Notice
from tests.notifications.conftest import (  # noqa: F401  (fixtures)
    SMTPServer,
    WeComCall,
    WeComServer,
    smtp_server,
    wecom_server,
)
from tests.paths import REFERENCE_PLAN

ZONE = ZoneInfo("Asia/Shanghai")
BAD_KEY = "REJECTED-KEY-5f3a"
GOOD_KEY = "GOOD-KEY-77aa"


def mail(server: SMTPServer, to: str) -> str:
    return f"mailto://127.0.0.1:{server.port}?from=duban@example.gov.cn&to={to}"


@pytest.fixture
def world(
    session_factory: sessionmaker[Session],
    synced_directory: None,
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: SMTPServer,  # noqa: F811
    wecom_server: WeComServer,  # noqa: F811
) -> dict[str, Any]:
    return build_world(session_factory, migrated_url, tmp_path, monkeypatch, smtp_server,
                       wecom_server)


def build_world(
    session_factory: sessionmaker[Session],
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: SMTPServer,  # noqa: F811
    wecom_server: WeComServer,  # noqa: F811
    *,
    coordinators: list[str] | None = None,
    supervisors: list[str] | None = None,
) -> dict[str, Any]:
    """Measure 10 of the reference plan assigned on 2015-09-01; 民政局 (its lead)
    on mail, 香洲区 on a WeCom bot, 斗门区 on a WeCom key the server rejects;
    the coordinators and supervisors on mail unless other addresses are given."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", migrated_url)
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    answer = wecom_server.answer

    def answer_rejecting_bad_key(call: WeComCall) -> tuple[int, Any]:
        if call.query.get("key") == BAD_KEY:
            wecom_server.requests.append(call)
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        return answer(call)

    wecom_server.answer = answer_rejecting_bad_key  # type: ignore[method-assign]
    wecom = f"dubanwecom://{{key}}?base={wecom_server.base}"
    org = {
        "timezone": "Asia/Shanghai",
        "office_hours": "09:00-18:00",
        "base_url": "http://duban.test",
        "coordinators": [{"name": "督办科", "notify": coordinators or [
            mail(smtp_server, "dbk@example.gov.cn")]}],
        "supervisors": [{"name": "督查室", "notify": supervisors or [
            mail(smtp_server, "dcs@example.gov.cn")]}],
        "departments": [
            {"name": "珠海市民政局", "aliases": ["市民政局"], "kind": "department",
             "liaison": [{"name": "民政联络员",
                          "notify": [mail(smtp_server, "mz@example.gov.cn")]}],
             "head": [{"name": "民政负责人",
                       "notify": [mail(smtp_server, "mzh@example.gov.cn")]}]},
            {"name": "香洲区", "kind": "district",
             "liaison": [{"name": "香洲联络员", "notify": [wecom.format(key=GOOD_KEY)]}]},
            {"name": "斗门区", "kind": "district",
             "liaison": [{"name": "斗门联络员", "notify": [wecom.format(key=BAD_KEY)]}]},
        ],
    }
    org_path = tmp_path / "org.yaml"
    org_path.write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
    sync_org(load_org_file(org_path), session_factory=session_factory,
             now=datetime(2015, 8, 1, tzinfo=UTC))
    draft, text = parse_plan_file(REFERENCE_PLAN)
    key = import_plan(draft, session_factory=session_factory, source_text=text).key
    context = open_context()
    assign_measure(session_factory, plan=key, measure=10,
                   now=datetime(2015, 9, 1, 9, tzinfo=ZONE).astimezone(UTC),
                   calendar=context.calendar)
    return {"context": context, "smtp": smtp_server, "wecom": wecom_server}


def subjects_to(server: SMTPServer, address: str) -> list[str]:
    return [str(m["Subject"]) for m in server.messages if address in str(m["To"])]


def test_notices_reach_email_and_wecom_and_a_rejected_key_is_reported(
    world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    context, smtp, wecom = world["context"], world["smtp"], world["wecom"]
    with context.sender() as sender:
        tools = context.round_tools(sender=sender)
        replay(session_factory, start=date(2015, 9, 1), end=date(2015, 9, 1), tools=tools)
    [assigned] = subjects_to(smtp, "mz@example.gov.cn")
    assert "交办" in assigned
    body = next(m for m in smtp.messages if "mz@example.gov.cn" in str(m["To"]))
    html = body.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "增强城乡基层群众自治活力" in html and "http://duban.test/tasks/" in html
    good = [c for c in wecom.sends() if c.query.get("key") == GOOD_KEY]
    assert len(good) == 1 and good[0].body["msgtype"] == "markdown"
    assert "交办" in good[0].body["markdown"]["content"]
    # The rejected key: no retry, the coordinators are told, and no secret leaks.
    assert len([c for c in wecom.sends() if c.query.get("key") == BAD_KEY]) == 1
    [failure] = subjects_to(smtp, "dbk@example.gov.cn")
    assert "送达失败" in failure
    report = next(m for m in smtp.messages if "dbk@example.gov.cn" in str(m["To"]))
    text = report.get_body(preferencelist=("plain", "html")).get_content()  # type: ignore[union-attr]
    assert "斗门区" in text and BAD_KEY not in text
    entries = delivery_log(session_factory, zone=ZONE)
    dead = [d for d in entries if d.status == "dead"]
    assert len(dead) == 1 and dead[0].attempts == 1 and dead[0].error
    assert BAD_KEY not in json.dumps([d.to_dict() for d in entries], ensure_ascii=False)


def test_smtp_down_then_back_delivers_once(
    world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    context, smtp = world["context"], world["smtp"]
    with context.sender() as sender:
        tools = context.round_tools(sender=sender)
        smtp.stop()
        run_round(session_factory, now=datetime(2015, 9, 1, 9, tzinfo=ZONE), tools=tools)
        with session_factory() as session:
            states = Counter(session.scalars(select(Delivery.status)))
        assert states["failed"] >= 1 and states["sent"] == 1  # the WeCom one went out
        smtp.start()
        replay(session_factory, start=date(2015, 9, 1), end=date(2015, 9, 1), tools=tools)
    assert len(subjects_to(smtp, "mz@example.gov.cn")) == 1
    with session_factory() as session:
        statuses = Counter(session.scalars(select(Delivery.status)))
    assert statuses["failed"] == 0 and statuses["pending"] == 0


def test_escalation_log_tells_the_same_story_as_the_mailboxes(
    world: dict[str, Any], session_factory: sessionmaker[Session]
) -> None:
    context, smtp = world["context"], world["smtp"]
    with context.sender() as sender:
        tools = context.round_tools(sender=sender)
        replay(session_factory, start=date(2015, 9, 1), end=date(2016, 1, 29), tools=tools)
        again = replay(session_factory, start=date(2015, 9, 1), end=date(2016, 1, 29),
                       tools=tools)
    assert again == []  # replaying the same range again sends nothing
    log = escalation_log(session_factory, zone=ZONE, min_level=1)
    lead_log = [e for e in log if e.department == "珠海市民政局"]
    assert [(e.step, e.at[:10]) for e in sorted(lead_log, key=lambda e: e.at)] == [
        ("urge", "2016-01-04"), ("escalate_yellow", "2016-01-08"), ("escalate_red", "2016-01-15")]
    assert all(e.delivered for e in lead_log)
    head_mail = subjects_to(smtp, "mzh@example.gov.cn")
    assert len(head_mail) == 2 and any("催办" in s for s in head_mail)
    red_notices = [e for e in log if e.step == "escalate_red"]
    supervisor_mail = smtp.messages and [
        m for m in smtp.messages if "dcs@example.gov.cn" in str(m["To"])]
    # Each red notice reached the supervisors (bundled per day into one message).
    assert red_notices and all(
        any(r.name == "督查室" and r.status == "sent" for r in e.recipients) for e in red_notices)
    assert len(supervisor_mail) == len({e.at[:10] for e in red_notices})
    with session_factory() as session:
        sent_days = {
            n.due_at.astimezone(ZONE).date() for n in session.scalars(
                select(Notice).where(Notice.status == "sent"))
        }
    assert all(context.calendar.is_workday(d) for d in sent_days)
