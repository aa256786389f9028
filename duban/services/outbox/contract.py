"""What the outbox needs from its callers, and the rules its rooms share.

The outbox sends two kinds of delivery (:class:`DeliveryKind`): notices of
the ladder (batches 1, 2, … per channel and day) and scheduled reports (the
weekly digest, batch 0). It does not know how to write either message: the
caller hands it a :data:`MessageBuilder` per kind (the rounds room registers
the notice messages of :mod:`duban.services.outbox.message` and the weekly
digest of :mod:`duban.services.reports.digest`), so nothing in the outbox
imports a room above it.

``notice_due`` and ``delivery_due`` are the one definition of "what is due"
that routing, dispatching and the rounds' progress checks all use.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.orm import Session

from duban.domain.escalation import DELIVERY_FAILED
from duban.domain.outbox import DELIVERY_WAITING, DeliveryStatus, NoticeStatus
from duban.domain.workdays import WorkCalendar
from duban.services.accounts.links import LinkSigner
from duban.services.ladder.core import LEASE, OrgClock
from models import Delivery, DeliveryItem, Notice

FAILED_STEP = DELIVERY_FAILED
# Deliveries of notices use batches 1, 2, … per channel and day; lower batches
# are scheduled reports without notices (duban.services.reports.digest).
FIRST_NOTICE_BATCH = 1


class DeliveryKind(StrEnum):
    NOTICES = "notices"  # the ladder's notices for one channel and day
    REPORT = "report"  # a scheduled report (the weekly digest): no notices


def kind_of(batch: int) -> DeliveryKind:
    return DeliveryKind.NOTICES if batch >= FIRST_NOTICE_BATCH else DeliveryKind.REPORT


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


@dataclass(frozen=True)
class DeliveryContext:
    base_url: str | None
    sender_name: str
    calendar: WorkCalendar
    clock: OrgClock
    # Signs the department links in messages; built once per round from the
    # round's settings (None: from the environment's settings).
    link_signer: LinkSigner | None = None


@dataclass
class OutgoingMessage:
    """A message ready to render: template (step), context, and the files to
    attach, which live in ``scratch`` until :meth:`discard`."""

    template: str
    context: dict[str, Any]
    attachments: list[Path] = field(default_factory=list)
    scratch: Path | None = None

    def discard(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


# Builds the message of one claimed delivery, inside a session the outbox
# holds: (session, delivery, context, now). What it raises is recorded as a
# failed attempt.
MessageBuilder = Callable[[Session, Delivery, DeliveryContext, datetime], OutgoingMessage]
Builders = Mapping[DeliveryKind, MessageBuilder]


def notice_due(now: datetime) -> ColumnElement[bool]:
    """A notice to route at ``now``: pending, due, and on no delivery yet."""
    return and_(
        Notice.status == NoticeStatus.PENDING,
        Notice.due_at <= now,
        ~exists().where(DeliveryItem.notice_id == Notice.id),
    )


def delivery_due(now: datetime, *, this_round: bool = False) -> ColumnElement[bool]:
    """A delivery to send at ``now``: pending or failed and due, or claimed
    by a sender whose lease ran out (it died). With ``this_round``, also one
    being sent by a sender of the round at ``now`` (claimed at ``now``)."""
    taken_over = Delivery.claimed_at < now - LEASE
    return or_(
        and_(
            Delivery.status.in_(DELIVERY_WAITING),
            Delivery.next_attempt_at <= now,
            Delivery.not_before <= now,
        ),
        and_(
            Delivery.status == DeliveryStatus.SENDING,
            or_(Delivery.claimed_at == now, taken_over) if this_round else taken_over,
        ),
    )
