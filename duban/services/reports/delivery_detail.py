"""One message sent or to be sent, as the desk's 发送记录 page shows it: the
message, its recipient, and every channel of that recipient (to retry, or to
change an address)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.reports.delivery_log import DeliveryEntry, delivery_entry
from models import Contact, ContactChannel, Delivery


@dataclass(frozen=True)
class ChannelChoice:
    """A channel of the recipient: ``shown`` with its secrets hidden; ``used``
    when this delivery goes (or went) through it."""

    id: int
    shown: str
    active: bool
    used: bool


@dataclass(frozen=True)
class DeliveryDetail:
    """The stored message (``status`` as stored, ``sent_at`` in UTC), its
    recipient's name (``contact``), the recipient's channels in order, and
    ``entry``, the row the list of deliveries shows for it."""

    id: int
    title: str | None
    body: str | None
    status: str
    attempts: int
    last_error: str | None
    day: date
    sent_at: datetime | None
    contact: str | None
    channels: list[ChannelChoice]
    entry: DeliveryEntry | None


def find_delivery(
    session_factory: sessionmaker[Session], delivery_id: int, *, zone: ZoneInfo
) -> DeliveryDetail | None:
    """The delivery ``delivery_id``, or None when there is none."""
    with session_factory() as session:
        row = session.get(Delivery, delivery_id)
        if row is None:
            return None
        contact = session.get(Contact, row.contact_id)
        channels = session.scalars(
            select(ContactChannel)
            .where(ContactChannel.contact_id == row.contact_id)
            .order_by(ContactChannel.position)
        ).all()
        return DeliveryDetail(
            id=row.id,
            title=row.title,
            body=row.body,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            day=row.day,
            sent_at=row.sent_at,
            contact=contact.name if contact else None,
            channels=[
                ChannelChoice(c.id, c.url_privacy, c.active, c.id == row.channel_id)
                for c in channels
            ],
            entry=delivery_entry(session_factory, delivery_id, zone=zone),
        )
