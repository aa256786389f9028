"""Routing: each pending, due notice becomes delivery items.

One item per channel of each recipient the ladder step names (liaison, head,
coordinators, supervisors, the measure's lead department). Items of one
channel for one sending day share one delivery — the day's digest. A delivery
is recorded before it is sent (:mod:`duban.services.outbox.deliver` sends it).

Routing and delivering run at once in several processes: routing locks the
delivery it adds an item to, so a claim waits for that item (see
:func:`open_delivery`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from duban.db import insert_for
from duban.domain.escalation import Audience, LadderStep, StepKey, step_by_name
from duban.domain.labels import AUDIENCE_LABELS
from duban.services.accounts.org import ContactWithChannels, contacts_for
from duban.services.ladder.core import OrgClock, policy_for
from duban.services.outbox.contract import FAILED_STEP, FIRST_NOTICE_BATCH, SendTimeFn, notice_due
from models import Delivery, DeliveryItem, Department, Notice, Task


@dataclass
class RouteReport:
    routed: int = 0
    items: int = 0
    deliveries: set[int] = field(default_factory=set)
    unroutable: int = 0



def _step_of(session: Session, notice: Notice, task: Task) -> LadderStep | None:
    name = StepKey.parse(notice.step).name
    if name == FAILED_STEP:
        return None
    return step_by_name(policy_for(session, task.policy_id), name)


def _recipients(session: Session, task: Task, audience: Sequence[str]) -> list[ContactWithChannels]:
    """Active contacts (with active channels) for the audience of a step."""
    wanted: list[tuple[int | None, str]] = []
    for who in audience:
        if who == Audience.LIAISON:
            wanted.append((task.department_id, "liaison"))
        elif who == Audience.HEAD:
            wanted.append((task.department_id, "head"))
        elif who == Audience.COORDINATORS:
            wanted.append((None, "coordinator"))
        elif who == Audience.SUPERVISORS:
            wanted.append((None, "supervisor"))
        elif who == Audience.LEAD_DEPARTMENT and task.role == "supporting":
            leads = session.scalars(
                select(Task.department_id).where(
                    Task.measure_id == task.measure_id,
                    Task.role == "lead",
                    Task.deadline == task.deadline,
                )
            )
            wanted.extend((lead, "liaison") for lead in leads)
    contacts: list[ContactWithChannels] = []
    for department_id, role in wanted:
        for contact in contacts_for(session, department_id=department_id, role=role):
            if all(c.contact_id != contact.contact_id for c in contacts):
                contacts.append(contact)
    return contacts


def open_delivery(
    session: Session,
    channel_id: int,
    contact_id: int,
    day: date,
    not_before: datetime,
    now: datetime,
) -> int:
    """The id of the channel's still-unsent delivery for ``day`` (creating one),
    locked until the caller's transaction ends.

    The lock closes a race with :func:`dispatch`: without it, a dispatcher could
    claim the delivery between this read and the caller's commit and send it
    without the item the caller is adding. Held, the dispatcher's claim waits
    and then sees the item; if the claim came first, the row reads as claimed
    and the next batch is used. FOR NO KEY UPDATE is the lock the claim's
    UPDATE takes, so it conflicts with exactly that, not with rows referring
    to the delivery. (SQLite has no row locks; it serialises writers anyway.)
    Callers lock several channels' deliveries in one transaction in channel id
    order, so two routers never wait for each other in a cycle."""
    batch = FIRST_NOTICE_BATCH
    while True:
        session.execute(
            insert_for(session, Delivery)
            .values(
                channel_id=channel_id,
                contact_id=contact_id,
                day=day,
                batch=batch,
                status="pending",
                attempts=0,
                not_before=not_before,
                next_attempt_at=not_before,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel_id", "day", "batch"])
        )
        row = session.execute(
            select(Delivery.id, Delivery.status, Delivery.attempts)
            .where(Delivery.channel_id == channel_id, Delivery.day == day, Delivery.batch == batch)
            .with_for_update(key_share=True)
        ).one()
        if row.status == "pending" and row.attempts == 0:
            return int(row.id)
        batch += 1  # today's digest already went out: a new one


def route(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    send_time: SendTimeFn,
    clock: OrgClock | None = None,
    limit: int | None = None,
) -> RouteReport:
    """Hand every pending, due, unrouted notice to deliveries (see module doc).

    ``send_time(moment)`` gives the first instant inside office hours on a
    working day at or after ``moment``. A notice nobody can receive is marked
    failed with the reason."""
    clock = clock or OrgClock()
    report = RouteReport()
    with session_factory() as session:
        query = (
            select(Notice.id)
            .where(notice_due(now))
            .order_by(Notice.due_at, Notice.id)
        )
        ids = list(session.scalars(query.limit(limit) if limit else query))
    for notice_id in ids:
        with session_factory.begin() as session:
            # Locked while routing: a sweep dropping a finished task's unrouted
            # notices waits, then sees this notice's items (sweep._supersede_unrouted).
            notice = session.get(Notice, notice_id, with_for_update=True)
            if notice is None or notice.status != "pending":
                continue
            if session.scalar(select(exists().where(DeliveryItem.notice_id == notice_id))):
                # Another router routed it while this one waited for the lock;
                # going on would open an empty delivery next to the claimed one.
                continue
            task = session.get(Task, notice.task_id)
            assert task is not None
            step = _step_of(session, notice, task)
            audience = [str(a) for a in step.audience] if step else [Audience.COORDINATORS.value]
            contacts = _recipients(session, task, audience)
            channels = sorted(  # channel id order: see open_delivery
                ((c, contact.contact_id) for contact in contacts for c in contact.channels),
                key=lambda pair: pair[0].id,
            )
            if not channels:
                notice.status = "failed"
                department = session.get(Department, task.department_id)
                names = "、".join(AUDIENCE_LABELS.get(a, a) for a in audience)
                notice.reason = (
                    f"无人可收:{department.name if department else ''}的{names}未配置联系方式"
                )
                report.unroutable += 1
                continue
            send_at = send_time(max(now, notice.due_at))
            day = clock.today(send_at)
            for channel, contact_id in channels:
                delivery_id = open_delivery(session, channel.id, contact_id, day, send_at, now)
                inserted = session.execute(
                    insert_for(session, DeliveryItem)
                    .values(delivery_id=delivery_id, notice_id=notice.id, channel_id=channel.id)
                    .on_conflict_do_nothing(index_elements=["notice_id", "channel_id"])
                    .returning(DeliveryItem.id)
                ).scalar_one_or_none()
                if inserted is not None:
                    report.items += 1
                    report.deliveries.add(delivery_id)
            report.routed += 1
    return report
