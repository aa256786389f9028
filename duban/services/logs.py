"""What supervisors review: the escalation log and the delivery log."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.escalation import StepKey, step_label
from duban.domain.plan_keys import key_variants
from duban.services.sweep import policy_for
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

STATUS_LABELS = {
    "pending": "待发送",
    "sent": "已送达",
    "failed": "发送失败",
    "superseded": "已取代(未发送)",
    "sending": "发送中",
    "dead": "发送失败(不再重试)",
}


@dataclass
class Recipient:
    name: str
    channel: str  # the URL's privacy form: never the secret
    status: str
    sent_at: str | None


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    with session_factory() as session:
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
        rows = session.execute(query).all()
        recipients = _recipients(session, [row[0].id for row in rows], zone)
        entries: list[EscalationEntry] = []
        for notice, task, measure, dept, plan_row in rows:
            key = StepKey.parse(notice.step)
            label = step_label(policy_for(session, task.policy_id), notice.step)
            got = recipients.get(notice.id, [])
            entries.append(
                EscalationEntry(
                    id=notice.id,
                    task=task.id,
                    plan=plan_row.key,
                    measure=measure.number,
                    measure_title=measure.title,
                    department=dept.name,
                    role=task.role,
                    step=key.name,
                    step_label=label,
                    level=notice.level,
                    at=_iso(notice.due_at, zone) or "",
                    status=notice.status,
                    status_label=STATUS_LABELS.get(notice.status, notice.status),
                    reason=notice.reason,
                    note=notice.note,
                    requested_by=notice.requested_by,
                    recipients=got,
                    delivered=bool(got) and all(r.status == "sent" for r in got),
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
        )
        .join(Delivery, Delivery.id == DeliveryItem.delivery_id)
        .join(Contact, Contact.id == Delivery.contact_id)
        .join(ContactChannel, ContactChannel.id == Delivery.channel_id)
        .where(DeliveryItem.notice_id.in_(notice_ids))
        .order_by(DeliveryItem.id)
    ).all()
    for notice_id, name, privacy, status, sent_at in rows:
        found[notice_id].append(Recipient(name, privacy, status, _iso(sent_at, zone)))
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
    with session_factory() as session:
        query = (
            select(Delivery, Contact, ContactChannel)
            .join(Contact, Contact.id == Delivery.contact_id)
            .join(ContactChannel, ContactChannel.id == Delivery.channel_id)
            .order_by(Delivery.id.desc())
        )
        if status == "failed":
            query = query.where(Delivery.status.in_(("failed", "dead")))
        elif status is not None:
            query = query.where(Delivery.status == status)
        if limit is not None:
            query = query.limit(limit)
        rows = session.execute(query).all()
        ids = [row[0].id for row in rows]
        items: dict[int, list[tuple[str, int]]] = defaultdict(list)
        last_attempt: dict[int, datetime] = {}
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
                channel=channel.url_privacy,
                status=delivery.status,
                status_label=STATUS_LABELS.get(delivery.status, delivery.status),
                attempts=delivery.attempts,
                error=delivery.last_error,
                day=delivery.day.isoformat(),
                sent_at=_iso(delivery.sent_at, zone),
                title=delivery.title,
                tasks=sorted({t for _s, t in items[delivery.id]}),
                last_attempt_at=_iso(last_attempt.get(delivery.id), zone),
            )
            for delivery, contact, channel in rows
        ]
