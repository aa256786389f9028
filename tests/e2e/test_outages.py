"""A mail server down for a day, and for four weeks, then back; a replay
killed at a random moment and run again: nothing lost, nothing sent twice
(beyond the one message in flight at a kill), on SQLite and PostgreSQL,
through the real send path (a real SMTP server on loopback, the WeCom
endpoint of test_reminder_delivery).

While it is down, every message is retried inside office hours, day after day,
and shown as 送达受阻 once it is a working day late; when it is back, what
still means something goes out once, and what the tasks have outgrown (a
"10 days left" reminder for a task now overdue) is recorded as superseded.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.desk.review import blocked_deliveries
from duban.services.ladder.round_lock import round_lock
from duban.services.rounds.daily import replay
from models import ContactChannel, Delivery, DeliveryItem, Notice
from tests.e2e.test_reminder_delivery import BAD_KEY, world  # noqa: F401  (fixture)
from tests.notifications.conftest import smtp_server, wecom_server  # noqa: F401  (fixtures)

ZONE = ZoneInfo("Asia/Shanghai")
START = date(2015, 9, 1)
OUTAGES = {  # down from, to (inclusive), then replayed until
    "a-day": (date(2015, 9, 1), date(2015, 9, 1), date(2015, 10, 30)),
    # From the due-date reminders to after the first 督办 (tasks due 2015-12-31).
    "four-weeks": (date(2015, 12, 14), date(2016, 1, 12), date(2016, 1, 22)),
}


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_a_mail_server_down_then_back_loses_nothing_and_repeats_nothing(
    world: dict[str, Any],  # noqa: F811
    session_factory: sessionmaker[Session],
    outage: str,
) -> None:
    context, smtp = world["context"], world["smtp"]
    down, up, end = OUTAGES[outage]
    with context.sender() as sender:
        tools = context.round_tools(sender=sender)
        if down > START:
            replay(session_factory, start=START, end=down - timedelta(days=1), tools=tools)
        before = len(smtp.messages)
        smtp.stop()
        replay(session_factory, start=down, end=up, tools=tools)
        assert len(smtp.messages) == before
        evening = datetime.combine(up, datetime.min.time(), ZONE) + timedelta(hours=17)
        with session_factory() as session:
            statuses = Counter(session.scalars(select(Delivery.status)))
            late = blocked_deliveries(
                session, now=evening + timedelta(days=1), calendar=context.calendar, zone=ZONE
            )
        assert statuses["failed"] >= 1
        # Shown as 送达受阻, with the reason; retried (one try per retry for the
        # whole server), never given up.
        held = [f for f in late if f.status != "dead"]
        assert held and {f.status for f in held} <= {"failed", "pending"}
        assert any("无法连接邮件服务器" in (f.error or "") and f.attempts > 1 for f in held)
        smtp.start()
        replay(session_factory, start=up + timedelta(days=1), end=end, tools=tools)

    with session_factory() as session:
        deliveries = session.execute(
            select(Delivery.id, Delivery.status, ContactChannel.url).join(
                ContactChannel, ContactChannel.id == Delivery.channel_id
            )
        ).all()
        items = session.execute(
            select(DeliveryItem.delivery_id, Notice.status, Notice.level, Notice.step).join(
                Notice, Notice.id == DeliveryItem.notice_id
            )
        ).all()
        notices = session.execute(select(Notice.status, Notice.step, Notice.reason)).all()
    status_of = {d.id: d.status for d in deliveries}
    mail = {d.id for d in deliveries if d.url.startswith("mailto://")}
    # Zero lost: every mail delivery sent or, retried when nothing in it meant
    # anything any more, superseded; only the rejected key is given up.
    assert {status_of[i] for i in mail} <= {"sent", "superseded"}
    assert {d.status for d in deliveries if d.id not in mail} <= {"sent", "dead"}
    assert all(BAD_KEY in d.url for d in deliveries if d.status == "dead")
    assert all(status_of[i.delivery_id] == "sent" for i in items if i.delivery_id in mail)
    assert not [n for n in notices if n.status == "pending"]
    # Zero duplicated: one message per sent mail delivery.
    assert len(smtp.messages) == sum(1 for i in mail if status_of[i] == "sent")
    # Every 催办 and 督办 went out, however late; stale reminders did not.
    assert all(i.status in ("sent", "failed") for i in items if i.level >= 1)
    if outage == "four-weeks":
        stale = [n for n in notices if n.status == "superseded" and n.step.startswith("due_")]
        assert stale and all("逾期" in (n.reason or "") or "取代" in (n.reason or "")
                             for n in stale)


def test_duban_replay_killed_mid_round_and_run_again_loses_nothing(
    world: dict[str, Any],  # noqa: F811
    session_factory: sessionmaker[Session],
) -> None:
    """kill -9 at a random moment of a replay: its round lock goes with it, the
    next replay takes over its claim once the lease runs out, and at most the
    message in flight goes out once more (the documented limit)."""
    context, smtp = world["context"], world["smtp"]
    end = date(2015, 10, 30)
    replaying = subprocess.Popen(
        [sys.executable, "-m", "duban", "replay", "--from", str(START), "--to", str(end),
         "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        point = random.randint(1, 5)
        while len(smtp.messages) < point and replaying.poll() is None:
            time.sleep(0.01)
    finally:
        replaying.kill()
        replaying.wait()
    with context.sender() as sender:
        tools = context.round_tools(sender=sender)
        with round_lock(session_factory, holder="test"):  # not left behind
            replay(session_factory, start=START, end=end, tools=tools)
    with session_factory() as session:
        deliveries = session.execute(
            select(Delivery.status, ContactChannel.url).join(
                ContactChannel, ContactChannel.id == Delivery.channel_id
            )
        ).all()
        pending = session.scalars(select(Notice).where(Notice.status == "pending")).all()
    mail = [d for d in deliveries if d.url.startswith("mailto://")]
    assert {d.status for d in mail} <= {"sent", "superseded"} and not pending
    sent = sum(1 for d in mail if d.status == "sent")
    assert sent <= len(smtp.messages) <= sent + 1
