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

Deliveries go in batches (:mod:`duban.services.outbox.sending`): claimed with
one statement, built from a few queries, sent one by one, recorded in one
transaction. Exactly-once limit: if the process dies after a channel accepted a
message but before its batch is recorded — or takes longer than the lease to
send the batch — the claims' lease expires and those deliveries are sent
again: each at worst once more. Nothing is ever lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.escalation import EscalationPolicy
from duban.domain.outbox import DeliveryStatus
from duban.services.outbox.contract import (
    Builders,
    DeliveryContext,
    DeliveryKind,
    MessageSender,
    RenderFn,
    SendTimeFn,
    delivery_due,
)
from duban.services.outbox.message import notice_message
from duban.services.outbox.sending import Batch, Claimed, Servers
from duban.services.outbox.sending import backoff as backoff
from models import ContactChannel, Delivery

DEFAULT_BUILDERS: Builders = {DeliveryKind.NOTICES: notice_message}


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    superseded: int = 0
    claimed_elsewhere: int = 0



DISPATCH_BATCH = 25  # deliveries claimed, built, sent and recorded together


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

    Deliveries go ``DISPATCH_BATCH`` at a time: claimed with one statement,
    their messages built in one session from a few queries, sent one by one,
    and their attempts recorded in one transaction. Once a send finds its
    server unreachable (the sender's ``server_of`` names servers), the other
    deliveries through that server are not tried in this pass: they wait for
    the same retry moment (counted as failed, no attempt recorded), so an
    outage costs one attempt per server and retry, not one per message.
    ``builders`` write each kind of delivery's message (a delivery of a kind
    without one fails its attempt)."""
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
    servers = Servers(server_of if callable(server_of) else None)
    waiting: list[tuple[int, str, int, datetime]] = []
    policies: dict[int, EscalationPolicy] = {}  # read once for every batch
    for start in range(0, len(candidates), DISPATCH_BATCH):
        take = []
        for delivery_id, status, attempts, url in candidates[start : start + DISPATCH_BATCH]:
            until = servers.down_until(url)
            if until is not None and status != DeliveryStatus.SENDING:
                waiting.append((delivery_id, status, attempts, until))
            else:
                take.append((delivery_id, status, attempts))
        if not take:
            continue
        batch = Batch(session_factory, now, context, worker, send_time, policies)
        kinds = _run_batch(
            batch, take, builders=builders, sender=sender, render=render, servers=servers
        )
        for kind in kinds:
            setattr(report, kind, getattr(report, kind) + 1)
    if waiting:
        deferred = _defer(session_factory, waiting)
        report.failed += deferred
        report.claimed_elsewhere += len(waiting) - deferred
    return report


def _run_batch(
    batch: Batch,
    take: list[tuple[int, str, int]],
    *,
    builders: Builders,
    sender: MessageSender,
    render: RenderFn,
    servers: Servers,
) -> list[str]:
    """Claim ``take`` and send the deliveries claimed; returns the
    DispatchReport field of each delivery of ``take``."""
    with _engine(batch.session_factory).connect() as connection:
        # The claim is one statement: it commits on its own, without the BEGIN
        # and COMMIT round trips of a transaction (reset when the connection
        # goes back to the pool). The batch then reads its messages' rows on
        # the same connection (no second checkout and ping, no BEGIN/COMMIT)
        # and lets go of it before recording.
        connection.execution_options(isolation_level="AUTOCOMMIT")
        claimed = _claim(connection, take, batch.now, batch.worker)
        taken = ["claimed_elsewhere"] * (len(take) - len(claimed))
        if not claimed:
            return taken
        return taken + batch.run(
            claimed,
            sender=sender,
            render=render,
            builders=builders,
            servers=servers,
            reads=connection,
        )


def _engine(session_factory: sessionmaker[Session]) -> Engine:
    bind = session_factory.kw["bind"]
    return bind if isinstance(bind, Engine) else bind.engine


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


def _claim(
    connection: Connection,
    wanted: list[tuple[int, str, int]],
    now: datetime,
    worker: str,
) -> list[Claimed]:
    """Claim those of ``wanted`` (id, status, attempts as read) still as read:
    one UPDATE, compare-and-set on each row's status and attempts (on
    PostgreSQL a row another worker is claiming is re-read after its commit),
    committed before this returns."""
    if not wanted:
        return []
    read = {delivery_id: (status, attempts) for delivery_id, status, attempts in wanted}
    got = connection.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(list(read)),
            # One expanding parameter: compiled once, not 3 comparisons a row.
            tuple_(Delivery.id, Delivery.status, Delivery.attempts).in_(
                [(delivery_id, str(status), attempts) for delivery_id, (status, attempts)
                 in read.items()]
            ),
        )
        .values(
            status=DeliveryStatus.SENDING,
            claimed_at=now,
            claimed_by=worker,
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id, Delivery.attempts)
    ).all()
    connection.commit()
    mine = {row.id: row.attempts for row in got}
    return [
        Claimed(delivery_id, status, mine[delivery_id])
        for delivery_id, status, _attempts in wanted
        if delivery_id in mine
    ]
