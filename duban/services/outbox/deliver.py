"""Delivering: send each due delivery once, record the attempt.

Delivering claims a delivery with a compare-and-set on (status, attempts), so
two dispatchers never send the same delivery; builds its message with the
caller's builder for its kind (:mod:`duban.services.outbox.contract`); renders
it; sends it; records the attempt. Nothing is given up on a transient failure
(refused connection, timeout, a busy or rate-limited server, an error while
composing the message): the delivery is retried with back-off capped at two
hours, inside office hours, day after day; before each retry the notices no
longer worth sending are dropped (:mod:`duban.services.outbox.records`). Only
a permanent failure (a bad or unknown address, a rejected key) marks it dead at
once and queues a ``delivery_failed`` notice for the coordinators. A delivery
held up for long is shown on the coordinators' desk
(:func:`duban.services.desk.review.blocked_deliveries`).

A message split into parts (WeCom) records how many parts the channel accepted
and the message as sent (``parts_sent``, ``partial``): a retry sends the same
message from the first part not accepted, never a part twice.

A delivery's outcome applies only to the notices its message carried; a worker
whose claim was taken over (its lease ran out while it was sending) records
its attempt but leaves the delivery's state alone.

Exactly-once limit: if the process dies after the channel accepted a message
but before the attempt is recorded — or takes longer than the lease to send —
the claim's lease expires and the delivery is sent again: at worst once more.
Nothing is ever lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from duban.services.outbox.contract import (
    FIRST_NOTICE_BATCH,
    Builders,
    DeliveryContext,
    DeliveryKind,
    MessageBuilder,
    MessageSender,
    Outcome,
    OutgoingMessage,
    RenderFn,
    SendTimeFn,
    delivery_due,
    kind_of,
)
from duban.services.outbox.message import notice_message
from duban.services.outbox.records import (
    drop_stale,
    mark_notices_failed,
    mark_notices_sent,
    move_unrendered,
    set_superseded,
)
from models import ContactChannel, Delivery, DeliveryAttempt

LOG = logging.getLogger(__name__)
DEFAULT_BUILDERS: Builders = {DeliveryKind.NOTICES: notice_message}


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    superseded: int = 0
    claimed_elsewhere: int = 0



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
    builders: Builders = DEFAULT_BUILDERS,
) -> DispatchReport:
    """Send every delivery that is due (or whose claim lease expired).

    Once a send finds its server unreachable (the sender's ``server_of`` names
    servers), the other deliveries through that server are not tried in this
    pass: they wait for the same retry moment (counted as failed, no attempt
    recorded), so an outage costs one attempt per server and retry, not one
    per message. ``builders`` write each kind of delivery's message (a
    delivery of a kind without one fails its attempt)."""
    report = DispatchReport()
    with session_factory() as session:
        query = (
            select(Delivery.id, Delivery.status, Delivery.attempts, ContactChannel.url)
            .join(ContactChannel, ContactChannel.id == Delivery.channel_id)
            .where(delivery_due(now))
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
            builders=builders,
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
    builders: Builders,
) -> _Done:
    """Send one claimed delivery and record the attempt; returns what came of
    it. Never raises for the message or the channel: only a database error
    leaves the claim to expire."""
    if drop_stale(session_factory, delivery_id, context=context, now=now):
        return _Done("superseded")
    report: OutgoingMessage | None = None
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
                report = _builder(builders, delivery.batch)(session, delivery, context, now)
                template, message_context = report.template, report.context
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
        return _Done(set_superseded(session_factory, delivery_id, attempts, now))
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
            move_unrendered(session, delivery, rendered, now)
            if outcome.ok:
                delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
                delivery.partial = None
                session.flush()
                mark_notices_sent(session, rendered)
                return _Done("sent")
            delivery.last_error = outcome.error
            if outcome.permanent:
                delivery.status = "dead"
                session.flush()
                mark_notices_failed(session, rendered, delivery, now)
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


@dataclass(frozen=True)
class _Failure:
    permanent: bool
    error: str | None
    ok: bool = False


def _builder(builders: Builders, batch: int) -> MessageBuilder:
    kind = kind_of(batch)
    builder = builders.get(kind)
    if builder is None:
        raise LookupError(f"no message builder for {kind} deliveries")
    return builder
