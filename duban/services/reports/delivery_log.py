"""The delivery log: each message sent (or not) to one address.

:func:`delivery_log` returns every matching delivery (the API and the CLI),
:func:`delivery_page` one page of them, :func:`delivery_entry` one delivery.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.escalation import StepKey
from duban.domain.labels import CONTACT_ROLE_LABELS, DELIVERY_STATUS_LABELS
from duban.domain.outbox import DELIVERY_FAILING, DeliveryStatus
from duban.services.paging import PAGE_SIZE, Page
from duban.services.reports.choices import MeasureQuery, measure_condition
from duban.services.reports.logs import local_iso, read_page
from models import (
    Contact,
    ContactChannel,
    Delivery,
    DeliveryAttempt,
    DeliveryItem,
    Department,
    Measure,
    Notice,
    Task,
)

DELIVERY_STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "sent": (DeliveryStatus.SENT,),
    "pending": (DeliveryStatus.PENDING, DeliveryStatus.SENDING),
    "failed": DELIVERY_FAILING,
}


@dataclass
class DeliveryEntry:
    id: int
    steps: list[str]
    recipient: str
    department: str | None
    role: str
    channel: str
    status: str
    status_label: str
    attempts: int
    error: str | None
    day: str
    sent_at: str | None
    title: str | None
    tasks: list[int]
    last_attempt_at: str | None
    # (task id, "措施8 · 珠海市民政局") of each task the message is about
    task_labels: list[tuple[int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def role_label(self) -> str:
        return CONTACT_ROLE_LABELS.get(self.role, "")


def delivery_log(
    session_factory: sessionmaker[Session],
    *,
    zone: ZoneInfo,
    status: str | None = None,
    limit: int | None = None,
) -> list[DeliveryEntry]:
    """Deliveries, newest first; ``status`` one of pending, sending, sent,
    failed (includes dead, i.e. given up)."""
    query = _delivery_query()
    if status == DeliveryStatus.FAILED:
        query = query.where(Delivery.status.in_(DELIVERY_FAILING))
    elif status is not None:
        query = query.where(Delivery.status == status)
    if limit is not None:
        query = query.limit(limit)
    with session_factory() as session:
        return _delivery_entries(session, session.execute(query).all(), zone)


def delivery_page(
    session_factory: sessionmaker[Session],
    *,
    zone: ZoneInfo,
    status: str | None = None,
    department: str | None = None,
    since: date | None = None,
    until: date | None = None,
    measure_id: int | None = None,
    measure: MeasureQuery | None = None,
    level: int | None = None,
    statuses: Collection[str] | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> Page[DeliveryEntry]:
    """One page of deliveries, newest first: ``status`` a key of
    :data:`DELIVERY_STATUS_FILTERS` (anything else: all), ``statuses``
    those exact delivery statuses (the API's filter); ``department``
    (official name) the recipient's department or that of a task the message
    is about; ``measure_id`` (or the measures ``measure`` matches) and
    ``level`` (0 reminders … 3 红色督办) what one of its steps is about; dates
    bound the delivery's day."""
    query = _delivery_query()
    about = (
        select(DeliveryItem.id)
        .join(Notice, Notice.id == DeliveryItem.notice_id)
        .join(Task, Task.id == Notice.task_id)
        .where(DeliveryItem.delivery_id == Delivery.id)
    )
    if status in DELIVERY_STATUS_FILTERS:
        query = query.where(Delivery.status.in_(DELIVERY_STATUS_FILTERS[status]))
    if statuses is not None:
        query = query.where(Delivery.status.in_(statuses))
    if department is not None:
        wanted = select(Department.id).where(Department.name == department).scalar_subquery()
        query = query.where(
            or_(Contact.department_id == wanted, about.where(Task.department_id == wanted).exists())
        )
    if measure_id is not None:
        query = query.where(about.where(Task.measure_id == measure_id).exists())
    if measure is not None:
        matching = select(Measure.id).where(measure_condition(measure))
        query = query.where(about.where(Task.measure_id.in_(matching)).exists())
    if level is not None:
        query = query.where(about.where(Notice.level == level).exists())
    if since is not None:
        query = query.where(Delivery.day >= since)
    if until is not None:
        query = query.where(Delivery.day <= until)
    with session_factory() as session:
        total, rows = read_page(session, query, offset, limit)
        return Page(_delivery_entries(session, rows, zone), total, offset, limit)


def delivery_entry(
    session_factory: sessionmaker[Session], delivery_id: int, *, zone: ZoneInfo
) -> DeliveryEntry | None:
    """One delivery, or None."""
    query = _delivery_query().where(Delivery.id == delivery_id)
    with session_factory() as session:
        entries = _delivery_entries(session, session.execute(query).all(), zone)
    return entries[0] if entries else None


def _delivery_query() -> Select[Delivery, Contact, ContactChannel]:
    return (
        select(Delivery, Contact, ContactChannel)
        .join(Contact, Contact.id == Delivery.contact_id)
        .join(ContactChannel, ContactChannel.id == Delivery.channel_id)
        .order_by(Delivery.id.desc())
    )


def _delivery_entries(session: Session, rows: Any, zone: ZoneInfo) -> list[DeliveryEntry]:
    ids = [row[0].id for row in rows]
    items: dict[int, list[tuple[str, int]]] = defaultdict(list)
    last_attempt: dict[int, datetime] = {}
    labels: dict[int, str] = {}
    if ids:
        for delivery_id, step, task_id in session.execute(
            select(DeliveryItem.delivery_id, Notice.step, Notice.task_id)
            .join(Notice, Notice.id == DeliveryItem.notice_id)
            .where(DeliveryItem.delivery_id.in_(ids))
        ):
            items[delivery_id].append((StepKey.parse(step).name, task_id))
        for delivery_id, at in session.execute(
            select(DeliveryAttempt.delivery_id, DeliveryAttempt.at)
            .where(DeliveryAttempt.delivery_id.in_(ids))
            .order_by(DeliveryAttempt.id)
        ):
            last_attempt[delivery_id] = at
        task_ids = {t for pairs in items.values() for _s, t in pairs}
        for task_id, number, name in session.execute(
            select(Task.id, Measure.number, Department.name)
            .join(Measure, Measure.id == Task.measure_id)
            .join(Department, Department.id == Task.department_id)
            .where(Task.id.in_(task_ids))
        ):
            labels[task_id] = f"措施{number} · {name}"
    departments = dict(session.execute(select(Department.id, Department.name)).all())
    return [
        DeliveryEntry(
            id=delivery.id,
            # A delivery without notices is a weekly report (batch < 1).
            steps=[s for s, _t in items[delivery.id]] or ["weekly_report"],
            recipient=contact.name,
            department=(
                departments.get(contact.department_id) if contact.department_id else None
            ),
            role=contact.role,
            channel=channel.url_privacy,
            status=delivery.status,
            status_label=DELIVERY_STATUS_LABELS.get(delivery.status, delivery.status),
            attempts=delivery.attempts,
            error=delivery.last_error,
            day=delivery.day.isoformat(),
            sent_at=local_iso(delivery.sent_at, zone),
            title=delivery.title,
            tasks=sorted({t for _s, t in items[delivery.id]}),
            last_attempt_at=local_iso(last_attempt.get(delivery.id), zone),
            task_labels=[
                (t, labels.get(t, "")) for t in sorted({t for _s, t in items[delivery.id]})
            ],
        )
        for delivery, contact, channel in rows
    ]
