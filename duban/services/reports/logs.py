"""What supervisors review: the escalation log and the delivery log.

:func:`escalation_log` and :func:`delivery_log` return every matching entry
(the API and the CLI); :func:`escalation_page` and :func:`delivery_page` one
page of at most :data:`PAGE_SIZE` entries and the number matching, filtered and
counted in the database, for the pages people read. Recipients are named with
their role (联络员, 单位负责人, 督办科, 督查室); the address appears only in its
privacy form (the secret hidden).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.escalation import EscalationPolicy, StepKey, step_label
from duban.domain.labels import CONTACT_ROLE_LABELS, DELIVERY_STATUS_LABELS, NOTICE_STATUS_LABELS
from duban.domain.outbox import DELIVERY_FAILING, DeliveryStatus, NoticeStatus
from duban.domain.plan_keys import key_variants
from duban.services.ladder.core import policy_for
from duban.services.paging import PAGE_SIZE, Page
from models import (
    Contact,
    ContactChannel,
    Delivery,
    DeliveryAttempt,
    DeliveryItem,
    Department,
    Measure,
    Notice,
    Plan,
    Task,
)

# The escalation log's status filter: choice → the notice statuses it keeps.
NOTICE_STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "sent": (NoticeStatus.SENT,),
    "pending": (NoticeStatus.PENDING,),
    "failed": (NoticeStatus.FAILED,),
    "superseded": (NoticeStatus.SUPERSEDED,),
}
DELIVERY_STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "sent": (DeliveryStatus.SENT,),
    "pending": (DeliveryStatus.PENDING, DeliveryStatus.SENDING),
    "failed": DELIVERY_FAILING,
}

@dataclass
class Recipient:
    name: str
    channel: str  # the URL's privacy form: never the secret
    status: str
    sent_at: str | None
    role: str = ""
    department: str | None = None

    @property
    def role_label(self) -> str:
        return CONTACT_ROLE_LABELS.get(self.role, "")

    @property
    def status_label(self) -> str:
        return DELIVERY_STATUS_LABELS.get(self.status, self.status)


@dataclass
class EscalationEntry:
    """One ladder step for one task: what, to whom, when, delivered or not."""

    id: int
    task: int
    plan: str
    measure: int
    measure_title: str
    department: str
    role: str
    step: str
    step_label: str
    level: int
    measure_id: int
    at: str  # when it fell due (ISO, local time)
    status: str
    status_label: str
    reason: str | None
    recipients: list[Recipient] = field(default_factory=list)
    delivered: bool = False
    # A step taken by hand (督办科催办): who took it and the note it carried.
    note: str | None = None
    requested_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def _iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat(timespec="minutes") if moment else None


def escalation_log(
    session_factory: sessionmaker[Session],
    *,
    zone: ZoneInfo,
    since: date | None = None,
    until: date | None = None,
    department: str | None = None,
    level: int | None = None,
    min_level: int = 1,
    plan: str | None = None,
) -> list[EscalationEntry]:
    """Ladder steps, newest first: by default the escalations (level ≥ 1).

    ``level`` selects one level (0 = reminders); ``department`` matches the
    official name; dates bound the day the step fell due (local time)."""
    query = _escalation_query(zone=zone, since=since, until=until, department=department,
                              level=level, min_level=min_level, plan=plan)
    with session_factory() as session:
        return _escalation_entries(session, session.execute(query).all(), zone)


def escalation_page(
    session_factory: sessionmaker[Session],
    *,
    zone: ZoneInfo,
    since: date | None = None,
    until: date | None = None,
    department: str | None = None,
    level: int | None = None,
    measure_id: int | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> Page[EscalationEntry]:
    """One page of :func:`escalation_log` (escalations, or ``level``), also
    filtered by ``measure_id`` and ``status`` (a key of
    :data:`NOTICE_STATUS_FILTERS`; anything else: every status)."""
    query = _escalation_query(zone=zone, since=since, until=until, department=department,
                              level=level, min_level=1, plan=None)
    if measure_id is not None:
        query = query.where(Measure.id == measure_id)
    if status in NOTICE_STATUS_FILTERS:
        query = query.where(Notice.status.in_(NOTICE_STATUS_FILTERS[status]))
    with session_factory() as session:
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = session.execute(query.offset(offset).limit(limit)).all()
        entries = _escalation_entries(session, rows, zone)
    return Page(entries, total or 0, offset, limit)


def escalation_entry(
    session_factory: sessionmaker[Session], notice_id: int, *, zone: ZoneInfo
) -> EscalationEntry | None:
    """One ladder step (any level) with its recipients, or None."""
    query = _escalation_query(zone=zone, min_level=0).where(Notice.id == notice_id)
    with session_factory() as session:
        entries = _escalation_entries(session, session.execute(query).all(), zone)
    return entries[0] if entries else None


def _escalation_query(
    *,
    zone: ZoneInfo,
    since: date | None = None,
    until: date | None = None,
    department: str | None = None,
    level: int | None = None,
    min_level: int = 1,
    plan: str | None = None,
) -> Select[Notice, Task, Measure, Department, Plan]:
    """The escalation log's query (newest first); see :func:`escalation_log`."""
    query = (
        select(Notice, Task, Measure, Department, Plan)
        .join(Task, Task.id == Notice.task_id)
        .join(Measure, Measure.id == Task.measure_id)
        .join(Plan, Plan.id == Measure.plan_id)
        .join(Department, Department.id == Task.department_id)
        .order_by(Notice.due_at.desc(), Notice.id.desc())
    )
    if level is not None:
        query = query.where(Notice.level == level)
    else:
        query = query.where(Notice.level >= min_level)
    if since is not None:
        query = query.where(Notice.due_at >= datetime.combine(since, time.min, zone))
    if until is not None:
        query = query.where(Notice.due_at <= datetime.combine(until, time.max, zone))
    if department is not None:
        query = query.where(Department.name == department)
    if plan is not None:
        query = query.where(Plan.key.in_(key_variants(plan)))
    return query


def _escalation_entries(session: Session, rows: Any, zone: ZoneInfo) -> list[EscalationEntry]:
    recipients = _recipients(session, [row[0].id for row in rows], zone)
    entries: list[EscalationEntry] = []
    # Each policy version read once (policy_for queries whenever nothing holds its row).
    policies: dict[int | None, EscalationPolicy] = {}
    for notice, task, measure, dept, plan_row in rows:
        key = StepKey.parse(notice.step)
        if task.policy_id not in policies:
            policies[task.policy_id] = policy_for(session, task.policy_id)
        label = step_label(policies[task.policy_id], notice.step)
        got = recipients.get(notice.id, [])
        entries.append(
            EscalationEntry(
                id=notice.id,
                task=task.id,
                plan=plan_row.key,
                measure=measure.number,
                measure_id=measure.id,
                measure_title=measure.title,
                department=dept.name,
                role=task.role,
                step=key.name,
                step_label=label,
                level=notice.level,
                at=_iso(notice.due_at, zone) or "",
                status=notice.status,
                status_label=NOTICE_STATUS_LABELS.get(notice.status, notice.status),
                reason=notice.reason,
                note=notice.note,
                requested_by=notice.requested_by,
                recipients=got,
                delivered=bool(got) and all(r.status == DeliveryStatus.SENT for r in got),
            )
        )
    return entries


def _recipients(
    session: Session, notice_ids: list[int], zone: ZoneInfo
) -> dict[int, list[Recipient]]:
    found: dict[int, list[Recipient]] = defaultdict(list)
    if not notice_ids:
        return found
    rows = session.execute(
        select(
            DeliveryItem.notice_id,
            Contact.name,
            ContactChannel.url_privacy,
            Delivery.status,
            Delivery.sent_at,
            Contact.role,
            Department.name,
        )
        .join(Delivery, Delivery.id == DeliveryItem.delivery_id)
        .join(Contact, Contact.id == Delivery.contact_id)
        .join(ContactChannel, ContactChannel.id == Delivery.channel_id)
        .outerjoin(Department, Department.id == Contact.department_id)
        .where(DeliveryItem.notice_id.in_(notice_ids))
        .order_by(DeliveryItem.id)
    ).all()
    for notice_id, name, privacy, status, sent_at, role, department in rows:
        found[notice_id].append(
            Recipient(name, privacy, status, _iso(sent_at, zone), role, department)
        )
    return found


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
    level: int | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> Page[DeliveryEntry]:
    """One page of deliveries, newest first: ``status`` a key of
    :data:`DELIVERY_STATUS_FILTERS` (anything else: all); ``department``
    (official name) the recipient's department or that of a task the message
    is about; ``measure_id`` and ``level`` (0 reminders … 3 红色督办) what
    one of its steps is about; dates bound the delivery's day."""
    query = _delivery_query()
    about = (
        select(DeliveryItem.id)
        .join(Notice, Notice.id == DeliveryItem.notice_id)
        .join(Task, Task.id == Notice.task_id)
        .where(DeliveryItem.delivery_id == Delivery.id)
    )
    if status in DELIVERY_STATUS_FILTERS:
        query = query.where(Delivery.status.in_(DELIVERY_STATUS_FILTERS[status]))
    if department is not None:
        wanted = select(Department.id).where(Department.name == department).scalar_subquery()
        query = query.where(
            or_(Contact.department_id == wanted, about.where(Task.department_id == wanted).exists())
        )
    if measure_id is not None:
        query = query.where(about.where(Task.measure_id == measure_id).exists())
    if level is not None:
        query = query.where(about.where(Notice.level == level).exists())
    if since is not None:
        query = query.where(Delivery.day >= since)
    if until is not None:
        query = query.where(Delivery.day <= until)
    with session_factory() as session:
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = session.execute(query.offset(offset).limit(limit)).all()
        return Page(_delivery_entries(session, rows, zone), total or 0, offset, limit)


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
            sent_at=_iso(delivery.sent_at, zone),
            title=delivery.title,
            tasks=sorted({t for _s, t in items[delivery.id]}),
            last_attempt_at=_iso(last_attempt.get(delivery.id), zone),
            task_labels=[
                (t, labels.get(t, "")) for t in sorted({t for _s, t in items[delivery.id]})
            ],
        )
        for delivery, contact, channel in rows
    ]
