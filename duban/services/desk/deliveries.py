"""The fixes of a delivery only a coordinator makes:

- :func:`retry_delivery`: try a failed delivery once more, soon;
- :func:`redirect_delivery`: send an unsent delivery's notices to another contact;
- :func:`replace_channel`: give a contact a corrected address; the unsent
  deliveries of the old address move to the new one (sent ones stay where they
  went, for the record).

Each owns its transaction and writes an audit entry naming the actor.
Addresses are secrets: only their privacy form leaves this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.db import insert_for
from duban.domain.errors import DubanError, NotFoundError
from duban.domain.org import url_scheme
from duban.domain.outbox import DELIVERY_FAILING, DeliveryStatus, NoticeStatus
from duban.services.desk.audit import record_audit
from duban.services.outbox.records import mark_notices_sent
from duban.services.outbox.route import open_delivery
from duban.services.tasks.facts import LOCAL_ZONE, local_date
from models import Contact, ContactChannel, Delivery, DeliveryItem, Notice
from notifications.contacts import validate_url

UNSENT = (DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.DEAD)


def retry_delivery(
    delivery_id: int, *, actor: str, now: datetime, session_factory: sessionmaker[Session]
) -> None:
    """Make a failed or given-up delivery due again now: the next delivery pass
    tries it once more (and retries it as any other if that fails). Its notices
    count as pending again until it is sent. Raises NotFoundError, or
    DubanError when the delivery is not a failed one."""
    with session_factory.begin() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            raise NotFoundError(f"找不到发送记录 #{delivery_id}")
        if delivery.status not in DELIVERY_FAILING:
            raise DubanError("这条消息没有发送失败,无需重试")
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = now
        delivery.not_before = min(delivery.not_before, now)
        notice_ids = [item.notice_id for item in delivery.items]
        _pending_again(session, notice_ids)
        record_audit(session, now=now, actor=actor, action="retry_delivery",
                     subject=f"发给{delivery.contact.name}的消息({delivery.day.isoformat()})",
                     data={"delivery": delivery_id, "channel": delivery.channel.url_privacy})


def redirect_delivery(
    delivery_id: int,
    contact_id: int,
    *,
    actor: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    zone: tzinfo = LOCAL_ZONE,
) -> int:
    """Send an unsent delivery's notices to another contact instead (another
    liaison, the department's head, the coordinators): they join that
    contact's open delivery on each of its channels, due now; this one is
    closed as superseded with a note naming the new recipient, and notices
    given up on count as pending again. A notice the contact already got on a
    channel is not sent to it twice. Returns how many channels it goes to.

    Raises NotFoundError for an unknown delivery or contact, DubanError when
    the delivery was sent or is being sent, or the contact has no address."""
    with session_factory.begin() as session:
        delivery = session.get(Delivery, delivery_id, with_for_update={"key_share": True})
        if delivery is None:
            raise NotFoundError(f"找不到发送记录 #{delivery_id}")
        if delivery.status not in UNSENT:
            raise DubanError("这条消息已发出或正在发送,不能改发")
        target = session.get(Contact, contact_id)
        if target is None:
            raise NotFoundError(f"找不到联系人 #{contact_id}")
        if target.id == delivery.contact_id:
            raise DubanError("改发对象与原收件人相同")
        channels = [c for c in target.channels if c.active] if target.active else []
        if not channels:
            raise DubanError(f"{target.name}没有可用的联系方式")
        notice_ids = [item.notice_id for item in delivery.items]
        day = local_date(now, zone)
        for channel in sorted(channels, key=lambda c: c.id):
            opened = open_delivery(session, channel.id, target.id, day, now, now)
            for notice_id in notice_ids:
                session.execute(
                    insert_for(session, DeliveryItem)
                    .values(delivery_id=opened, notice_id=notice_id, channel_id=channel.id)
                    .on_conflict_do_nothing(index_elements=["notice_id", "channel_id"])
                )
        for item in list(delivery.items):
            delivery.items.remove(item)
        session.flush()
        # A notice the contact had already received everywhere it goes now is sent.
        mark_notices_sent(session, notice_ids)
        delivery.status = DeliveryStatus.SUPERSEDED
        delivery.last_error = f"已改发给{target.name}"
        _pending_again(session, notice_ids)
        record_audit(session, now=now, actor=actor, action="redirect_delivery",
                     subject=f"发给{delivery.contact.name}的消息({delivery.day.isoformat()})",
                     data={"delivery": delivery_id, "to": target.name,
                           "channels": [c.url_privacy for c in channels]})
        return len(channels)


def replace_channel(
    channel_id: int,
    new_url: str,
    *,
    actor: str,
    now: datetime,
    session_factory: sessionmaker[Session],
) -> int:
    """Give the channel's contact ``new_url`` in place of this address.

    The old channel is deactivated (its sent deliveries keep pointing to it);
    the new one takes the next position; unsent deliveries (pending, failed,
    dead) move to it and are due again now. Returns the new channel's id.
    Raises ContactError (a DubanError naming only the scheme) for an address
    Apprise cannot use, NotFoundError for an unknown channel.

    The organisation file stays the truth: reloading a file that still lists
    the old address brings it back. Correct the file as well.
    """
    shown = validate_url(new_url.strip())
    with session_factory.begin() as session:
        old = session.get(ContactChannel, channel_id)
        if old is None:
            raise NotFoundError(f"找不到联系方式 #{channel_id}")
        if old.url == new_url.strip():
            raise DubanError("新地址与原地址相同")
        position = session.scalar(
            select(func.max(ContactChannel.position)).where(
                ContactChannel.contact_id == old.contact_id
            )
        )
        new = ContactChannel(
            contact_id=old.contact_id,
            position=(position or 0) + 1,
            url=new_url.strip(),
            url_privacy=shown,
            scheme=url_scheme(new_url.strip()) or "",
            active=True,
        )
        session.add(new)
        old.active = False
        session.flush()
        moved = _move_unsent(session, old.id, new.id, now=now)
        contact = session.get(Contact, old.contact_id)
        record_audit(session, now=now, actor=actor, action="replace_channel",
                     subject=f"联系人 {contact.name if contact else old.contact_id}",
                     data={"from": old.url_privacy, "to": shown, "moved_deliveries": moved})
        return new.id


def _move_unsent(session: Session, old_id: int, new_id: int, *, now: datetime) -> list[int]:
    """Move the unsent deliveries of channel ``old_id`` (and their items) to
    ``new_id``; what had failed is due again now. Returns the moved ids."""
    moved = list(
        session.scalars(
            select(Delivery.id).where(Delivery.channel_id == old_id, Delivery.status.in_(UNSENT))
        )
    )
    if not moved:
        return moved
    session.execute(
        update(DeliveryItem)
        .where(DeliveryItem.delivery_id.in_(moved))
        .values(channel_id=new_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(moved))
        # The new address has none of the parts the old one accepted.
        .values(channel_id=new_id, parts_sent=0, partial=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(  # what had failed is due again now, on the new address
        update(Delivery)
        .where(Delivery.id.in_(moved), Delivery.status.in_(DELIVERY_FAILING))
        .values(status=DeliveryStatus.FAILED, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    notice_ids = select(DeliveryItem.notice_id).where(DeliveryItem.delivery_id.in_(moved))
    _pending_again(session, notice_ids)
    return moved


def _pending_again(session: Session, notice_ids: Sequence[int] | Select[Any]) -> None:
    """The failed notices among ``notice_ids`` count as pending again (their
    delivery is to be tried once more)."""
    session.execute(
        update(Notice)
        .where(Notice.id.in_(notice_ids), Notice.status == NoticeStatus.FAILED)
        .values(status=NoticeStatus.PENDING)
        .execution_options(synchronize_session=False)
    )
