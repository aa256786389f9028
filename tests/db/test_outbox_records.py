"""A dispatcher records only what it did, on SQLite and PostgreSQL.

- A delivery's outcome applies to the notices its message carried, and only
  those. Routing locks the delivery it adds to (tests/db/test_concurrency.py),
  so no item should join a delivery once it is claimed; should one all the
  same, it is neither marked sent (or failed) without having been in any
  message, nor left inside a finished delivery: it moves to the channel's next.
- A dispatcher whose claim ran out while it was sending (another one claimed
  the delivery again) records its attempt, but the delivery's state is the
  other's to set.
- An error while a message is composed (its content or its template) is a
  failed attempt like a refused connection: recorded, retried, never left
  'sending' and never a reason for the dispatcher to stop.
- A batch lets go of each message once it is sent (its title and text are
  what the record needs): a large plan's digests are not all held at once.
- A message's links are signed with its department's current link
  generation: after a revocation they open (read with the batch's rows).
"""

from __future__ import annotations

import copy
import gc
import weakref
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.workdays import WorkCalendar
from duban.services.accounts.links import LinkSigner, revoke_links
from duban.services.calendar.data import build_work_calendar
from duban.services.ladder.core import LEASE
from duban.services.outbox import sending
from duban.services.outbox.contract import DeliveryContext, DeliveryKind, OutgoingMessage
from duban.services.outbox.deliver import dispatch
from duban.services.outbox.message import compose, notice_message
from duban.services.outbox.route import route
from models import (
    ContactChannel,
    Delivery,
    DeliveryAttempt,
    DeliveryItem,
    Department,
    Notice,
    Task,
)
from tests.db.conftest import HEALTH, World, at
from tests.db.outbox_world import (
    CLOCK,
    COORDINATOR_URL,
    Message,
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


@dataclass(frozen=True)
class BrokenClock(type(CLOCK)):  # type: ignore[misc]
    """A clock that fails while a message's content is being built."""

    def today(self, now: Any) -> Any:
        raise RuntimeError("broken")


def refusing_render(template: str, context: Any) -> Any:
    raise KeyError("department")


@dataclass(frozen=True)
class LateFailing:
    """A rendered message whose markdown (rendered when read) fails."""

    title: str
    text: str

    @property
    def markdown(self) -> str:
        raise KeyError("markdown")


def late_failing_render(template: str, context: Any) -> Any:
    message = render_items(template, context)
    return LateFailing(message.title, message.text)


@dataclass
class PreparingSender(RecordingSender):
    """A sender whose channel reads the markdown (as a WeCom one does), made
    in ``prepare`` before ``send``."""

    def prepare(self, url: str, message: Any) -> None:
        getattr(message, "markdown", None)


RENDERS = {"template": refusing_render, "markdown": late_failing_render,
           "markdown, prepared": late_failing_render}


@pytest.mark.parametrize("fault", ["context", "template", "markdown", "markdown, prepared"])
def test_an_error_while_composing_is_a_failed_attempt_retried_like_any_other(
    session_factory: sessionmaker[Session],
    world: World,
    calendar: WorkCalendar,
    fault: str,
) -> None:
    add_contacts(session_factory)
    notice = add_notice(session_factory, world.lead)
    route(session_factory, now=T0, send_time=at_once, clock=CLOCK)
    context = delivery_context(calendar)
    if fault == "context":
        broken = DeliveryContext(
            base_url=None, sender_name="督办科", calendar=calendar, clock=BrokenClock()
        )
    sender = PreparingSender() if fault == "markdown, prepared" else RecordingSender()
    report = dispatch(
        session_factory,
        now=T0,
        sender=sender,
        render=RENDERS.get(fault, render_items),
        context=broken if fault == "context" else context,
        send_time=lambda moment: moment + LEASE,
    )
    assert (report.failed, report.dead, sender.sent) == (1, 0, [])
    with session_factory() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert delivery.status == "failed" and delivery.next_attempt_at > T0
        [attempt] = session.scalars(select(DeliveryAttempt)).all()
        assert not attempt.ok and not attempt.permanent
        assert attempt.error and attempt.error.startswith("消息生成失败")
        assert session.get(Notice, notice).status == "pending"  # type: ignore[union-attr]
    # Fixed (a template corrected, data repaired): the next pass sends it once.
    report = dispatch(
        session_factory,
        now=NEXT_DAY,
        sender=sender,
        render=render_items,
        context=context,
        send_time=at_once,
    )
    assert report.sent == 1 and len(sender.sent) == 1
    with session_factory() as session:
        assert session.get(Notice, notice).status == "sent"  # type: ignore[union-attr]


@dataclass
class AcceptsOnePart(RecordingSender):
    """The first send has its first part accepted and then fails; records the
    ``skip_parts`` every send was given."""

    calls: list[tuple[int, str]] = field(default_factory=list)

    def send(self, url: str, message: Any, **kwargs: Any) -> Any:
        self.calls.append((int(kwargs.get("skip_parts", 0)), message.text))
        if len(self.calls) == 1:
            return PartlySent()
        return super().send(url, message, **kwargs)


@dataclass(frozen=True)
class PartlySent:
    ok: bool = False
    permanent: bool = False
    error: str | None = "企业微信系统繁忙(errcode -1)"
    parts_sent: int = 1


def test_a_message_partly_accepted_is_retried_from_the_first_part_not_accepted(
    session_factory: sessionmaker[Session], world: World, calendar: WorkCalendar
) -> None:
    add_contacts(session_factory)
    add_notice(session_factory, world.lead)
    route(session_factory, now=T0, send_time=at_once, clock=CLOCK)
    sender = AcceptsOnePart()
    renders = iter(["as first composed", "composed again, differently"])

    def render(template: str, context: Any) -> Message:
        return Message(f"[{template}]", next(renders), ())

    for now in (T0, NEXT_DAY):
        dispatch(session_factory, now=now, sender=sender, render=render,
                 context=delivery_context(calendar), send_time=at_once)
    # The same message as first composed, from its second part on.
    assert sender.calls == [(0, "as first composed"), (1, "as first composed")]
    with session_factory() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.status, delivery.parts_sent, delivery.partial) == ("sent", 1, None)


def test_a_delivery_a_router_left_empty_is_closed_not_a_crash(
    session_factory: sessionmaker[Session], world: World, calendar: WorkCalendar
) -> None:
    """Two routers at once on SQLite: one creates the day's delivery, then finds
    its notice routed by the other (the digest of nothing raised IndexError)."""
    add_contacts(session_factory)
    with session_factory.begin() as session:
        channel = session.scalars(
            select(ContactChannel).where(ContactChannel.url == COORDINATOR_URL)
        ).one()
        session.add(Delivery(channel_id=channel.id, contact_id=channel.contact_id,
                             day=T0.date(), batch=1, status="pending", attempts=0,
                             not_before=T0, next_attempt_at=T0, created_at=T0))
    sender = RecordingSender()
    report = dispatch(session_factory, now=T0, sender=sender, render=render_items,
                      context=delivery_context(calendar), send_time=at_once)
    assert (report.superseded, report.failed, sender.sent) == (1, 0, [])
    with session_factory() as session:
        assert session.scalars(select(Delivery.status)).one() == "superseded"


def test_the_attempt_is_recorded_once_the_database_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database restarting while a message went out: recording the attempt
    is tried again (for about 15 s) rather than leaving the message to be sent
    again when its claim runs out."""
    monkeypatch.setattr(sending, "RECORD_RETRY_PAUSES", (0.0, 0.0, 0.0))
    tries: list[int] = []

    def record() -> Any:
        tries.append(1)
        if len(tries) < 3:
            raise OperationalError("UPDATE deliveries", {}, Exception("server closed"))
        return "recorded"

    assert sending._recorded(record, 7) == "recorded" and len(tries) == 3
    tries.clear()

    def never() -> Any:
        tries.append(1)
        raise OperationalError("UPDATE deliveries", {}, Exception("connection refused"))

    with pytest.raises(OperationalError):
        sending._recorded(never, 7)
    assert len(tries) == 4


@dataclass(eq=False)
class BigMessage:
    title: str
    text: str
    html: str


def test_a_batch_holds_no_message_it_has_sent_and_records_each_title_and_text(
    session_factory: sessionmaker[Session], world: World, calendar: WorkCalendar
) -> None:
    add_contacts(session_factory)
    for task_id in (world.lead, world.support, world.single):
        add_notice(session_factory, task_id)
    route(session_factory, now=T0, send_time=at_once, clock=CLOCK)
    rendered: list[weakref.ref[BigMessage]] = []
    alive_at_each_send: list[int] = []

    def render(template: str, context: Any) -> BigMessage:
        message = BigMessage(context["recipient_name"], f"正文 {len(rendered)}", "<p>" * 1000)
        rendered.append(weakref.ref(message))
        return message

    sent: list[tuple[str, str]] = []

    class CountsTheLiving:
        """Keeps what it sent as text only, so only the dispatcher may hold a message."""

        def send(self, url: str, message: Any, **_: Any) -> Sent:
            gc.collect()
            alive_at_each_send.append(sum(1 for ref in rendered[:-1] if ref() is not None))
            sent.append((message.title, message.text))
            return Sent()

    report = dispatch(session_factory, now=T0, sender=CountsTheLiving(), render=render,
                      context=delivery_context(calendar), send_time=at_once)
    assert report.sent == len(sent) >= 3
    assert alive_at_each_send == [0] * report.sent
    with session_factory() as session:
        recorded = {(d.title, d.body) for d in session.scalars(select(Delivery))}
    assert recorded == set(sent)


def test_a_batch_builds_each_message_just_before_sending_it(
    session_factory: sessionmaker[Session], world: World, calendar: WorkCalendar
) -> None:
    """A large plan's first digests carry a thousand items each: a batch holds
    one message's context at a time, not the whole batch's."""
    add_contacts(session_factory)
    for task_id in (world.lead, world.support, world.single):
        add_notice(session_factory, task_id)
    route(session_factory, now=T0, send_time=at_once, clock=CLOCK)
    built: list[OutgoingMessage] = []
    seen_at_each_send: list[tuple[int, int]] = []  # (messages built, contexts still held)

    def builder(
        session: Session, delivery: Delivery, context: DeliveryContext, now: Any
    ) -> OutgoingMessage:
        message = notice_message(session, delivery, context, now)
        built.append(message)
        return message

    class CountsTheBuilt(RecordingSender):
        def send(self, url: str, message: Any, **kwargs: Any) -> Sent:
            seen_at_each_send.append((len(built), sum(1 for m in built if m.context)))
            return super().send(url, message, **kwargs)

    sender = CountsTheBuilt()
    report = dispatch(session_factory, now=T0, sender=sender, render=render_items,
                      context=delivery_context(calendar), send_time=at_once,
                      builders={DeliveryKind.NOTICES: builder})
    assert report.sent == len(sender.sent) >= 3
    assert seen_at_each_send == [(n, 1) for n in range(1, report.sent + 1)]
    with session_factory() as session:
        assert {d.status for d in session.scalars(select(Delivery))} == {"sent"}


@dataclass(frozen=True)
class Composed:
    template: str
    values: dict[str, Any]
    title: str = "标题"
    text: str = "正文"


@pytest.mark.parametrize("preload_items", [1, 2, sending.PRELOAD_ITEMS], ids=str)
def test_messages_read_a_few_deliveries_at_a_time_say_what_each_composed_alone_says(
    session_factory: sessionmaker[Session],
    world: World,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    preload_items: int,
) -> None:
    """Whether a batch reads its deliveries' rows one delivery at a time, a few
    together, or all at once, each message's context is the one composed for
    that delivery alone in a fresh session (no preload)."""
    add_contacts(session_factory)
    for task_id in (world.lead, world.support, world.single):
        add_notice(session_factory, task_id)
    route(session_factory, now=T0, send_time=at_once, clock=CLOCK)
    context = delivery_context(calendar)
    expected: dict[str, tuple[str, dict[str, Any]]] = {}
    with session_factory() as session:
        ids = list(session.scalars(select(Delivery.id).order_by(Delivery.id)))
    for delivery_id in ids:
        with session_factory() as session:
            delivery = session.get(Delivery, delivery_id)
            assert delivery is not None
            expected[delivery.channel.url] = compose(session, delivery, context, T0)
    monkeypatch.setattr(sending, "PRELOAD_ITEMS", preload_items)
    sender = RecordingSender()
    report = dispatch(session_factory, now=T0, sender=sender,
                      render=lambda template, values: Composed(template, copy.deepcopy(values)),
                      context=context, send_time=at_once)
    assert report.sent == len(expected) >= 3
    assert {url: (m.template, m.values) for url, m in sender.sent} == expected


@pytest.mark.parametrize(
    ("sizes", "runs"),
    [
        ([], []),
        ([3, 4, 2], [[3, 4, 2]]),
        ([600, 400, 1], [[600, 400], [1]]),
        ([1200, 5, 5], [[1200], [5, 5]]),
        ([5, 1200, 5], [[5], [1200], [5]]),
        ([0, 1000, 0], [[0, 1000, 0]]),
    ],
    ids=["none", "small", "cut-at-limit", "large-first", "large-between", "empty-ones"],
)
def test_a_batch_is_read_in_runs_of_at_most_the_preload_limit(
    sizes: list[int], runs: list[list[int]]
) -> None:
    live = [sending.Claimed(delivery_id, "pending", 1) for delivery_id in range(len(sizes))]
    groups = sending._groups(live, dict(enumerate(sizes)))
    assert [[sizes[c.delivery_id] for c in group] for group in groups] == runs
    assert [c for group in groups for c in group] == live


def test_a_message_after_a_revocation_links_with_the_new_generation(
    session_factory: sessionmaker[Session], world: World, calendar: WorkCalendar
) -> None:
    add_contacts(session_factory)
    with session_factory() as session:
        health = session.scalars(select(Task.department_id).where(Task.id == world.lead)).one()
    for _ in range(2):  # generation 2: neither the first nor the last revoked one
        revoke_links(health, actor="督办科(测试)", now=T0, session_factory=session_factory)
    add_notice(session_factory, world.lead)
    route(session_factory, now=T0, send_time=at_once, clock=CLOCK)
    signer = LinkSigner("test-signing-key", max_age=timedelta(days=30))
    links: list[str] = []

    def render(template: str, context: dict[str, Any]) -> Message:
        links.extend(item["link"] for item in context["items"])
        return render_items(template, context)

    report = dispatch(
        session_factory,
        now=T0,
        sender=RecordingSender(),
        render=render,
        context=replace(
            delivery_context(calendar), base_url="https://duban.test", link_signer=signer
        ),
        send_time=at_once,
    )
    assert report.sent >= 1 and links
    with session_factory() as session:
        for link in links:
            token = link.split("?k=", 1)[1]
            assert signer.read(token, now=T0, session=session).department_id == health
