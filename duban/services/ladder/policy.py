"""Escalation policy versions in the database, and re-applying the current one.

Each distinct policy (by the sha256 of its canonical JSON) is stored once, as
an ``escalation_policies`` row; exactly one row is ``current``. A task keeps
the policy that was current when it was assigned (``Task.policy_id``) until a
coordinator re-applies the current one
(:func:`duban.services.tasks.reapply_policy.apply_current_policy`).

Reads never write: with no stored policy, :func:`current_policy` answers
``(None, DEFAULT_POLICY)``. ``duban org load`` always stores a policy (the
file's, else the default), so after the first load there is a current row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.escalation import DEFAULT_POLICY, OPEN, EscalationPolicy
from models import EscalationPolicyRow, Task


class PolicyChange(StrEnum):
    UNCHANGED = "unchanged"  # the file's policy was already current
    NEW = "new"  # a new version was stored and made current
    SWITCHED = "switched"  # an older stored version became current again


@dataclass(frozen=True)
class PolicyVersion:
    id: int
    name: str
    fingerprint: str
    created_at: datetime
    current: bool
    tasks: int  # open tasks that follow this version


def policy_data(policy: EscalationPolicy) -> dict[str, Any]:
    """The policy as plain JSON data (enums as strings), as stored."""
    return cast(dict[str, Any], json.loads(_canonical(policy)))


def policy_fingerprint(policy: EscalationPolicy) -> str:
    """sha256 (hex) of the policy's canonical JSON: equal policies, equal prints."""
    return hashlib.sha256(_canonical(policy).encode("utf-8")).hexdigest()


def _canonical(policy: EscalationPolicy) -> str:
    return json.dumps(policy.to_data(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def store_policy(
    policy: EscalationPolicy, *, session: Session, now: datetime
) -> tuple[EscalationPolicyRow, PolicyChange]:
    """Make ``policy`` the current version inside the caller's transaction.

    A policy seen before (same fingerprint) reuses its row; otherwise a row is
    added with ``created_at = now``. Every other row loses ``current``. Writes
    nothing when the policy is already the only current one.
    """
    fingerprint = policy_fingerprint(policy)
    rows = list(session.scalars(select(EscalationPolicyRow).order_by(EscalationPolicyRow.id)))
    row = next((r for r in rows if r.fingerprint == fingerprint), None)
    change = PolicyChange.UNCHANGED
    if row is None:
        row = EscalationPolicyRow(
            name=policy.name,
            fingerprint=fingerprint,
            data=policy_data(policy),
            created_at=now,
            current=True,
        )
        session.add(row)
        change = PolicyChange.NEW
    elif not row.current:
        row.current = True
        change = PolicyChange.SWITCHED
    for other in rows:
        if other is not row and other.current:
            other.current = False
    session.flush()
    return row, change


def current_policy(
    source: Session | sessionmaker[Session],
) -> tuple[int | None, EscalationPolicy]:
    """The current policy's id and policy; ``(None, DEFAULT_POLICY)`` when none
    is stored. Accepts a session or a session factory; never writes."""
    if isinstance(source, Session):
        return _current(source)
    with source() as session:
        return _current(session)


def _current(session: Session) -> tuple[int | None, EscalationPolicy]:
    row = session.scalars(
        select(EscalationPolicyRow)
        .where(EscalationPolicyRow.current.is_(True))
        .order_by(EscalationPolicyRow.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, DEFAULT_POLICY
    return row.id, _from_row(row)


def _from_row(row: EscalationPolicyRow) -> EscalationPolicy:
    return EscalationPolicy.from_data(row.data, source=f"督办规则(编号 {row.id})")


def policy_versions(*, session: Session) -> list[PolicyVersion]:
    """Every stored version, oldest first, with how many open tasks follow it."""
    counts: dict[int | None, int] = {
        policy_id: count
        for policy_id, count in session.execute(
            select(Task.policy_id, func.count())
            .where(Task.state.in_([s.value for s in OPEN]))
            .group_by(Task.policy_id)
        )
    }
    return [
        PolicyVersion(
            id=row.id,
            name=row.name,
            fingerprint=row.fingerprint,
            created_at=row.created_at,
            current=row.current,
            tasks=counts.get(row.id, 0),
        )
        for row in session.scalars(select(EscalationPolicyRow).order_by(EscalationPolicyRow.id))
    ]


def stale_open_tasks(*, session: Session) -> int:
    """Open tasks not on the current version (none stored: 0): what
    ``apply_current_policy`` (:mod:`duban.services.tasks.reapply_policy`) would move."""
    policy_id, _ = current_policy(session)
    if policy_id is None:
        return 0
    return session.scalar(
        select(func.count())
        .select_from(Task)
        .where(
            Task.state.in_([s.value for s in OPEN]),
            or_(Task.policy_id.is_(None), Task.policy_id != policy_id),
        )
    ) or 0
