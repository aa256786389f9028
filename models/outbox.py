"""Who gets messages (contacts and their Apprise channels), the policies in
force, and the outbox: deliveries of notices, their items and every attempt.

A *notice* (models.task.Notice) is one ladder step for one task. The sweep
groups the day's notices per recipient channel into one *delivery* (a digest),
recorded before it is sent; every send attempt is a row. ``delivery_items``
is unique per (notice, channel): a step reaches a channel at most once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duban.domain.outbox import DeliveryStatus
from models.base import Base, in_values
from models.department import Department

CONTACT_ROLES = ("liaison", "head", "coordinator", "supervisor")
DELIVERY_STATUSES = tuple(s.value for s in DeliveryStatus)


class Contact(Base):
    """A person who receives messages: a department's liaison or head, a
    coordinator or a supervisor. ``key`` identifies it across reloads."""

    __tablename__ = "contacts"
    __table_args__ = (CheckConstraint(in_values("role", CONTACT_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Department | None] = relationship()
    channels: Mapped[list[ContactChannel]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="ContactChannel.position"
    )


class ContactChannel(Base):
    """One Apprise URL of a contact. ``url`` is a secret: show ``url_privacy``."""

    __tablename__ = "contact_channels"
    __table_args__ = (UniqueConstraint("contact_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    url_privacy: Mapped[str] = mapped_column(Text)
    scheme: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    contact: Mapped[Contact] = relationship(back_populates="channels")


class OrgSetting(Base):
    """Organisation-wide settings from the org file (office hours, timezone, …)."""

    __tablename__ = "org_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class EscalationPolicyRow(Base):
    """A version of the escalation policy; tasks keep the one in force when assigned."""

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    current: Mapped[bool] = mapped_column(Boolean, default=False)


class Delivery(Base):
    """One message to one channel: the day's notices for that recipient, bundled.

    Recorded before sending; claimed by a worker with a compare-and-set on
    ``status``/``claimed_at``; ``next_attempt_at`` drives retries with back-off.
    ``failed`` is retried until sent; ``dead`` was refused for good;
    ``superseded`` had nothing left worth sending when it was retried.
    ``parts_sent`` counts the parts of a split message the channel accepted
    and ``partial`` keeps that message (title, text, html, markdown), so a
    retry sends the rest of it.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("channel_id", "day", "batch"),
        CheckConstraint(in_values("status", DELIVERY_STATUSES), name="status"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("contact_channels.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    batch: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    partial: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    channel: Mapped[ContactChannel] = relationship()
    contact: Mapped[Contact] = relationship()
    items: Mapped[list[DeliveryItem]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan", order_by="DeliveryItem.id"
    )


class DeliveryItem(Base):
    """A notice carried by a delivery; a notice reaches a channel at most once."""

    __tablename__ = "delivery_items"
    __table_args__ = (UniqueConstraint("notice_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("contact_channels.id", ondelete="CASCADE"))

    delivery: Mapped[Delivery] = relationship(back_populates="items")


class DeliveryAttempt(Base):
    """One try to send a delivery, and what came of it."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    permanent: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))
