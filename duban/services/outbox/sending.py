"""One batch of claimed deliveries: messages built, sent, attempts recorded.

The rows the batch's messages need are read in one session with a few queries
(:func:`duban.services.outbox.message.preload`); each message is then built,
rendered, sent and let go of in turn (one message's context held at a time),
and every attempt of the batch is recorded in one transaction, retried while
the database is briefly away (:func:`_recorded`). A process that dies after
sending part of a batch leaves those deliveries claimed: when the lease runs
out they are sent again, each at most once more; nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.domain.escalation import EscalationPolicy
from duban.domain.outbox import DeliveryStatus
from duban.services.ladder.core import share_policies
from duban.services.outbox.contract import (
    FIRST_NOTICE_BATCH,
    Builders,
    DeliveryContext,
    MessageBuilder,
    MessageSender,
    Outcome,
    OutgoingMessage,
    RenderFn,
    SendTimeFn,
    kind_of,
)
from duban.services.outbox.message import forget_preloaded, preload
from duban.services.outbox.records import (
    drop_stale,
    mark_notices_failed,
    mark_notices_sent,
    move_unrendered,
    set_superseded,
)
from models import Delivery, DeliveryAttempt

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    status: str  # before the claim
    attempts: int  # after the claim (this attempt's number)


@dataclass
class _Job:
    claimed: Claimed
    url: str = ""
    skip_parts: int = 0
    rendered: tuple[int, ...] = ()  # the notices the message carries
    empty: bool = False
    built: OutgoingMessage | None = None
    unbuilt: Exception | None = None
    stored: StoredMessage | None = None
    message: Any | None = None
    outcome: Outcome | None = None
    retry_at: datetime | None = None
    held_until: datetime | None = None  # not tried: its server is down


class Servers:
    """Which servers were found unreachable in this pass, and until when."""

    def __init__(self, server_of: Callable[[str], str | None] | None) -> None:
        self.server_of = server_of
        self.down: dict[str, datetime] = {}

    def down_until(self, url: str) -> datetime | None:
        server = self.server_of(url) if self.server_of is not None else None
        return self.down.get(server) if server is not None else None

    def mark(self, url: str, until: datetime) -> None:
        server = self.server_of(url) if self.server_of is not None else None
        if server is not None:
            self.down[server] = until


def backoff(attempts: int) -> timedelta:
    """Wait before retry ``attempts`` (1-based): 1, 2, 4 … minutes, at most 2 hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 120))


@dataclass
class Batch:
    session_factory: sessionmaker[Session]
    now: datetime
    context: DeliveryContext
    worker: str
    send_time: SendTimeFn
    # The escalation policies read by this dispatch's batches (see share_policies).
    policies: dict[int, EscalationPolicy] = field(default_factory=dict)

    def run(
        self,
        claimed: list[Claimed],
        *,
        sender: MessageSender,
        render: RenderFn,
        builders: Builders,
        servers: Servers,
        reads: Connection | None = None,
    ) -> list[str]:
        """Send the claimed deliveries; returns the DispatchReport field each counts in.

        ``reads``, an autocommit connection (the claim's), serves the reads that
        build the messages and is closed (back to the pool) once they are sent,
        before the attempts are recorded; without it they read through a
        session of their own."""
        kinds: list[str] = []
        live: list[Claimed] = []
        for claim in claimed:
            if claim.attempts > 1 and drop_stale(
                self.session_factory, claim.delivery_id, context=self.context, now=self.now
            ):
                kinds.append("superseded")
            else:
                live.append(claim)
        jobs: list[_Job] = []
        built = self._jobs(live, builders, servers, reads)
        try:
            for job in built:
                jobs.append(job)
                if job.empty or job.held_until is not None:
                    continue
                self._send(job, sender, render)
                _release(job)
                if job.retry_at is not None and getattr(job.outcome, "unreachable", False):
                    servers.mark(job.url, job.retry_at)
        finally:
            built.close()  # its session, if a send raised
            if reads is not None:
                reads.close()
            for job in jobs:
                if job.built is not None:
                    job.built.discard()
        first = jobs[0].claimed.delivery_id if jobs else 0
        return kinds + (_recorded(lambda: self._record(jobs), first) if jobs else [])

    def _jobs(
        self,
        live: list[Claimed],
        builders: Builders,
        servers: Servers,
        reads: Connection | None,
    ) -> Generator[_Job, None, None]:
        """The batch's jobs one at a time, each message built just before it is
        sent, so only one message's context is held at a time (a large plan's
        first digests carry a thousand items each, a few MB of context apiece).

        The rows the messages need are read with a few queries for several
        deliveries at once: consecutive deliveries carrying together at most
        ``PRELOAD_ITEMS`` notices (a larger one alone), let go of once their
        messages are built. A batch of small messages is read at once; a batch
        of large digests holds one digest's rows at a time, not the batch's.
        The session's read transaction ends before each job is handed out, so
        none is held open while a message is sent (on ``reads``, an autocommit
        connection, none is opened). A job whose server was found down in this
        pass is not built (``held_until`` set)."""
        session = self.session_factory() if reads is None else self.session_factory(bind=reads)
        with session:
            share_policies(session, self.policies)
            found = {
                d.id: d
                for d in session.scalars(
                    select(Delivery)
                    .where(Delivery.id.in_([c.delivery_id for c in live]))
                    .options(
                        joinedload(Delivery.items),
                        joinedload(Delivery.channel),
                        joinedload(Delivery.contact),
                    )
                ).unique()
            }
            for group in _groups(live, {i: len(d.items) for i, d in found.items()}):
                deliveries = [found.pop(claim.delivery_id) for claim in group]
                held = preload(session, deliveries)  # kept in the identity map while held
                for claim, delivery in zip(group, deliveries, strict=True):
                    job = self._job(session, claim, delivery, builders, servers)
                    # Ends the read transaction (the factory does not expire on
                    # commit: the rows read stay loaded for the next job).
                    session.commit()
                    yield job
                # The identity map holds its objects weakly: these go now.
                del deliveries, held, delivery
                forget_preloaded(session)

    def _job(
        self,
        session: Session,
        claim: Claimed,
        delivery: Delivery,
        builders: Builders,
        servers: Servers,
    ) -> _Job:
        """The job of one claimed delivery, its message built unless it is empty,
        its server down, or the rest of a message partly accepted before."""
        job = _Job(claim, url=delivery.channel.url, skip_parts=delivery.parts_sent)
        # What the message carries: only these notices are marked sent (or failed).
        job.rendered = tuple(item.notice_id for item in delivery.items)
        # A router created it and then found its notice routed by another one.
        job.empty = not job.rendered and delivery.batch >= FIRST_NOTICE_BATCH
        until = servers.down_until(job.url)
        if job.empty:
            pass
        elif until is not None and claim.status != DeliveryStatus.SENDING:
            job.held_until = until  # not tried: recorded as if never claimed
        elif delivery.parts_sent and delivery.partial:
            # Parts of this message were accepted: the rest of the same message goes.
            job.stored = StoredMessage.from_data(delivery.partial)
        elif delivery.items or delivery.batch < FIRST_NOTICE_BATCH:
            try:
                builder = _builder(builders, delivery.batch)
                job.built = builder(session, delivery, self.context, self.now)
            except Exception as err:  # recorded as a failed attempt, never left 'sending'
                LOG.exception("delivery %s: its content could not be built", delivery.id)
                session.rollback()
                job.unbuilt = err
        return job

    def _send(self, job: _Job, sender: MessageSender, render: RenderFn) -> None:
        try:
            if job.stored is not None:
                job.message = job.stored
            elif job.unbuilt is not None:
                raise job.unbuilt
            else:
                assert job.built is not None
                job.message = render(job.built.template, job.built.context)
                _prepare(sender, job.url, job.message)
        except Exception as err:  # a bug or bad data must not stop the other deliveries
            LOG.exception("delivery %s: its message could not be composed", job.claimed.delivery_id)
            job.message = None
            job.outcome = _Failure(permanent=False, error=f"消息生成失败:{type(err).__name__}")
        else:
            extra: dict[str, Any] = {"skip_parts": job.skip_parts} if job.skip_parts else {}
            if job.built is not None and job.built.attachments:
                extra["attachments"] = job.built.attachments
            job.outcome = sender.send(job.url, job.message, **extra)
        if not job.outcome.ok and not job.outcome.permanent:
            job.retry_at = self.send_time(self.now + backoff(job.claimed.attempts))

    def _record(self, jobs: list[_Job]) -> list[str]:
        with self.session_factory.begin() as session:
            # Locked, so no claim can slip in between the checks below and the record.
            rows = {
                d.id: d
                for d in session.scalars(
                    select(Delivery)
                    .where(Delivery.id.in_([job.claimed.delivery_id for job in jobs]))
                    .order_by(Delivery.id)
                    .options(joinedload(Delivery.items))
                    .with_for_update(key_share=True, of=Delivery)
                ).unique()
            }
            sent: list[int] = []
            kinds = [self._record_one(session, rows[j.claimed.delivery_id], j, sent) for j in jobs]
            session.flush()
            left = mark_notices_sent(session, sent)
        if left:
            # A notice carried by two deliveries that two workers recorded at
            # once: on PostgreSQL (read committed) each transaction saw the
            # other's delivery unsent, so neither marked the notice. Checked
            # again after this commit, by whichever committed last, it is.
            with self.session_factory.begin() as session:
                mark_notices_sent(session, left)
        return kinds

    def _record_one(self, session: Session, delivery: Delivery, job: _Job, sent: list[int]) -> str:
        now, attempts = self.now, job.claimed.attempts
        if job.empty:
            return set_superseded(session, delivery, attempts, now)
        if job.held_until is not None:  # claimed, then not tried: as if never claimed
            if delivery.attempts != attempts or delivery.status != DeliveryStatus.SENDING:
                return "claimed_elsewhere"
            delivery.status, delivery.attempts = job.claimed.status, attempts - 1
            delivery.next_attempt_at = job.held_until
            return "failed"
        outcome, message = job.outcome, job.message
        assert outcome is not None
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                at=now,
                ok=outcome.ok,
                permanent=outcome.permanent,
                error=outcome.error,
                worker=self.worker,
            )
        )
        if delivery.attempts != attempts:
            # The lease ran out while sending and another worker claimed the
            # delivery again: its outcome sets the state, not this stale one
            # (which, failed, would queue a third send or report a false failure).
            return "claimed_elsewhere"
        if message is not None:
            delivery.title = message.title
            delivery.body = message.text
        parts = int(getattr(outcome, "parts_sent", 0) or 0)
        if not outcome.ok and parts > delivery.parts_sent and message is not None:
            delivery.parts_sent = parts
            delivery.partial = StoredMessage.of(message).to_data()
        move_unrendered(session, delivery, list(job.rendered), now)
        if outcome.ok:
            delivery.status, delivery.sent_at, delivery.last_error = DeliveryStatus.SENT, now, None
            delivery.partial = None
            sent.extend(job.rendered)
            return "sent"
        delivery.last_error = outcome.error
        if outcome.permanent:
            delivery.status = DeliveryStatus.DEAD
            session.flush()
            mark_notices_failed(session, list(job.rendered), delivery, now)
            return "dead"
        assert job.retry_at is not None  # set for every transient failure
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = job.retry_at
        return "failed"


PRELOAD_ITEMS = 1_000  # notices whose rows are read and held together (see Batch._jobs)


def _groups(live: list[Claimed], items: Mapping[int, int]) -> list[list[Claimed]]:
    """``live`` in order, cut into runs carrying at most ``PRELOAD_ITEMS``
    notices together (``items``: delivery id -> notices it carries); a
    delivery carrying more is a run of its own."""
    groups: list[list[Claimed]] = []
    carried = 0
    for claim in live:
        size = items[claim.delivery_id]
        if not groups or carried + size > PRELOAD_ITEMS:
            groups.append([])
            carried = 0
        groups[-1].append(claim)
        carried += size
    return groups


def _prepare(sender: MessageSender, url: str, message: Any) -> None:
    """Make the parts of ``message`` rendered on first read (its markdown)
    that ``url``'s channel reads: with the sender's ``prepare`` when it has
    one (only WeCom reads markdown), else all of them. A template error is
    raised here, where it fails the attempt like any other composing error."""
    prepare = getattr(sender, "prepare", None)
    if callable(prepare):
        prepare(url, message)
    else:
        getattr(message, "markdown", None)


def _release(job: _Job) -> None:
    """Once ``job`` was tried, keep only what recording its attempt reads: the
    title and text (stored on the delivery), and the whole message only if a
    part of it was accepted (kept for the retry). So a batch lets go of each
    message's context and HTML once it is sent instead of holding every one
    until the batch is recorded: a large plan's first digests carry a thousand
    items (about 1 MB of text, HTML and markdown) each."""
    if job.built is not None:
        job.built.context = {}  # its attachments stay until discard()
    if job.message is not None and job.stored is None:
        parts = int(getattr(job.outcome, "parts_sent", 0) or 0)
        partial = job.outcome is not None and not job.outcome.ok and parts > 0
        # Only a partly accepted (WeCom) message keeps its HTML and markdown,
        # which its channel has read already: an email's is never rendered.
        job.message = (
            StoredMessage.of(job.message)
            if partial
            else StoredMessage(title=str(job.message.title), text=str(job.message.text))
        )


def _recorded(record: Callable[[], list[str]], delivery_id: int) -> list[str]:
    """Run ``record`` (the batch's transaction), again after a lost database
    connection, for about 15 seconds (a database restarting): messages that
    went out are then recorded as sent instead of being sent again when their
    claims' lease runs out. Raises what the last try raised."""
    for pause in (*RECORD_RETRY_PAUSES, None):
        try:
            return record()
        except (OperationalError, InterfaceError) as err:
            if pause is None:
                raise
            LOG.warning(
                "delivery %s: attempts not recorded yet (%s); retrying",
                delivery_id,
                type(err).__name__,
            )
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
