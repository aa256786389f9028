"""The outbox: route due notices to recipients' channels, then deliver them.

Routing turns each pending notice into delivery items: one per channel of each
recipient the ladder step names (liaison, head, coordinators, supervisors, the
measure's lead department). Items of one channel for one sending day share one
delivery — the day's digest. A delivery is recorded before it is sent.

Delivering claims a delivery with a compare-and-set on (status, attempts), so
two dispatchers never send the same delivery; renders it (one item: the step's
template; several: the digest); sends it; records the attempt. Nothing is given
up on a transient failure (refused connection, timeout, a busy or rate-limited
server, an error while composing the message): the delivery is retried with
back-off capped at two hours, inside office hours, day after day. Before each
retry the notices it carries are checked with the sweep's rule
(:func:`duban.domain.escalation.stale_reason`): those no longer worth sending
(the task finished, a newer reminder of the same kind fell due) are dropped and
recorded as superseded, and a delivery left with nothing to say is superseded
itself. Only a permanent failure (a bad or unknown address, a rejected key)
marks it dead at once and queues a ``delivery_failed`` notice for the
coordinators. A delivery held up for long is shown on the coordinators' desk
(:func:`duban.services.tasks.desk.blocked_deliveries`).

A message split into parts (WeCom) records how many parts the channel accepted
and the message as sent (``parts_sent``, ``partial``): a retry sends the same
message from the first part not accepted, never a part twice.

Routing and delivering run at once in several processes: routing locks the
delivery it adds an item to, so a claim waits for that item (see
``_open_delivery``); a delivery's outcome applies only to the notices its
message carried; a worker whose claim was taken over (its lease ran out while
it was sending) records its attempt but leaves the delivery's state alone.

Exactly-once limit: if the process dies after the channel accepted a message
but before the attempt is recorded — or takes longer than the lease to send —
the claim's lease expires and the delivery is sent again: at worst once more.
Nothing is ever lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from duban.db import insert_for
from duban.domain.escalation import (
    DELIVERY_FAILED,
    Anchor,
    Audience,
    LadderStep,
    Occurrence,
    StepKey,
    next_rung,
    next_step_after,
    stale_reason,
    step_by_name,
)
from duban.domain.items import item_source_text
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.accounts.links import LinkSigner, task_link
from duban.services.accounts.org import ContactWithChannels, contacts_for
from duban.services.ladder.core import LEASE, OrgClock, policy_for, timeline_of
from models import (
    ContactChannel,
    Delivery,
    DeliveryAttempt,
    DeliveryItem,
    Department,
    Measure,
    Notice,
    Task,
)

LOG = logging.getLogger(__name__)
ROLE_LABELS = {"lead": "牵头", "supporting": "配合"}
AUDIENCE_LABELS = {
    "liaison": "联络员",
    "head": "负责人",
    "coordinators": "督办科",
    "supervisors": "督查室",
    "lead_department": "牵头单位联络员",
}
FAILED_STEP = DELIVERY_FAILED
# Deliveries of notices use batches 1, 2, … per channel and day; lower batches
# are scheduled reports without notices (duban.services.reports.digest).
FIRST_NOTICE_BATCH = 1


class Rendered(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...


class Outcome(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def permanent(self) -> bool: ...
    @property
    def error(self) -> str | None: ...


class MessageSender(Protocol):
    # ``attachments`` is passed only for scheduled reports (the weekly digest);
    # ``skip_parts`` only when an earlier attempt had parts of the message
    # accepted (the outcome's ``parts_sent``, when it has one, counts them all).
    def send(
        self, url: str, message: Any, *, attachments: Sequence[Path] = (), skip_parts: int = 0
    ) -> Outcome: ...


RenderFn = Callable[[str, Mapping[str, Any]], Rendered]
SendTimeFn = Callable[[datetime], datetime]


@dataclass
class RouteReport:
    routed: int = 0
    items: int = 0
    deliveries: set[int] = field(default_factory=set)
    unroutable: int = 0


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    superseded: int = 0
    claimed_elsewhere: int = 0


# --------------------------------------------------------------------- routing


def _step_of(session: Session, notice: Notice, task: Task) -> LadderStep | None:
    name = StepKey.parse(notice.step).name
    if name == FAILED_STEP:
        return None
    return step_by_name(policy_for(session, task.policy_id), name)


def _recipients(session: Session, task: Task, audience: Sequence[str]) -> list[ContactWithChannels]:
    """Active contacts (with active channels) for the audience of a step."""
    wanted: list[tuple[int | None, str]] = []
    for who in audience:
        if who == Audience.LIAISON:
            wanted.append((task.department_id, "liaison"))
        elif who == Audience.HEAD:
            wanted.append((task.department_id, "head"))
        elif who == Audience.COORDINATORS:
            wanted.append((None, "coordinator"))
        elif who == Audience.SUPERVISORS:
            wanted.append((None, "supervisor"))
        elif who == Audience.LEAD_DEPARTMENT and task.role == "supporting":
            leads = session.scalars(
                select(Task.department_id).where(
                    Task.measure_id == task.measure_id,
                    Task.role == "lead",
                    Task.deadline == task.deadline,
                )
            )
            wanted.extend((lead, "liaison") for lead in leads)
    contacts: list[ContactWithChannels] = []
    for department_id, role in wanted:
        for contact in contacts_for(session, department_id=department_id, role=role):
            if all(c.contact_id != contact.contact_id for c in contacts):
                contacts.append(contact)
    return contacts


def _open_delivery(
    session: Session,
    channel_id: int,
    contact_id: int,
    day: date,
    not_before: datetime,
    now: datetime,
) -> int:
    """The id of the channel's still-unsent delivery for ``day`` (creating one),
    locked until the caller's transaction ends.

    The lock closes a race with :func:`dispatch`: without it, a dispatcher could
    claim the delivery between this read and the caller's commit and send it
    without the item the caller is adding. Held, the dispatcher's claim waits
    and then sees the item; if the claim came first, the row reads as claimed
    and the next batch is used. FOR NO KEY UPDATE is the lock the claim's
    UPDATE takes, so it conflicts with exactly that, not with rows referring
    to the delivery. (SQLite has no row locks; it serialises writers anyway.)
    Callers lock several channels' deliveries in one transaction in channel id
    order, so two routers never wait for each other in a cycle."""
    batch = FIRST_NOTICE_BATCH
    while True:
        session.execute(
            insert_for(session, Delivery)
            .values(
                channel_id=channel_id,
                contact_id=contact_id,
                day=day,
                batch=batch,
                status="pending",
                attempts=0,
                not_before=not_before,
                next_attempt_at=not_before,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel_id", "day", "batch"])
        )
        row = session.execute(
            select(Delivery.id, Delivery.status, Delivery.attempts)
            .where(Delivery.channel_id == channel_id, Delivery.day == day, Delivery.batch == batch)
            .with_for_update(key_share=True)
        ).one()
        if row.status == "pending" and row.attempts == 0:
            return int(row.id)
        batch += 1  # today's digest already went out: a new one


open_delivery = _open_delivery  # for the desk's redirect (duban.services.tasks.desk)


def route(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    send_time: SendTimeFn,
    clock: OrgClock | None = None,
    limit: int | None = None,
) -> RouteReport:
    """Hand every pending, due, unrouted notice to deliveries (see module doc).

    ``send_time(moment)`` gives the first instant inside office hours on a
    working day at or after ``moment``. A notice nobody can receive is marked
    failed with the reason."""
    clock = clock or OrgClock()
    report = RouteReport()
    with session_factory() as session:
        query = (
            select(Notice.id)
            .where(
                Notice.status == "pending",
                Notice.due_at <= now,
                ~exists().where(DeliveryItem.notice_id == Notice.id),
            )
            .order_by(Notice.due_at, Notice.id)
        )
        ids = list(session.scalars(query.limit(limit) if limit else query))
    for notice_id in ids:
        with session_factory.begin() as session:
            # Locked while routing: a sweep dropping a finished task's unrouted
            # notices waits, then sees this notice's items (sweep._supersede_unrouted).
            notice = session.get(Notice, notice_id, with_for_update=True)
            if notice is None or notice.status != "pending":
                continue
            if session.scalar(select(exists().where(DeliveryItem.notice_id == notice_id))):
                # Another router routed it while this one waited for the lock;
                # going on would open an empty delivery next to the claimed one.
                continue
            task = session.get(Task, notice.task_id)
            assert task is not None
            step = _step_of(session, notice, task)
            audience = [str(a) for a in step.audience] if step else [Audience.COORDINATORS.value]
            contacts = _recipients(session, task, audience)
            channels = sorted(  # channel id order: see _open_delivery
                ((c, contact.contact_id) for contact in contacts for c in contact.channels),
                key=lambda pair: pair[0].id,
            )
            if not channels:
                notice.status = "failed"
                department = session.get(Department, task.department_id)
                names = "、".join(AUDIENCE_LABELS.get(a, a) for a in audience)
                notice.reason = (
                    f"无人可收:{department.name if department else ''}的{names}未配置联系方式"
                )
                report.unroutable += 1
                continue
            send_at = send_time(max(now, notice.due_at))
            day = clock.today(send_at)
            for channel, contact_id in channels:
                delivery_id = _open_delivery(session, channel.id, contact_id, day, send_at, now)
                inserted = session.execute(
                    insert_for(session, DeliveryItem)
                    .values(delivery_id=delivery_id, notice_id=notice.id, channel_id=channel.id)
                    .on_conflict_do_nothing(index_elements=["notice_id", "channel_id"])
                    .returning(DeliveryItem.id)
                ).scalar_one_or_none()
                if inserted is not None:
                    report.items += 1
                    report.deliveries.add(delivery_id)
            report.routed += 1
    return report


# ------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class DeliveryContext:
    base_url: str | None
    sender_name: str
    calendar: WorkCalendar
    clock: OrgClock
    # Signs the department links in messages; built once per round from the
    # round's settings (None: from the environment's settings).
    link_signer: LinkSigner | None = None


def backoff(attempts: int) -> timedelta:
    """Wait before retry ``attempts`` (1-based): 1, 2, 4 … minutes, at most 2 hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 120))


def dispatch(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    sender: MessageSender,
    render: RenderFn,
    context: DeliveryContext,
    send_time: SendTimeFn,
    worker: str = "local",
    limit: int | None = None,
) -> DispatchReport:
    """Send every delivery that is due (or whose claim lease expired).

    Once a send finds its server unreachable (the sender's ``server_of`` names
    servers), the other deliveries through that server are not tried in this
    pass: they wait for the same retry moment (counted as failed, no attempt
    recorded), so an outage costs one attempt per server and retry, not one
    per message."""
    report = DispatchReport()
    with session_factory() as session:
        query = (
            select(Delivery.id, Delivery.status, Delivery.attempts, ContactChannel.url)
            .join(ContactChannel, ContactChannel.id == Delivery.channel_id)
            .where(
                or_(
                    and_(
                        Delivery.status.in_(("pending", "failed")),
                        Delivery.next_attempt_at <= now,
                        Delivery.not_before <= now,
                    ),
                    and_(Delivery.status == "sending", Delivery.claimed_at < now - LEASE),
                )
            )
            .order_by(Delivery.next_attempt_at, Delivery.id)
        )
        candidates = session.execute(query.limit(limit) if limit else query).all()
    server_of = getattr(sender, "server_of", None)
    down: dict[str, datetime] = {}
    waiting: list[tuple[int, str, int, datetime]] = []
    for delivery_id, status, attempts, url in candidates:
        server = server_of(url) if callable(server_of) else None
        if server is not None and server in down and status != "sending":
            waiting.append((delivery_id, status, attempts, down[server]))
            continue
        if not _claim(session_factory, delivery_id, status, attempts, now, worker):
            report.claimed_elsewhere += 1
            continue
        done = _deliver(
            session_factory,
            delivery_id,
            now=now,
            sender=sender,
            render=render,
            context=context,
            send_time=send_time,
            worker=worker,
        )
        setattr(report, done.kind, getattr(report, done.kind) + 1)
        if server is not None and done.unreachable and done.retry_at is not None:
            down[server] = done.retry_at
    if waiting:
        deferred = _defer(session_factory, waiting)
        report.failed += deferred
        report.claimed_elsewhere += len(waiting) - deferred
    return report


def _defer(
    session_factory: sessionmaker[Session], waiting: list[tuple[int, str, int, datetime]]
) -> int:
    """Move unclaimed deliveries' next attempt to the moment given with each
    (compare-and-set on status and attempts, in one transaction); returns how
    many moved."""
    moved = 0
    with session_factory.begin() as session:
        for delivery_id, status, attempts, until in waiting:
            result = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == status,
                    Delivery.attempts == attempts,
                )
                .values(next_attempt_at=until)
                .execution_options(synchronize_session=False)
            )
            moved += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return moved


@dataclass(frozen=True)
class _Done:
    kind: str  # the DispatchReport field it counts in
    retry_at: datetime | None = None
    unreachable: bool = False


def _claim(
    session_factory: sessionmaker[Session],
    delivery_id: int,
    status: str,
    attempts: int,
    now: datetime,
    worker: str,
) -> bool:
    with session_factory.begin() as session:
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id, Delivery.status == status, Delivery.attempts == attempts
            )
            .values(status="sending", claimed_at=now, claimed_by=worker, attempts=attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _deliver(
    session_factory: sessionmaker[Session],
    delivery_id: int,
    *,
    now: datetime,
    sender: MessageSender,
    render: RenderFn,
    context: DeliveryContext,
    send_time: SendTimeFn,
    worker: str,
) -> _Done:
    """Send one claimed delivery and record the attempt; returns what came of
    it. Never raises for the message or the channel: only a database error
    leaves the claim to expire."""
    if _drop_stale(session_factory, delivery_id, context=context, now=now):
        return _Done("superseded")
    report = None
    template, message_context = "", {}
    unbuilt: Exception | None = None
    stored: StoredMessage | None = None
    with session_factory() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        skip_parts = delivery.parts_sent
        if skip_parts and delivery.partial:
            # Parts of this message were accepted: the rest of the same message goes.
            stored = StoredMessage.from_data(delivery.partial)
        elif not delivery.items and delivery.batch >= FIRST_NOTICE_BATCH:
            stored = None  # nothing to say (see below)
        else:
            try:
                if delivery.batch < FIRST_NOTICE_BATCH:
                    # A scheduled report (the weekly digest) carries no notices.
                    # Imported here: the digest module builds on this one.
                    from duban.services.reports.digest import report_message

                    report = report_message(session, delivery, context, now)
                    template, message_context = report.template, report.context
                else:
                    template, message_context = build_message_context(
                        session, delivery, context, now
                    )
            except Exception as err:  # recorded as a failed attempt below, never left 'sending'
                LOG.exception("delivery %s: its content could not be built", delivery_id)
                session.rollback()
                unbuilt = err
        # What the message carries: only these notices are marked sent (or failed).
        rendered = [item.notice_id for item in delivery.items]
        url = delivery.channel.url
        attempts = delivery.attempts
        empty = not rendered and delivery.batch >= FIRST_NOTICE_BATCH
    if empty:
        # A router created it and then found its notice routed by another one.
        return _Done(_set_superseded(session_factory, delivery_id, attempts, now))
    message: Any | None
    outcome: Outcome
    try:
        if stored is not None:
            message = stored
        elif unbuilt is not None:
            raise unbuilt
        else:
            message = render(template, message_context)
    except Exception as err:  # a bug or bad data must not stop the other deliveries
        LOG.exception("delivery %s: its message could not be composed", delivery_id)
        message = None
        outcome = _Failure(permanent=False, error=f"消息生成失败:{type(err).__name__}")
    else:
        extra: dict[str, Any] = {"skip_parts": skip_parts} if skip_parts else {}
        if report is not None and report.attachments:
            extra["attachments"] = report.attachments
        outcome = sender.send(url, message, **extra)
    finally:
        if report is not None:
            report.discard()

    def record() -> _Done:
        with session_factory.begin() as session:
            # Locked, so no claim can slip in between the check below and the record.
            delivery = session.get(Delivery, delivery_id, with_for_update={"key_share": True})
            assert delivery is not None
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery_id,
                    at=now,
                    ok=outcome.ok,
                    permanent=outcome.permanent,
                    error=outcome.error,
                    worker=worker,
                )
            )
            if delivery.attempts != attempts:
                # The lease ran out while sending and another worker claimed the
                # delivery again: its outcome sets the state, not this stale one
                # (which, failed, would queue a third send or report a false failure).
                return _Done("claimed_elsewhere")
            if message is not None:
                delivery.title = message.title
                delivery.body = message.text
            parts = int(getattr(outcome, "parts_sent", 0) or 0)
            if not outcome.ok and parts > delivery.parts_sent and message is not None:
                delivery.parts_sent = parts
                delivery.partial = StoredMessage.of(message).to_data()
            _move_unrendered(session, delivery, rendered, now)
            if outcome.ok:
                delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
                delivery.partial = None
                session.flush()
                _mark_notices_sent(session, rendered)
                return _Done("sent")
            delivery.last_error = outcome.error
            if outcome.permanent:
                delivery.status = "dead"
                session.flush()
                _mark_notices_failed(session, rendered, delivery, now)
                return _Done("dead")
            delivery.status = "failed"
            delivery.next_attempt_at = send_time(now + backoff(attempts))
            return _Done(
                "failed", delivery.next_attempt_at, bool(getattr(outcome, "unreachable", False))
            )

    return _recorded(record, delivery_id)



def _recorded(record: Callable[[], _Done], delivery_id: int) -> _Done:
    """Run ``record`` (the attempt's transaction), again after a lost database
    connection, for about 15 seconds (a database restarting): a message that
    went out is then recorded as sent instead of being sent again when its
    claim's lease runs out. Raises what the last try raised."""
    for pause in (*RECORD_RETRY_PAUSES, None):
        try:
            return record()
        except (OperationalError, InterfaceError) as err:
            if pause is None:
                raise
            LOG.warning("delivery %s: attempt not recorded yet (%s); retrying",
                        delivery_id, type(err).__name__)
            time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


RECORD_RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class StoredMessage:
    """A rendered message as kept on a delivery whose parts were partly accepted."""

    title: str
    text: str
    html: str = ""
    markdown: str = ""

    @classmethod
    def of(cls, message: Any) -> StoredMessage:
        return cls(
            title=str(message.title),
            text=str(message.text),
            html=str(getattr(message, "html", "") or ""),
            markdown=str(getattr(message, "markdown", "") or ""),
        )

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StoredMessage:
        return cls(**{k: str(data.get(k) or "") for k in ("title", "text", "html", "markdown")})

    def to_data(self) -> dict[str, str]:
        return dict(title=self.title, text=self.text, html=self.html, markdown=self.markdown)


def _set_superseded(
    session_factory: sessionmaker[Session], delivery_id: int, attempts: int, now: datetime
) -> str:
    """Close a claimed delivery that has nothing left to send."""
    with session_factory.begin() as session:
        delivery = session.get(Delivery, delivery_id, with_for_update={"key_share": True})
        assert delivery is not None
        if delivery.attempts != attempts:
            return "claimed_elsewhere"
        if delivery.items:
            # Joined meanwhile (should not happen: routing skips claimed deliveries).
            delivery.status, delivery.next_attempt_at = "failed", now
            return "failed"
        delivery.status = "superseded"
        return "superseded"


def _drop_stale(
    session_factory: sessionmaker[Session],
    delivery_id: int,
    *,
    context: DeliveryContext,
    now: datetime,
) -> bool:
    """Before a retry: take in the channel's other held-up deliveries (one
    message with everything still unsent, not one per day of an outage), then
    drop the notices no longer worth sending (see the module doc). True when
    none is left and the delivery was marked superseded.

    A first attempt, a scheduled report and a message with parts already
    accepted are left as they are. The check never stops a send: if it fails,
    the delivery goes as it is."""
    try:
        with session_factory() as session:
            delivery = session.get(Delivery, delivery_id, with_for_update={"key_share": True})
            if (
                delivery is None
                or delivery.attempts <= 1
                or delivery.batch < FIRST_NOTICE_BATCH
                or delivery.parts_sent
                or delivery.status != "sending"
            ):
                return False
            merged = _take_in_held_up(session, delivery)
            today = context.clock.today(now)
            stale: list[tuple[DeliveryItem, Notice, str]] = []
            for item in delivery.items:
                notice = session.get(Notice, item.notice_id)
                task = session.get(Task, notice.task_id) if notice is not None else None
                if notice is None or task is None:
                    continue
                reason = stale_reason(
                    timeline_of(session, task, context.clock.zone),
                    policy_for(session, task.policy_id),
                    context.calendar,
                    today=today,
                    key=notice.step,
                )
                if reason:
                    stale.append((item, notice, reason))
            if not stale and not merged:
                session.rollback()
                return False
            everything = bool(stale) and len(stale) == len(delivery.items)
            for item, _notice, _reason in stale:
                delivery.items.remove(item)
            session.flush()
            for _item, notice, reason in stale:
                _settle_dropped(session, notice, reason)
            if stale:
                LOG.info("delivery %s: %d notice(s) superseded before a retry", delivery_id,
                         len(stale))
            if everything:
                delivery.status = "superseded"
            session.commit()
            return everything
    except Exception:
        LOG.exception("delivery %s: could not check what is still worth sending", delivery_id)
        return False


def _take_in_held_up(session: Session, delivery: Delivery) -> int:
    """Move the items of the channel's other deliveries waiting for a retry
    into ``delivery`` (claimed by the caller); each one taken is closed as
    superseded, with a note naming this one. Compare-and-set on each, so a
    delivery another worker claimed meanwhile is left to it. Returns how many."""
    others = session.execute(
        select(Delivery.id, Delivery.attempts).where(
            Delivery.channel_id == delivery.channel_id,
            Delivery.id != delivery.id,
            Delivery.status == "failed",
            Delivery.parts_sent == 0,
            Delivery.batch >= FIRST_NOTICE_BATCH,
        )
    ).all()
    taken = 0
    for other_id, attempts in others:
        closed = session.execute(
            update(Delivery)
            .where(
                Delivery.id == other_id,
                Delivery.status == "failed",
                Delivery.attempts == attempts,
            )
            .values(status="superseded", last_error=f"已并入发送记录 #{delivery.id} 一并重发")
            .execution_options(synchronize_session=False)
        )
        if closed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        session.execute(
            update(DeliveryItem)
            .where(DeliveryItem.delivery_id == other_id)
            .values(delivery_id=delivery.id)
            .execution_options(synchronize_session=False)
        )
        taken += 1
    if taken:
        session.expire(delivery, ["items"])
    return taken


def _settle_dropped(session: Session, notice: Notice, reason: str) -> None:
    """A notice dropped from one delivery: superseded if no other channel
    carries it, sent if every other one sent it, else still pending."""
    statuses = list(
        session.scalars(
            select(Delivery.status)
            .join(DeliveryItem, DeliveryItem.delivery_id == Delivery.id)
            .where(DeliveryItem.notice_id == notice.id)
        )
    )
    if notice.status != "pending":
        return
    if not statuses:
        notice.status, notice.reason = "superseded", reason
    elif all(status == "sent" for status in statuses):
        notice.status = "sent"


def _move_unrendered(
    session: Session, delivery: Delivery, rendered: list[int], now: datetime
) -> None:
    """Items that joined the delivery after it was rendered go to the channel's
    open delivery, to be sent next instead of being marked sent unsent (or left
    pending forever inside a sent delivery). Routing locks the delivery it adds
    to, so this is a safety net, never expected to act."""
    carried = set(rendered)
    strays = [item.id for item in delivery.items if item.notice_id not in carried]
    if not strays:
        return
    LOG.error("delivery %s: %d item(s) added after rendering; moved", delivery.id, len(strays))
    target = _open_delivery(
        session, delivery.channel_id, delivery.contact_id, delivery.day, delivery.not_before, now
    )
    session.execute(
        update(DeliveryItem)
        .where(DeliveryItem.id.in_(strays))
        .values(delivery_id=target)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class _Failure:
    permanent: bool
    error: str | None
    ok: bool = False


def _mark_notices_sent(session: Session, notice_ids: list[int]) -> None:
    """A notice is sent once every delivery carrying it is sent."""
    for notice_id in notice_ids:
        unsent = session.scalar(
            select(func.count())
            .select_from(DeliveryItem)
            .join(Delivery, Delivery.id == DeliveryItem.delivery_id)
            .where(DeliveryItem.notice_id == notice_id, Delivery.status != "sent")
        )
        if not unsent:
            session.execute(
                update(Notice)
                .where(Notice.id == notice_id, Notice.status == "pending")
                .values(status="sent")
                .execution_options(synchronize_session=False)
            )


mark_notices_sent = _mark_notices_sent  # for the desk's redirect


def _mark_notices_failed(
    session: Session, notice_ids: list[int], delivery: Delivery, now: datetime
) -> None:
    """Record the failure on the notices and tell the coordinators (once per delivery)."""
    privacy = delivery.channel.url_privacy
    reason = f"发送失败:{delivery.contact.name} {privacy}:{delivery.last_error or ''}"
    is_failure_notice = False
    for notice_id in notice_ids:
        notice = session.get(Notice, notice_id)
        if notice is None:
            continue
        is_failure_notice = (
            is_failure_notice or StepKey.parse(notice.step).is_delivery_failure
        )
        if notice.status == "pending":
            notice.status, notice.reason = "failed", reason
    if is_failure_notice or not notice_ids:
        return  # never report a failed failure report: no loops
    first = session.get(Notice, notice_ids[0])
    assert first is not None
    session.execute(
        insert_for(session, Notice)
        .values(
            task_id=first.task_id,
            step=StepKey.delivery_failure(delivery.id).format(),
            status="pending",
            level=0,
            due_at=now,
            created_at=now,
            reason=reason,
        )
        .on_conflict_do_nothing(index_elements=["task_id", "step"])
    )


# ------------------------------------------------------------------ contexts


def build_message_context(
    session: Session, delivery: Delivery, context: DeliveryContext, now: datetime
) -> tuple[str, dict[str, Any]]:
    """The template name and context of a delivery, written for its reader
    (see duban.services.outbox.message and notifications.render)."""
    # Imported here: the messages module builds on this one.
    from duban.services.outbox.message import compose

    return compose(session, delivery, context, now)


def _item_context(
    session: Session, notice: Notice, task: Task, context: DeliveryContext, now: datetime
) -> tuple[dict[str, Any], str]:
    measure = session.get(Measure, task.measure_id)
    department = session.get(Department, task.department_id)
    assert measure is not None and department is not None
    today = context.clock.today(now)
    key = StepKey.parse(notice.step)
    name = key.name
    policy = policy_for(session, task.policy_id)
    next_label: str | None = None
    next_date: str | None = None
    if name == FAILED_STEP:
        label, template, level = "发送失败", FAILED_STEP, 0
    else:
        step = step_by_name(policy, name)
        label, template, level = step.label, step.template_name, step.level
        if step.anchor is Anchor.ANNOUNCE:
            pass  # a one-off message (撤销, 期限调整): no rung follows from it
        elif step.anchor is Anchor.MANUAL:
            # Taken by hand on any day: what follows is the ladder's next rung
            # still ahead (the automatic 催办 and 督办 go on as planned).
            ahead = next_rung(policy, due=task.due, today=today, calendar=context.calendar)
            if ahead is not None:
                next_label, next_date = ahead[0].label, _day_text(ahead[1])
        else:
            occ = Occurrence(notice.step, step, today, key.anchor_date or today)
            following = next_step_after(policy, occ)
            if following is not None:
                next_label = following.label
                next_date = _day_text(
                    context.calendar.maybe_add_workdays(task.due, following.workdays)
                )
    others = session.execute(
        select(Department.name, Task.role)
        .join(Task, Task.department_id == Department.id)
        .where(
            Task.measure_id == task.measure_id, Task.deadline == task.deadline, Task.id != task.id
        )
        .order_by(Task.role, Department.name)
    ).all()
    leads = [n for n, r in others if r == "lead"]
    if task.role == "lead":
        leads = sorted([department.name, *leads])
    days_left: int | None = None
    days_overdue: int | None = None
    if today <= task.due:
        days_left = _known(context.calendar.maybe_count_workdays(today, task.due))
    else:
        days_overdue = _known(context.calendar.maybe_count_workdays(task.due, today))
    link = task_link(  # signed, per department
        session, task, base_url=context.base_url, now=now, signer=context.link_signer
    )
    entry = {
        "step": name,
        "step_label": label,
        "level": level,
        "task_id": task.id,
        "measure_number": measure.number,
        "measure_title": measure.title,
        "department": department.name,
        "role_label": ROLE_LABELS.get(task.role, task.role),
        "due": task.due.isoformat(),
        "original_due": task.original_due.isoformat(),
        "days_left": days_left,
        "days_overdue": days_overdue,
        "next_step_label": next_label,
        "next_step_date": next_date,
        "link": link,
        "other_departments": [f"{n}({ROLE_LABELS.get(r, r)})" for n, r in others],
        "lead_departments": leads,
        # A single 督办件's source, 文号 and instructing leader ("" for a plan's measure).
        "source": item_source_text(measure.source_kind, measure.doc_ref, measure.instructed_by),
        "reason": notice.reason,
        # What a coordinator wrote when taking a step by hand (督办科催办).
        "note": notice.note,
        "requested_by": notice.requested_by,
    }
    return entry, template


def _day_text(day: date | Unpublished) -> str:
    """A step's day as a message prints it: ISO, or 待日历公布."""
    return str(day) if isinstance(day, Unpublished) else day.isoformat()


def _known(count: int | Unpublished) -> int | None:
    """A count of working days, or None (not printed) while it needs an unpublished year."""
    return None if isinstance(count, Unpublished) else count
