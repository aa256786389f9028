"""The coordinators' desk: what waits for them, and the fixes only they make.

- :func:`review_queue`: submissions to approve or return, extension requests
  to decide, deliveries that failed;
- :func:`blocked_deliveries`: 送达受阻, what was refused for good or is still
  unsent a working day (configurable) after it was due;
- :func:`retry_delivery`: try a failed delivery once more, soon;
- :func:`replace_channel`: give a contact a corrected address; the unsent
  deliveries of the old address move to the new one (sent ones stay where they
  went, for the record);
- :func:`resend_notice`: queue the 交办通知 of a task again (with a fresh link);
- :func:`urge_now`: 催办 by hand — a manual rung of the ladder through the
  outbox, to the department's liaison, with an optional note.

Each owns its transaction and writes an :class:`~models.AuditEntry` naming
the actor. Addresses are secrets: only their privacy form leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.db import insert_for
from duban.domain.errors import DubanError, NotFoundError
from duban.domain.escalation import MANUAL_URGE, Anchor, StepKey
from duban.domain.lifecycle import OPEN_STATES, STATE_LABELS, TaskState
from duban.domain.org import url_scheme
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.ladder.core import policy_for
from duban.services.tasks.queries import LOCAL_ZONE, TASK_ROLE_LABELS, local_date
from models import (
    AuditEntry,
    Contact,
    ContactChannel,
    Delivery,
    DeliveryItem,
    Department,
    ExtensionRequest,
    Measure,
    Notice,
    Task,
    TaskEvent,
)
from notifications.contacts import validate_url

UNSENT = ("pending", "failed", "dead")


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


def review_queue(session_factory: sessionmaker[Session]) -> ReviewQueue:
    """Everything waiting for a coordinator, oldest first."""
    with session_factory() as session:
        submitted = session.scalars(
            select(Task)
            .where(Task.state == "submitted")
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
        submissions = [
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
                .where(ExtensionRequest.status == "pending")
                .order_by(ExtensionRequest.requested_at, ExtensionRequest.id)
            )
        ]
        failed = failed_deliveries(session)
    return ReviewQueue(submissions, extensions, failed)


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
        select(Delivery.id, Delivery.not_before).where(Delivery.status.in_(("pending", "failed")))
    ):
        since = local_date(not_before, zone)
        waited = calendar.maybe_count_workdays(since, today)
        days = (today - since).days if isinstance(waited, Unpublished) else waited
        if days >= after_workdays:
            held.append(delivery_id)
    return _failed(session, held, dead=True)


def _failed(session: Session, ids: list[int], *, dead: bool = False) -> list[FailedDelivery]:
    wanted = (
        Delivery.status.in_(("failed", "dead"))
        if not dead
        else or_(Delivery.status == "dead", Delivery.id.in_(ids))
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
                    (other.id, f"{other.name}({CONTACT_ROLE_NAMES.get(other.role, other.role)})")
                    for other in reachable
                    if other.id != contact.id
                    and other.department_id in (contact.department_id, None)
                ],
            )
        )
    return result


def _audit(session: Session, *, now: datetime, actor: str, action: str, subject: str,
           data: dict[str, object] | None = None) -> None:
    session.add(AuditEntry(at=now, actor=actor, action=action, subject=subject, data=data))


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
        if delivery.status not in ("failed", "dead"):
            raise DubanError("这条消息没有发送失败,无需重试")
        delivery.status = "failed"
        delivery.next_attempt_at = now
        delivery.not_before = min(delivery.not_before, now)
        notice_ids = [item.notice_id for item in delivery.items]
        session.execute(
            update(Notice)
            .where(Notice.id.in_(notice_ids), Notice.status == "failed")
            .values(status="pending")
            .execution_options(synchronize_session=False)
        )
        _audit(session, now=now, actor=actor, action="retry_delivery",
               subject=f"发给{delivery.contact.name}的消息({delivery.day.isoformat()})",
               data={"delivery": delivery_id, "channel": delivery.channel.url_privacy})


CONTACT_ROLE_NAMES = {
    "liaison": "联络员",
    "head": "单位负责人",
    "coordinator": "督办科",
    "supervisor": "督查室",
}


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
    from duban.services.outbox.records import mark_notices_sent
    from duban.services.outbox.route import open_delivery

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
        delivery.status = "superseded"
        delivery.last_error = f"已改发给{target.name}"
        session.execute(
            update(Notice)
            .where(Notice.id.in_(notice_ids), Notice.status == "failed")
            .values(status="pending")
            .execution_options(synchronize_session=False)
        )
        _audit(session, now=now, actor=actor, action="redirect_delivery",
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
        moved = list(
            session.scalars(
                select(Delivery.id).where(
                    Delivery.channel_id == old.id, Delivery.status.in_(UNSENT)
                )
            )
        )
        if moved:
            session.execute(
                update(DeliveryItem)
                .where(DeliveryItem.delivery_id.in_(moved))
                .values(channel_id=new.id)
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(moved))
                # The new address has none of the parts the old one accepted.
                .values(channel_id=new.id, parts_sent=0, partial=None)
                .execution_options(synchronize_session=False)
            )
            session.execute(  # what had failed is due again now, on the new address
                update(Delivery)
                .where(Delivery.id.in_(moved), Delivery.status.in_(("failed", "dead")))
                .values(status="failed", next_attempt_at=now)
                .execution_options(synchronize_session=False)
            )
            notice_ids = select(DeliveryItem.notice_id).where(DeliveryItem.delivery_id.in_(moved))
            session.execute(
                update(Notice)
                .where(Notice.id.in_(notice_ids), Notice.status == "failed")
                .values(status="pending")
                .execution_options(synchronize_session=False)
            )
        contact = session.get(Contact, old.contact_id)
        _audit(session, now=now, actor=actor, action="replace_channel",
               subject=f"联系人 {contact.name if contact else old.contact_id}",
               data={"from": old.url_privacy, "to": shown, "moved_deliveries": moved})
        return new.id


def resend_notice(
    task_id: int,
    *,
    actor: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    zone: tzinfo = LOCAL_ZONE,
) -> int:
    """Queue the task's 交办通知 again, to go out in the next delivery pass
    (inside office hours) with a fresh department link. At most once per task
    and day. Returns the notice id; NotFoundError for an unknown task,
    DubanError when it was already sent again today or the task is closed."""
    with session_factory.begin() as session:
        task = session.get(Task, task_id)
        if task is None:
            raise NotFoundError(f"找不到任务 #{task_id}")
        if task.state == "approved":
            raise DubanError("该任务已办结,无需重新发送通知")
        policy = policy_for(session, task.policy_id)
        step = next((s for s in policy.steps if s.anchor is Anchor.ASSIGNED), policy.steps[0])
        today = local_date(now, zone)
        notice_id = session.execute(
            insert_for(session, Notice)
            .values(
                task_id=task_id,
                step=StepKey.on(step.name, today).format(),
                status="pending",
                level=step.level,
                due_at=now,
                created_at=now,
                reason=f"督办科重新发送({actor})",
            )
            .on_conflict_do_nothing(index_elements=["task_id", "step"])
            .returning(Notice.id)
        ).scalar_one_or_none()
        if notice_id is None:
            raise DubanError(f"该任务今天已重新发送过{step.label},请明天再重新发送")
        caption = f"措施{task.measure.number} {task.department.name}"
        _audit(session, now=now, actor=actor, action="resend_notice", subject=caption,
               data={"task": task_id, "notice": notice_id, "step": step.name})
        return int(notice_id)


AUDIT_ACTION_LABELS = {
    "retry_delivery": "重试发送",
    "redirect_delivery": "改发其他联系人",
    "replace_channel": "更换联系方式",
    "resend_notice": "重新发送交办通知",
    "urge": "督办科催办",
    "revoke_links": "停用单位链接",
    "import_plan": "导入工作方案",
    "add_item": "登记督办件",
    "issue_document": "印发督办文书",
    "user_add": "新增账号",
    "user_update": "修改账号",
    "user_disable": "停用账号",
}


def audit_entries(
    session_factory: sessionmaker[Session], *, limit: int = 50
) -> list[AuditEntry]:
    """The newest audit entries (detached rows)."""
    with session_factory() as session:
        return list(
            session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        )


NOTE_MAX = 500


@dataclass(frozen=True)
class UrgeOutcome:
    """What :func:`urge_now` did: the tasks urged, and those left alone with why."""

    urged: list[int]
    skipped: list[tuple[int, str]]


def urge_now(
    task_ids: list[int],
    *,
    actor: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    note: str | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> UrgeOutcome:
    """催办 each open task of ``task_ids`` now, by hand.

    Each becomes a notice of the manual rung (:data:`MANUAL_URGE`, level 1, to
    the department's liaison, carrying ``note`` and ``actor``), keyed
    ``manual_urge@<today>``: it goes out with the next delivery pass inside
    office hours, is in the escalation log like any ladder step, and leaves the
    automatic ladder untouched (its 催办 and 督办 keep their own keys and days).
    At most one per task and day; a task already urged today, submitted,
    approved or unknown is skipped with the reason. One transaction, one audit
    entry. Raises DubanError when nothing is selected or the note is too long.
    """
    wanted = list(dict.fromkeys(task_ids))
    if not wanted:
        raise DubanError("请先选择要催办的任务")
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise DubanError(f"催办意见不能超过 {NOTE_MAX} 字(现 {len(note)} 字)")
    key = StepKey.manual(local_date(now, zone)).format()
    urged: list[int] = []
    skipped: list[tuple[int, str]] = []
    with session_factory.begin() as session:
        tasks = {
            t.id: t
            for t in session.scalars(
                select(Task)
                .where(Task.id.in_(wanted))
                .options(joinedload(Task.measure), joinedload(Task.department))
            )
        }
        for task_id in wanted:
            task = tasks.get(task_id)
            if task is None:
                skipped.append((task_id, "找不到该任务"))
                continue
            state = TaskState(task.state)
            if state not in OPEN_STATES:
                skipped.append((task_id, f"{STATE_LABELS[state]},无需催办"))
                continue
            inserted = session.execute(
                insert_for(session, Notice)
                .values(
                    task_id=task_id,
                    step=key,
                    status="pending",
                    level=MANUAL_URGE.level,
                    due_at=now,
                    created_at=now,
                    requested_by=actor,
                    note=note,
                )
                .on_conflict_do_nothing(index_elements=["task_id", "step"])
                .returning(Notice.id)
            ).scalar_one_or_none()
            if inserted is None:
                skipped.append((task_id, "今天已催办过"))
            else:
                urged.append(task_id)
        if urged:
            names = [f"措施{tasks[i].measure.number} {tasks[i].department.name}" for i in urged]
            subject = "、".join(names[:3]) + (f"等{len(names)}项" if len(names) > 3 else "")
            _audit(session, now=now, actor=actor, action="urge", subject=subject,
                   data={"tasks": urged, "note": note})
    return UrgeOutcome(urged, skipped)


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
