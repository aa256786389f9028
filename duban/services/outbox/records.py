"""What a delivery's attempt writes besides itself: its notices sent or
failed, the notices no longer worth sending dropped before a retry, and a
delivery left with nothing to say closed.

Before each retry the notices a delivery carries are checked with the sweep's
rule (:func:`duban.domain.escalation.stale_reason`): those no longer worth
sending (the task finished, a newer reminder of the same kind fell due) are
dropped and recorded as superseded, and a delivery left with nothing to say is
superseded itself. A permanent failure queues a ``delivery_failed`` notice for
the coordinators (never for a failed failure report).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.db import insert_for
from duban.domain.escalation import StepKey, stale_reason
from duban.domain.outbox import DeliveryStatus, NoticeStatus
from duban.services.ladder.core import policy_for, timeline_of
from duban.services.outbox.contract import FIRST_NOTICE_BATCH, DeliveryContext
from duban.services.outbox.route import open_delivery
from models import Delivery, DeliveryItem, Notice, Task

LOG = logging.getLogger(__name__)


def set_superseded(session: Session, delivery: Delivery, attempts: int, now: datetime) -> str:
    """Close a claimed delivery (locked by the caller) that has nothing left to send."""
    if delivery.attempts != attempts:
        return "claimed_elsewhere"
    if delivery.items:
        # Joined meanwhile (should not happen: routing skips claimed deliveries).
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, now
        return "failed"
    delivery.status = DeliveryStatus.SUPERSEDED
    return "superseded"


def drop_stale(
    session_factory: sessionmaker[Session],
    delivery_id: int,
    *,
    context: DeliveryContext,
    now: datetime,
) -> bool:
    """Before a retry: take in the channel's other held-up deliveries (one
    message with everything still unsent, not one per day of an outage), then
    drop the notices no longer worth sending (see the module doc). True when
    none is left and the delivery was marked superseded.

    A first attempt, a scheduled report and a message with parts already
    accepted are left as they are. The check never stops a send: if it fails,
    the delivery goes as it is."""
    try:
        with session_factory() as session:
            delivery = session.get(Delivery, delivery_id, with_for_update={"key_share": True})
            if (
                delivery is None
                or delivery.attempts <= 1
                or delivery.batch < FIRST_NOTICE_BATCH
                or delivery.parts_sent
                or delivery.status != DeliveryStatus.SENDING
            ):
                return False
            merged = _take_in_held_up(session, delivery)
            today = context.clock.today(now)
            stale: list[tuple[DeliveryItem, Notice, str]] = []
            for item in delivery.items:
                notice = session.get(Notice, item.notice_id)
                task = session.get(Task, notice.task_id) if notice is not None else None
                if notice is None or task is None:
                    continue
                reason = stale_reason(
                    timeline_of(session, task, context.clock.zone),
                    policy_for(session, task.policy_id),
                    context.calendar,
                    today=today,
                    key=notice.step,
                )
                if reason:
                    stale.append((item, notice, reason))
            if not stale and not merged:
                session.rollback()
                return False
            everything = bool(stale) and len(stale) == len(delivery.items)
            for item, _notice, _reason in stale:
                delivery.items.remove(item)
            session.flush()
            for _item, notice, reason in stale:
                settle_dropped(session, notice, reason)
            if stale:
                LOG.info("delivery %s: %d notice(s) superseded before a retry", delivery_id,
                         len(stale))
            if everything:
                delivery.status = DeliveryStatus.SUPERSEDED
            session.commit()
            return everything
    except Exception:
        LOG.exception("delivery %s: could not check what is still worth sending", delivery_id)
        return False


def _take_in_held_up(session: Session, delivery: Delivery) -> int:
    """Move the items of the channel's other deliveries waiting for a retry
    into ``delivery`` (claimed by the caller); each one taken is closed as
    superseded, with a note naming this one. Compare-and-set on each, so a
    delivery another worker claimed meanwhile is left to it. Returns how many."""
    others = session.execute(
        select(Delivery.id, Delivery.attempts).where(
            Delivery.channel_id == delivery.channel_id,
            Delivery.id != delivery.id,
            Delivery.status == DeliveryStatus.FAILED,
            Delivery.parts_sent == 0,
            Delivery.batch >= FIRST_NOTICE_BATCH,
        )
    ).all()
    taken = 0
    for other_id, attempts in others:
        closed = session.execute(
            update(Delivery)
            .where(
                Delivery.id == other_id,
                Delivery.status == DeliveryStatus.FAILED,
                Delivery.attempts == attempts,
            )
            .values(
                status=DeliveryStatus.SUPERSEDED,
                last_error=f"已并入发送记录 #{delivery.id} 一并重发",
            )
            .execution_options(synchronize_session=False)
        )
        if closed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        session.execute(
            update(DeliveryItem)
            .where(DeliveryItem.delivery_id == other_id)
            .values(delivery_id=delivery.id)
            .execution_options(synchronize_session=False)
        )
        taken += 1
    if taken:
        session.expire(delivery, ["items"])
    return taken


def settle_dropped(session: Session, notice: Notice, reason: str) -> None:
    """A notice dropped from one delivery: superseded if no other channel
    carries it, sent if every other one sent it, else still pending."""
    statuses = list(
        session.scalars(
            select(Delivery.status)
            .join(DeliveryItem, DeliveryItem.delivery_id == Delivery.id)
            .where(DeliveryItem.notice_id == notice.id)
        )
    )
    if notice.status != NoticeStatus.PENDING:
        return
    if not statuses:
        notice.status, notice.reason = NoticeStatus.SUPERSEDED, reason
    elif all(status == DeliveryStatus.SENT for status in statuses):
        notice.status = NoticeStatus.SENT


def move_unrendered(
    session: Session, delivery: Delivery, rendered: list[int], now: datetime
) -> None:
    """Items that joined the delivery after it was rendered go to the channel's
    open delivery, to be sent next instead of being marked sent unsent (or left
    pending forever inside a sent delivery). Routing locks the delivery it adds
    to, so this is a safety net, never expected to act."""
    carried = set(rendered)
    strays = [item.id for item in delivery.items if item.notice_id not in carried]
    if not strays:
        return
    LOG.error("delivery %s: %d item(s) added after rendering; moved", delivery.id, len(strays))
    target = open_delivery(
        session, delivery.channel_id, delivery.contact_id, delivery.day, delivery.not_before, now
    )
    session.execute(
        update(DeliveryItem)
        .where(DeliveryItem.id.in_(strays))
        .values(delivery_id=target)
        .execution_options(synchronize_session=False)
    )


def mark_notices_sent(session: Session, notice_ids: list[int]) -> list[int]:
    """A notice is sent once every delivery carrying it is sent (one UPDATE
    per 500 notices). Returns the notices of ``notice_ids`` still pending: a
    delivery carrying them is unsent, as this transaction sees it."""
    unsent = exists().where(
        DeliveryItem.notice_id == Notice.id,
        Delivery.id == DeliveryItem.delivery_id,
        Delivery.status != DeliveryStatus.SENT,
    )
    ids = sorted(set(notice_ids))
    left: list[int] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marked = session.execute(
            update(Notice)
            .where(Notice.id.in_(chunk), Notice.status == NoticeStatus.PENDING, ~unsent)
            .values(status=NoticeStatus.SENT)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if marked == len(chunk):  # the usual case: every one marked, none left to read
            continue
        left.extend(
            session.scalars(
                select(Notice.id).where(
                    Notice.id.in_(chunk), Notice.status == NoticeStatus.PENDING
                )
            )
        )
    return left


def mark_notices_failed(
    session: Session, notice_ids: list[int], delivery: Delivery, now: datetime
) -> None:
    """Record the failure on the notices and tell the coordinators (once per delivery)."""
    privacy = delivery.channel.url_privacy
    reason = f"发送失败:{delivery.contact.name} {privacy}:{delivery.last_error or ''}"
    is_failure_notice = False
    for notice_id in notice_ids:
        notice = session.get(Notice, notice_id)
        if notice is None:
            continue
        is_failure_notice = (
            is_failure_notice or StepKey.parse(notice.step).is_delivery_failure
        )
        if notice.status == NoticeStatus.PENDING:
            notice.status, notice.reason = NoticeStatus.FAILED, reason
    if is_failure_notice or not notice_ids:
        return  # never report a failed failure report: no loops
    first = session.get(Notice, notice_ids[0])
    assert first is not None
    session.execute(
        insert_for(session, Notice)
        .values(
            task_id=first.task_id,
            step=StepKey.delivery_failure(delivery.id).format(),
            status=NoticeStatus.PENDING,
            level=0,
            due_at=now,
            created_at=now,
            reason=reason,
        )
        .on_conflict_do_nothing(index_elements=["task_id", "step"])
    )

