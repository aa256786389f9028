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

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.db import insert_for
from duban.domain.escalation import Audience, LadderStep, StepKey, step_by_name
from duban.domain.labels import AUDIENCE_LABELS
from duban.domain.outbox import DeliveryStatus, NoticeStatus
from duban.services.accounts.org import ContactWithChannels, contact_view
from duban.services.ladder.core import OrgClock, policy_for
from duban.services.outbox.contract import FAILED_STEP, FIRST_NOTICE_BATCH, SendTimeFn, notice_due
from models import Contact, Delivery, DeliveryItem, Department, Notice, Task


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


Wanted = tuple[int | None, str]  # (department id or None for staff, contact role)
LeadKey = tuple[int, object]  # (measure id, deadline)


def _wanted(
    task: Task, audience: Sequence[str], leads: Mapping[LeadKey, list[int]]
) -> list[Wanted]:
    """Whom the audience of a step means for ``task``, as (department, role)."""
    wanted: list[Wanted] = []
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
            key = (task.measure_id, task.deadline)
            wanted.extend((lead, "liaison") for lead in leads.get(key, []))
    return wanted



def _leads_of(session: Session, tasks: Sequence[Task]) -> dict[LeadKey, list[int]]:
    """The lead departments of the measures of ``tasks``, by (measure, deadline)."""
    measures = {task.measure_id for task in tasks if task.role == "supporting"}
    leads: dict[LeadKey, list[int]] = defaultdict(list)
    if measures:
        for measure_id, deadline, department_id in session.execute(
            select(Task.measure_id, Task.deadline, Task.department_id)
            .where(Task.measure_id.in_(measures), Task.role == "lead")
            .order_by(Task.id)
        ):
            leads[(measure_id, deadline)].append(department_id)
    return leads


def _contacts_of(session: Session, wanted: set[Wanted]) -> dict[Wanted, list[ContactWithChannels]]:
    """Active contacts with their active channels for each (department, role),
    in file order of first load, with one query (as ``contacts_for`` each)."""
    found: dict[Wanted, list[ContactWithChannels]] = defaultdict(list)
    if not wanted:
        return found
    departments = {d for d, _ in wanted if d is not None}
    query = (
        select(Contact)
        .where(
            Contact.active.is_(True),
            Contact.role.in_({role for _, role in wanted}),
            or_(Contact.department_id.is_(None), Contact.department_id.in_(departments)),
        )
        .options(selectinload(Contact.channels))
        .order_by(Contact.id)
    )
    for row in session.scalars(query):
        key = (row.department_id, row.role)
        if key in wanted:
            found[key].append(contact_view(row))
    return found


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
                status=DeliveryStatus.PENDING,
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
        if row.status == DeliveryStatus.PENDING and row.attempts == 0:
            return int(row.id)
        batch += 1  # today's digest already went out: a new one


ROUTE_BATCH = 500  # notices routed per transaction


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
    failed with the reason. Notices are routed ``ROUTE_BATCH`` at a time, each
    batch in one transaction with set-based statements."""
    clock = clock or OrgClock()
    report = RouteReport()
    with session_factory() as session:
        query = select(Notice.id).where(notice_due(now)).order_by(Notice.due_at, Notice.id)
        ids = list(session.scalars(query.limit(limit) if limit else query))
    for start in range(0, len(ids), ROUTE_BATCH):
        with session_factory.begin() as session:
            _route_batch(
                session,
                ids[start : start + ROUTE_BATCH],
                report,
                now=now,
                send_time=send_time,
                clock=clock,
            )
    return report


def _route_batch(
    session: Session,
    ids: list[int],
    report: RouteReport,
    *,
    now: datetime,
    send_time: SendTimeFn,
    clock: OrgClock,
) -> None:
    notices = _claim(session, ids)
    if not notices:
        return
    tasks = {
        t.id: t
        for t in session.scalars(select(Task).where(Task.id.in_({n.task_id for n in notices})))
    }
    leads = _leads_of(session, list(tasks.values()))
    audiences: dict[int, list[str]] = {}
    wanted: dict[int, list[Wanted]] = {}
    for notice in notices:
        task = tasks[notice.task_id]
        step = _step_of(session, notice, task)
        audiences[notice.id] = (
            [str(a) for a in step.audience] if step else [Audience.COORDINATORS.value]
        )
        wanted[notice.id] = _wanted(task, audiences[notice.id], leads)
    contacts = _contacts_of(session, {w for ws in wanted.values() for w in ws})
    # (channel, day) -> (contact, not before): the first notice of a channel's day sets it.
    opened: dict[tuple[int, date], tuple[int, datetime]] = {}
    items: list[tuple[int, tuple[int, date]]] = []  # (notice, (channel, day))
    for notice in notices:
        channels = _channels_of(wanted[notice.id], contacts)
        if not channels:
            _unroutable(session, notice, tasks[notice.task_id], audiences[notice.id])
            report.unroutable += 1
            continue
        send_at = send_time(max(now, notice.due_at))
        day = clock.today(send_at)
        for channel_id, contact_id in channels:
            opened.setdefault((channel_id, day), (contact_id, send_at))
            items.append((notice.id, (channel_id, day)))
        report.routed += 1
    deliveries = _open_deliveries(session, opened, now)
    rows = [
        {"delivery_id": deliveries[key], "notice_id": notice_id, "channel_id": key[0]}
        for notice_id, key in items
    ]
    _insert_items(session, rows, report)


def _claim(session: Session, ids: list[int]) -> list[Notice]:
    """The pending notices of ``ids`` this router locks and nobody routed yet,
    in the order of ``ids``."""
    # Locked while routing: a sweep dropping a finished task's unrouted notices
    # waits, then sees their items (ladder.batch._supersede_unrouted); one
    # another router holds is skipped (that router routes it). In id order, as
    # the sweep locks them, so neither waits for the other in a cycle.
    locked = list(
        session.scalars(
            select(Notice)
            .where(Notice.id.in_(ids), Notice.status == NoticeStatus.PENDING)
            .order_by(Notice.id)
            .with_for_update(skip_locked=True)
        )
    )
    # Routed by another router while this one waited (a fresh statement sees
    # its commit): going on would open an empty delivery next to the claimed one.
    routed = set(
        session.scalars(select(DeliveryItem.notice_id).where(DeliveryItem.notice_id.in_(ids)))
    )
    order = {notice_id: index for index, notice_id in enumerate(ids)}
    return sorted((n for n in locked if n.id not in routed), key=lambda n: order[n.id])


def _insert_items(session: Session, rows: list[dict[str, int]], report: RouteReport) -> None:
    """Insert the delivery items (one per notice and channel; one already
    there is skipped), counting those inserted and their deliveries."""
    for start in range(0, len(rows), ITEM_CHUNK):
        for delivery_id in session.scalars(
            insert_for(session, DeliveryItem)
            .values(rows[start : start + ITEM_CHUNK])
            .on_conflict_do_nothing(index_elements=["notice_id", "channel_id"])
            .returning(DeliveryItem.delivery_id)
        ):
            report.items += 1
            report.deliveries.add(delivery_id)


ITEM_CHUNK = 1000  # rows per INSERT (3 values each)


def _channels_of(
    wanted: list[Wanted], contacts: Mapping[Wanted, list[ContactWithChannels]]
) -> list[tuple[int, int]]:
    """(channel id, contact id) of each recipient's active channel, each contact once."""
    seen: set[int] = set()
    channels: list[tuple[int, int]] = []
    for key in wanted:
        for contact in contacts.get(key, []):
            if contact.contact_id in seen:
                continue
            seen.add(contact.contact_id)
            channels.extend((c.id, contact.contact_id) for c in contact.channels)
    return sorted(channels)


def _unroutable(session: Session, notice: Notice, task: Task, audience: list[str]) -> None:
    notice.status = NoticeStatus.FAILED
    department = session.get(Department, task.department_id)
    names = "、".join(AUDIENCE_LABELS.get(a, a) for a in audience)
    notice.reason = f"无人可收:{department.name if department else ''}的{names}未配置联系方式"


def _open_deliveries(
    session: Session, wanted: Mapping[tuple[int, date], tuple[int, datetime]], now: datetime
) -> dict[tuple[int, date], int]:
    """:func:`open_delivery` for many (channel, day) pairs at once: one
    multi-row INSERT of the first batch where missing, one locking read of
    them all (in channel id order); a channel whose day's first delivery has
    gone out already takes the one-by-one path to its next batch."""
    keys = sorted(wanted)
    if not keys:
        return {}
    rows = [
        {
            "channel_id": channel_id,
            "contact_id": wanted[(channel_id, day)][0],
            "day": day,
            "batch": FIRST_NOTICE_BATCH,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "not_before": wanted[(channel_id, day)][1],
            "next_attempt_at": wanted[(channel_id, day)][1],
            "created_at": now,
        }
        for channel_id, day in keys
    ]
    # Executemany: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues")
    # from one cached compiled statement, instead of compiling a statement
    # with a parameter per value of every row.
    session.execute(
        insert_for(session, Delivery).on_conflict_do_nothing(
            index_elements=["channel_id", "day", "batch"]
        ),
        rows,
    )
    firsts: dict[tuple[int, date], tuple[int, bool]] = {}
    channels = sorted({channel_id for channel_id, _ in keys})
    days = sorted({day for _, day in keys})
    for start in range(0, len(channels), DELIVERY_CHUNK):
        for row in session.execute(
            select(
                Delivery.id, Delivery.channel_id, Delivery.day, Delivery.status, Delivery.attempts
            )
            .where(
                Delivery.channel_id.in_(channels[start : start + DELIVERY_CHUNK]),
                Delivery.day.in_(days),
                Delivery.batch == FIRST_NOTICE_BATCH,
            )
            .order_by(Delivery.channel_id, Delivery.day)
            .with_for_update(key_share=True)
        ):
            open_ = row.status == DeliveryStatus.PENDING and row.attempts == 0
            firsts[(row.channel_id, row.day)] = (row.id, open_)
    found: dict[tuple[int, date], int] = {}
    for key in keys:
        delivery_id, open_ = firsts[key]
        if open_:
            found[key] = delivery_id
        else:  # today's digest already went out: a later batch
            contact_id, not_before = wanted[key]
            found[key] = open_delivery(session, key[0], contact_id, key[1], not_before, now)
    return found


DELIVERY_CHUNK = 500
