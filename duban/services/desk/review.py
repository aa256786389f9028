"""What waits for a coordinator: submissions to approve or return, extension
requests to decide, and deliveries that failed or are blocked (送达受阻), each
with the contacts it could be redirected to; and how pages name a task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.domain.labels import CONTACT_ROLE_LABELS, TASK_ROLE_LABELS
from duban.domain.lifecycle import ExtensionStatus
from duban.domain.outbox import DELIVERY_FAILING, DELIVERY_WAITING, DeliveryStatus
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.tasks.facts import LOCAL_ZONE, local_date
from models import (
    Contact,
    ContactChannel,
    Delivery,
    DeliveryItem,
    Department,
    EscalationPolicyRow,
    ExtensionRequest,
    Measure,
    Notice,
    Task,
    TaskEvent,
)


@dataclass(frozen=True)
class SubmissionItem:
    task_id: int
    measure: int
    measure_title: str
    department: str
    role_label: str
    due: date
    submitted_at: datetime | None
    note: str | None


@dataclass(frozen=True)
class ExtensionItem:
    id: int
    task_id: int
    measure: int
    department: str
    current_due: date
    new_due: date
    reason: str
    requested_by: str
    requested_at: datetime


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    contact_id: int
    contact: str
    department: str | None
    channel_id: int
    channel: str  # privacy form
    status: str
    attempts: int
    error: str | None
    day: date
    tasks: list[int]
    # Who else may take it (redirect_delivery): (contact id, name and role).
    alternatives: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ReviewQueue:
    submissions: list[SubmissionItem]
    extensions: list[ExtensionItem]
    failed: list[FailedDelivery]


def review_queue(
    session_factory: sessionmaker[Session], *, submissions: bool = True, failed: bool = True
) -> ReviewQueue:
    """Everything waiting for a coordinator, oldest first (without
    ``submissions`` or ``failed``: none of them, unread)."""
    with session_factory() as session:
        submitted = _submissions(session, Task.state == "submitted") if submissions else []
        extensions = [
            ExtensionItem(
                id=x.id,
                task_id=task.id,
                measure=measure.number,
                department=department.name,
                current_due=x.current_due,
                new_due=x.new_due,
                reason=x.reason,
                requested_by=x.requested_by,
                requested_at=x.requested_at,
            )
            for x, task, measure, department in session.execute(
                select(ExtensionRequest, Task, Measure, Department)
                .join(Task, Task.id == ExtensionRequest.task_id)
                .join(Measure, Measure.id == Task.measure_id)
                .join(Department, Department.id == Task.department_id)
                .where(ExtensionRequest.status == ExtensionStatus.PENDING)
                .order_by(ExtensionRequest.requested_at, ExtensionRequest.id)
            )
        ]
        failures = failed_deliveries(session) if failed else []
    return ReviewQueue(submitted, extensions, failures)


def _submitted() -> ColumnElement[bool]:
    """The submitted tasks, the state written out (not bound): the partial
    index ix_tasks_submitted (state = 'submitted') holds them in order of
    报结 and id, and SQLite uses a partial index only for a condition it sees
    in the SQL."""
    return Task.state == literal("submitted", literal_execute=True)


def submitted_count(session: Session) -> int:
    """How many tasks wait for review (submitted), per policy through the
    index ix_tasks_desk: a task's policy is NULL or a stored version (its
    foreign key), so the policy condition leaves none out. (SQLite counts the
    bare state by scanning all of ix_tasks_desk, not the partial index.)"""
    by_policy = and_(
        or_(Task.policy_id.is_(None), Task.policy_id.in_(select(EscalationPolicyRow.id))),
        Task.state == "submitted",
    )
    return session.scalar(select(func.count()).select_from(Task).where(by_policy)) or 0


def submission_page(
    session: Session, *, now: datetime, offset: int, limit: int
) -> list[SubmissionItem]:
    """``limit`` submitted tasks from ``offset`` in the desk's order: the 报结
    oldest first (``now`` for a task without one), then the task id.

    When every submitted task has its 报结 time (always, but for rows written
    outside the lifecycle), that order is the index ix_tasks_submitted's;
    else the tasks are sorted with ``now`` for the missing times."""
    submitted = _submitted()
    untimed = session.scalar(
        select(Task.id).where(submitted, Task.submitted_at.is_(None)).limit(1)
    )
    if untimed is None:
        order: tuple[Any, ...] = (Task.submitted_at, Task.id)
    else:
        waited = case(
            (Task.submitted_at.is_(None), literal(now, Task.submitted_at.type)),
            else_=Task.submitted_at,
        )
        order = (waited, Task.id)
    ids = list(session.scalars(
        select(Task.id).where(submitted).order_by(*order).offset(offset).limit(limit)
    ))
    by_id = {item.task_id: item for item in _submissions(session, Task.id.in_(ids))}
    return [by_id[i] for i in ids]


def _submissions(session: Session, where: ColumnElement[bool]) -> list[SubmissionItem]:
    """The tasks ``where`` picks as submissions, with the note of their
    latest 报结, by the 报结's time then id."""
    submitted = session.scalars(
        select(Task)
        .where(where)
        .options(joinedload(Task.measure), joinedload(Task.department))
        .order_by(Task.submitted_at, Task.id)
    ).all()
    notes: dict[int, str | None] = {}
    for task_id, note in session.execute(
        select(TaskEvent.task_id, TaskEvent.note)
        .where(TaskEvent.action == "submit", TaskEvent.task_id.in_([t.id for t in submitted]))
        .order_by(TaskEvent.id)
    ):
        notes[task_id] = note
    return [
        SubmissionItem(
            task_id=t.id,
            measure=t.measure.number,
            measure_title=t.measure.title,
            department=t.department.name,
            role_label=TASK_ROLE_LABELS.get(t.role, t.role),
            due=t.due,
            submitted_at=t.submitted_at,
            note=notes.get(t.id),
        )
        for t in submitted
    ]


def failed_deliveries(session: Session) -> list[FailedDelivery]:
    """Deliveries that failed (retrying) or were given up (dead), newest first."""
    return _failed(session, [])


def blocked_deliveries(
    session: Session,
    *,
    now: datetime,
    calendar: WorkCalendar,
    zone: tzinfo = LOCAL_ZONE,
    after_workdays: int = 1,
) -> list[FailedDelivery]:
    """送达受阻: deliveries refused for good (dead), and those still unsent
    ``after_workdays`` working days or more after they were first due (retried
    meanwhile, or never tried: no dispatcher ran), newest first; each with its
    error (never a secret)."""
    today = local_date(now, zone)
    held = []
    for delivery_id, not_before in session.execute(
        select(Delivery.id, Delivery.not_before).where(Delivery.status.in_(DELIVERY_WAITING))
    ):
        since = local_date(not_before, zone)
        waited = calendar.maybe_count_workdays(since, today)
        days = (today - since).days if isinstance(waited, Unpublished) else waited
        if days >= after_workdays:
            held.append(delivery_id)
    return _failed(session, held, dead=True)


def _failed(session: Session, ids: list[int], *, dead: bool = False) -> list[FailedDelivery]:
    wanted = (
        Delivery.status.in_(DELIVERY_FAILING)
        if not dead
        else or_(Delivery.status == DeliveryStatus.DEAD, Delivery.id.in_(ids))
    )
    rows = session.execute(
        select(Delivery, Contact, ContactChannel)
        .join(Contact, Contact.id == Delivery.contact_id)
        .join(ContactChannel, ContactChannel.id == Delivery.channel_id)
        .where(wanted)
        .order_by(Delivery.id.desc())
    )
    departments = dict(session.execute(select(Department.id, Department.name)).all())
    reachable = session.execute(
        select(Contact.id, Contact.name, Contact.role, Contact.department_id)
        .where(
            Contact.active,
            Contact.id.in_(select(ContactChannel.contact_id).where(ContactChannel.active)),
        )
        .order_by(Contact.department_id, Contact.role, Contact.name)
    ).all()
    result = []
    for delivery, contact, channel in rows:
        tasks = sorted(
            set(
                session.scalars(
                    select(Notice.task_id)
                    .join(DeliveryItem, DeliveryItem.notice_id == Notice.id)
                    .where(DeliveryItem.delivery_id == delivery.id)
                )
            )
        )
        result.append(
            FailedDelivery(
                id=delivery.id,
                contact_id=contact.id,
                contact=contact.name,
                department=departments.get(contact.department_id or -1),
                channel_id=channel.id,
                channel=channel.url_privacy,
                status=delivery.status,
                attempts=delivery.attempts,
                error=delivery.last_error,
                day=delivery.day,
                tasks=tasks,
                alternatives=[
                    (other.id, f"{other.name}({CONTACT_ROLE_LABELS.get(other.role, other.role)})")
                    for other in reachable
                    if other.id != contact.id
                    and other.department_id in (contact.department_id, None)
                ],
            )
        )
    return result


def task_caption(session_factory: sessionmaker[Session], task_id: int) -> str:
    """How pages name a task: ``措施8 珠海市民政局(牵头)``; empty when unknown."""
    with session_factory() as session:
        row = session.execute(
            select(Measure.number, Department.name, Task.role)
            .join(Task, Task.measure_id == Measure.id)
            .join(Department, Department.id == Task.department_id)
            .where(Task.id == task_id)
        ).one_or_none()
    if row is None:
        return ""
    return f"措施{row.number} {row.name}({TASK_ROLE_LABELS.get(row.role, row.role)})"
