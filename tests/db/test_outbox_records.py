"""A dispatcher records only what it did, on SQLite and PostgreSQL.

- A delivery's outcome applies to the notices its message carried, and only
  those. Routing locks the delivery it adds to (tests/db/test_concurrency.py),
  so no item should join a delivery once it is claimed; should one all the
  same, it is neither marked sent (or failed) without having been in any
  message, nor left inside a finished delivery: it moves to the channel's next.
- A dispatcher whose claim ran out while it was sending (another one claimed
  the delivery again) records its attempt, but the delivery's state is the
  other's to set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.workdays import WorkCalendar
from duban.services.calendar_data import build_work_calendar
from duban.services.outbox import dispatch, route
from duban.services.sweep import LEASE
from models import Delivery, DeliveryAttempt, DeliveryItem, Department, Notice
from tests.db.conftest import HEALTH, World, at
from tests.db.outbox_world import (
    CLOCK,
    RecordingSender,
    Sent,
    add_contacts,
    at_once,
    delivery_context,
    liaison_url,
    render_items,
)

T0 = at("2015-03-02", 10)
STEP = "assigned@2015-03-02"
NEXT_DAY = at("2015-03-03", 10)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return build_work_calendar([])


def add_notice(session_factory: sessionmaker[Session], task_id: int) -> int:
    with session_factory.begin() as session:
        notice = Notice(
            task_id=task_id, step=STEP, status="pending", level=0, due_at=T0, created_at=T0
        )
        session.add(notice)
        session.flush()
        return notice.id


@dataclass
class SlipsAnItemIn(RecordingSender):
    """While a delivery is being sent, adds ``notice_id`` to it, as a router
    that ignored the claim would; the send succeeds unless ``refuse``."""

    session_factory: sessionmaker[Session] | None = None
    notice_id: int = 0
    refuse: bool = False

    def send(self, url: str, message: Any, **kwargs: Any) -> Sent:
        assert self.session_factory is not None
        if self.notice_id:
            with self.session_factory.begin() as session:
                delivery = session.scalars(
                    select(Delivery).where(Delivery.status == "sending")
                ).one()
                session.add(
                    DeliveryItem(
                        delivery_id=delivery.id,
                        notice_id=self.notice_id,
                        channel_id=delivery.channel_id,
                    )
                )
            self.notice_id = 0
        if self.refuse:
            return Sent(ok=False, permanent=True, error="拒绝")
        return super().send(url, message, **kwargs)


@pytest.mark.parametrize("refuse", [False, True], ids=["sent", "dead"])
def test_an_item_added_after_rendering_is_sent_in_the_next_delivery(
    session_factory: sessionmaker[Session],
    world: World,
    calendar: WorkCalendar,
    refuse: bool,
) -> None:
    add_contacts(session_factory)
    first = add_notice(session_factory, world.lead)
    route(session_factory, now=T0, send_time=at_once, clock=CLOCK)
    late = add_notice(session_factory, world.later)
    sender = SlipsAnItemIn(session_factory=session_factory, notice_id=late, refuse=refuse)

    def send_due() -> None:
        dispatch(
            session_factory,
            now=T0,
            sender=sender,
            render=render_items,
            context=delivery_context(calendar),
            send_time=at_once,
        )

    send_due()
    with session_factory() as session:
        status = dict(session.execute(select(Notice.id, Notice.status)).all())
        batches = dict(
            session.execute(
                select(DeliveryItem.notice_id, Delivery.batch).join(
                    Delivery, Delivery.id == DeliveryItem.delivery_id
                )
            ).all()
        )
        url = liaison_url(
            session.scalars(select(Department.id).where(Department.name == HEALTH)).one()
        )
    assert status[first] == ("failed" if refuse else "sent")
    assert status[late] == "pending"  # not in the message: neither sent nor failed
    assert batches == {first: 1, late: 2}  # … and no longer inside the finished delivery

    sender.refuse = False
    send_due()
    with session_factory() as session:
        assert session.get(Notice, late).status == "sent"  # type: ignore[union-attr]
    assert [m.carried for m in sender.to(url)][-1] == ((world.later, "assigned"),)


@dataclass
class OutlivesItsLease(RecordingSender):
    """The first send takes so long that its claim's lease runs out: meanwhile
    another dispatcher claims the delivery again and sends it (through
    ``other``); then the first send fails, transiently or for good."""

    session_factory: sessionmaker[Session] | None = None
    calendar: WorkCalendar | None = None
    permanent: bool = False
    other: RecordingSender | None = None

    def send(self, url: str, message: Any, **kwargs: Any) -> Sent:
        assert self.session_factory is not None and self.calendar is not None
        if self.other is None:
            self.other = RecordingSender()
            dispatch(
                self.session_factory,
                now=T0 + 2 * LEASE,
                sender=self.other,
                render=render_items,
                context=delivery_context(self.calendar),
                send_time=at_once,
                worker="second",
            )
            return Sent(ok=False, permanent=self.permanent, error="超时")
        return super().send(url, message, **kwargs)


@pytest.mark.parametrize("permanent", [False, True], ids=["transient", "permanent"])
def test_a_dispatcher_whose_claim_was_taken_over_leaves_the_delivery_alone(
    session_factory: sessionmaker[Session],
    world: World,
    calendar: WorkCalendar,
    permanent: bool,
) -> None:
    add_contacts(session_factory)
    notice = add_notice(session_factory, world.lead)
    route(session_factory, now=T0, send_time=at_once, clock=CLOCK)
    first = OutlivesItsLease(
        session_factory=session_factory, calendar=calendar, permanent=permanent
    )

    def send_due(now: Any) -> None:
        dispatch(
            session_factory,
            now=now,
            sender=first,
            render=render_items,
            context=delivery_context(calendar),
            send_time=at_once,
            worker="first",
        )

    send_due(T0)
    send_due(NEXT_DAY)  # nothing is left to retry
    assert first.other is not None and len(first.other.sent) == 1
    assert first.sent == []
    with session_factory() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.status, delivery.attempts, delivery.claimed_by) == ("sent", 2, "second")
        attempts = session.execute(
            select(DeliveryAttempt.worker, DeliveryAttempt.ok).order_by(DeliveryAttempt.id)
        ).all()
        assert [tuple(a) for a in attempts] == [("second", True), ("first", False)]
        statuses = dict(session.execute(select(Notice.id, Notice.status)).all())
    assert statuses == {notice: "sent"}  # and no 发送失败 notice for the coordinators
