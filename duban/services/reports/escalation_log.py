"""The escalation log: ladder steps, to whom, when, delivered or not.

:func:`escalation_log` returns every matching step (the API and the CLI),
:func:`escalation_page` one page of them, :func:`escalation_entry` one step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.util import find_tables

from duban.domain.escalation import EscalationPolicy, StepKey, step_label
from duban.domain.labels import CONTACT_ROLE_LABELS, DELIVERY_STATUS_LABELS, NOTICE_STATUS_LABELS
from duban.domain.outbox import DeliveryStatus, NoticeStatus
from duban.domain.plan_keys import key_variants
from duban.services.ladder.core import policy_for
from duban.services.paging import PAGE_SIZE, Page
from duban.services.reports.choices import MeasureQuery, measure_condition
from duban.services.reports.logs import local_iso, read_page
from models import (
    Contact,
    ContactChannel,
    Delivery,
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
    measure: MeasureQuery | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> Page[EscalationEntry]:
    """One page of :func:`escalation_log` (escalations, or ``level``), also
    filtered by ``measure_id``, the measures ``measure`` matches, and
    ``status`` (a key of :data:`NOTICE_STATUS_FILTERS`; anything else: every
    status)."""
    query = _escalation_query(zone=zone, since=since, until=until, department=department,
                              level=level, min_level=1, plan=None)
    if measure_id is not None:
        query = query.where(Measure.id == measure_id)
    if measure is not None:
        query = query.where(measure_condition(measure))
    if status in NOTICE_STATUS_FILTERS:
        query = query.where(Notice.status.in_(NOTICE_STATUS_FILTERS[status]))
    with session_factory() as session:
        total, rows = read_page(session, query, offset, limit, counted=_count_query(query))
        entries = _escalation_entries(session, rows, zone)
    return Page(entries, total, offset, limit)


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


def _count_query(query: Select[Notice, Task, Measure, Department, Plan]) -> Select[int]:
    """How many rows the log's ``query`` matches, joining only the tables its
    conditions name: every notice has its task, every task its measure and
    department, every measure its plan (foreign keys, not null), so the other
    joins drop no row; counting through them hashed every task on PostgreSQL."""
    where = query.whereclause
    named = set(find_tables(where, check_columns=True)) if where is not None else set()
    tasks, measures, plans, departments = (
        Task.__table__, Measure.__table__, Plan.__table__, Department.__table__
    )
    count = select(func.count()).select_from(Notice)
    if named & {tasks, measures, plans, departments}:
        count = count.join(Task, Task.id == Notice.task_id)
    if named & {measures, plans}:
        count = count.join(Measure, Measure.id == Task.measure_id)
    if plans in named:
        count = count.join(Plan, Plan.id == Measure.plan_id)
    if departments in named:
        count = count.join(Department, Department.id == Task.department_id)
    return count if where is None else count.where(where)


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
                at=local_iso(notice.due_at, zone) or "",
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
            Recipient(name, privacy, status, local_iso(sent_at, zone), role, department)
        )
    return found


