"""A WeCom message too long for one post, whose second part the bot refuses
once (errcode -1, "system busy"), through the whole path — the day's round,
the outbox, the real sender and the local WeCom endpoint, on SQLite and
PostgreSQL: the retry posts the rest of the same message, so the group reads
each part once and never part 1 again (it saw "(1/12)" six times before)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.plans.assignment import assign_measure
from duban.services.plans.to_assign import measures_to_run
from duban.services.rounds.daily import replay, run_round
from models import ContactChannel, Delivery, Plan
from tests.e2e.test_reminder_delivery import GOOD_KEY, world  # noqa: F401  (fixture)
from tests.notifications.conftest import smtp_server, wecom_server  # noqa: F401  (fixtures)

ZONE = ZoneInfo("Asia/Shanghai")
LABEL = re.compile(r"（(?:续)?(\d+)/(\d+)）")


def test_a_split_message_whose_second_part_failed_is_finished_not_repeated(
    world: dict[str, Any],  # noqa: F811
    session_factory: sessionmaker[Session],
) -> None:
    context, wecom = world["context"], world["wecom"]
    # Every measure assigned: 香洲区 (on the WeCom bot) gets a 交办 digest of
    # many tasks, more than one post holds.
    with session_factory() as session:
        key = session.scalars(select(Plan.key)).one()
    for ref in measures_to_run(session_factory, plan=key, measure=None):
        if ref.assignable and ref.number != 10:
            assign_measure(session_factory, plan=key, measure=ref.number,
                           now=datetime(2015, 9, 1, 9, tzinfo=ZONE).astimezone(UTC),
                           calendar=context.calendar)
    wecom.replies.extend([(200, {"errcode": 0, "errmsg": "ok"}),
                          (200, {"errcode": -1, "errmsg": "system busy"})])
    with context.sender() as sender:
        tools = context.round_tools(sender=sender)
        run_round(session_factory, now=datetime(2015, 9, 1, 9, tzinfo=ZONE), tools=tools)
        with session_factory() as session:
            [(status, parts_sent)] = session.execute(
                select(Delivery.status, Delivery.parts_sent)
                .join(ContactChannel, ContactChannel.id == Delivery.channel_id)
                .where(ContactChannel.url.contains(GOOD_KEY))
            ).all()
        assert (status, parts_sent) == ("failed", 1)  # part 1 accepted, part 2 refused
        replay(session_factory, start=date(2015, 9, 1), end=date(2015, 9, 1), tools=tools)

    posts = [c.body["markdown"]["content"] for c in wecom.sends()
             if c.query.get("key") == GOOD_KEY]
    labels = [LABEL.search(p.splitlines()[0]) for p in posts]
    assert all(labels), [p.splitlines()[0] for p in posts]
    numbers = [int(m.group(1)) for m in labels if m]
    total = int(labels[0].group(2)) if labels[0] else 0
    assert total >= 3
    # Part 2 was posted twice (refused, then accepted); every other part once.
    assert numbers == [1, 2, *range(2, total + 1)]
    assert posts[1] == posts[2]
    with session_factory() as session:
        [(status, parts_sent)] = session.execute(
            select(Delivery.status, Delivery.parts_sent)
            .join(ContactChannel, ContactChannel.id == Delivery.channel_id)
            .where(ContactChannel.url.contains(GOOD_KEY))
        ).all()
    assert status == "sent"
