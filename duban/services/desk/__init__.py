"""The coordinators' desk (督办科): what waits for them and the fixes only they make.

- :mod:`~duban.services.desk.queue`: the work queue (督办科待办) — overdue,
  unacknowledged, missing reports, submissions, extensions, blocked deliveries;
- :mod:`~duban.services.desk.review`: submissions, extension requests and
  failed or blocked deliveries, each with who else could take it;
- :mod:`~duban.services.desk.deliveries`: retry a delivery, redirect it to
  another contact, replace a contact's address;
- :mod:`~duban.services.desk.urge`: 催办 by hand and the 交办通知 again;
- :mod:`~duban.services.desk.audit`: each fix's audit entry, read back.

A room above the outbox (it queues notices and moves deliveries) and below
the reports; each fix owns its transaction and names the actor. The names
below are the room's public face (``from duban.services import desk``).
"""

from __future__ import annotations

from duban.services.desk.audit import AUDIT_ACTION_LABELS, audit_entries
from duban.services.desk.deliveries import redirect_delivery, replace_channel, retry_delivery
from duban.services.desk.queue import SECTION_LABELS, work_queue
from duban.services.desk.review import (
    blocked_deliveries,
    failed_deliveries,
    review_queue,
    task_caption,
)
from duban.services.desk.urge import UrgeOutcome, resend_notice, urge_now

__all__ = [
    "AUDIT_ACTION_LABELS",
    "SECTION_LABELS",
    "UrgeOutcome",
    "audit_entries",
    "blocked_deliveries",
    "failed_deliveries",
    "redirect_delivery",
    "replace_channel",
    "resend_notice",
    "retry_delivery",
    "review_queue",
    "task_caption",
    "urge_now",
    "work_queue",
]
