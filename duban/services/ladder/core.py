"""The ladder's floor: what every room that reads or moves the ladder shares.

``OrgClock`` (:class:`duban.timeutil.Clock`: where "today" and "office
morning" are, and now), ``LEASE`` (how long a claim by the sweep or the
outbox holds), ``policy_for`` (a stored policy version) and ``timeline_of``
(the facts of a task the ladder reads).

This module depends on the domain, ``duban.timeutil`` and the models only, as
the whole ladder room does: it sits just above the calendar, so every room that
reads or moves the ladder (accounts, plans, tasks, outbox, desk, reports, rounds)
sits above it (tests/unit/test_layering.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.escalation import DEFAULT_POLICY, EscalationPolicy, TaskTimeline
from duban.domain.lifecycle import Action, TaskState
from duban.timeutil import Clock
from models import EscalationPolicyRow, Task, TaskEvent

LEASE = timedelta(minutes=10)


# The one clock (zone, office start, now): the ladder's rooms call it OrgClock.
OrgClock = Clock


_PARSED: dict[str, EscalationPolicy] = {}
_SESSION_CACHE = "duban.policies"  # session.info key: policy id -> parsed policy


def policy_for(session: Session, policy_id: int | None) -> EscalationPolicy:
    """The stored policy version ``policy_id`` (the default ladder when None).

    Read once per session (a version's data never changes; the session's
    identity map alone would forget a row nothing holds and query again), and
    parsed once per content fingerprint, which is safe across databases."""
    if policy_id is None:
        return DEFAULT_POLICY
    known: dict[int, EscalationPolicy] = session.info.setdefault(_SESSION_CACHE, {})
    policy = known.get(policy_id)
    if policy is None:
        policy = _read_policy(session, policy_id)
        if policy is None:
            return DEFAULT_POLICY  # not stored (yet): asked again next time
        known[policy_id] = policy
    return policy


def share_policies(session: Session, known: dict[int, EscalationPolicy]) -> None:
    """Let ``session``'s :func:`policy_for` read into and from ``known``
    (policy id -> policy), which other sessions of the same database share:
    a stored version never changes, so a run of short sessions (the outbox's
    batches) reads each version once, not once per session."""
    session.info[_SESSION_CACHE] = known


def _read_policy(session: Session, policy_id: int) -> EscalationPolicy | None:
    row = session.execute(
        select(EscalationPolicyRow.fingerprint, EscalationPolicyRow.data).where(
            EscalationPolicyRow.id == policy_id
        )
    ).one_or_none()
    if row is None:
        return None
    cached = _PARSED.get(row.fingerprint)
    if cached is None:
        cached = _PARSED[row.fingerprint] = EscalationPolicy.from_data(row.data)
    return cached


def timeline_of(session: Session, task: Task, zone: ZoneInfo) -> TaskTimeline:
    """The facts the ladder needs, from the task and its events."""
    return timelines_of(session, [task], zone)[task.id]


def timelines_of(
    session: Session, tasks: Sequence[Task], zone: ZoneInfo
) -> dict[int, TaskTimeline]:
    """:func:`timeline_of` for many tasks with one query of their report events."""
    reports: dict[int, list[date]] = defaultdict(list)
    if tasks:
        rows = session.execute(
            select(TaskEvent.task_id, TaskEvent.at).where(
                TaskEvent.task_id.in_([task.id for task in tasks]),
                TaskEvent.action == Action.REPORT.value,
            )
        )
        for task_id, at in rows:
            reports[task_id].append(at.astimezone(zone).date())
    return {
        task.id: TaskTimeline(
            state=TaskState(task.state),
            assigned_on=task.assigned_at.astimezone(zone).date(),
            due=task.due,
            acknowledged_on=(
                task.acknowledged_at.astimezone(zone).date() if task.acknowledged_at else None
            ),
            report_dates=tuple(sorted(reports[task.id])),
        )
        for task in tasks
    }
