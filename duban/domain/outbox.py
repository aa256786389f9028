"""The statuses of notices and deliveries, exactly as stored.

A *notice* is one ladder step for one task; a *delivery* is one message to one
channel carrying a day's notices (models.task.Notice, models.outbox.Delivery).
The values are the strings in the ``status`` columns and their CHECK
constraints, so members compare equal to what the database returns.
"""

from __future__ import annotations

from enum import StrEnum


class NoticeStatus(StrEnum):
    PENDING = "pending"  # due; routed or not yet, not delivered to every channel
    SENT = "sent"  # every delivery carrying it was sent
    FAILED = "failed"  # nobody could receive it, or a delivery carrying it failed
    SUPERSEDED = "superseded"  # no longer worth sending (see domain.escalation)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # recorded, waiting for its first attempt
    SENDING = "sending"  # claimed by a worker (a lease: reclaimed when it expires)
    SENT = "sent"
    FAILED = "failed"  # an attempt failed; retried with back-off
    DEAD = "dead"  # refused for good; not retried
    SUPERSEDED = "superseded"  # nothing left worth sending when retried, or merged


# Deliveries waiting to be sent: a worker claims them when due.
DELIVERY_WAITING = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
# Deliveries whose last attempt failed, still retried or given up.
DELIVERY_FAILING = (DeliveryStatus.FAILED, DeliveryStatus.DEAD)
