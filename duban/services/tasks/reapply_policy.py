"""Moving open tasks (of one plan or measure, else all) to the current
escalation policy: a coordinator's choice after ``duban org load`` stored a new
one. A use case over tasks and plans; the policy's versions themselves are
stored by the ladder (:mod:`duban.services.ladder.policy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.escalation import OPEN
from duban.services.ladder.policy import current_policy
from duban.services.plans.catalog import find_plan
from models import Measure, Task


@dataclass(frozen=True)
class PolicyApplyReport:
    policy_id: int
    policy_name: str
    applied: int  # open tasks moved to the current policy (and marked for re-evaluation)
    already: int  # open tasks in scope that followed it already



def apply_current_policy(
    *,
    session_factory: sessionmaker[Session],
    now: datetime,
    plan: str | None = None,
    measure: int | None = None,
) -> PolicyApplyReport:
    """Move open tasks (of one plan or measure, else all) to the current policy.

    Each task moved gets ``policy_id`` = the current version, ``next_action_at
    = now`` (the sweep re-evaluates it) and ``version + 1`` (so a sweep that
    read the old policy cannot overwrite the new next action time). Tasks
    already on it are left alone: running it twice changes nothing. Raises
    DubanError when no policy is stored yet, NotFoundError for an unknown plan
    or measure; nothing is written then.
    """
    with session_factory.begin() as session:
        policy_id, policy = current_policy(session)
        if policy_id is None:
            raise DubanError("尚未载入督办规则,请先运行 duban org load")
        scope = _open_tasks(session, plan=plan, measure=measure)
        total = session.scalar(select(func.count()).select_from(scope.subquery())) or 0
        ids = list(
            session.scalars(
                select(Task.id).where(
                    Task.id.in_(scope.with_only_columns(Task.id)),
                    or_(Task.policy_id.is_(None), Task.policy_id != policy_id),
                )
            )
        )
        applied = 0
        if ids:
            result = cast(
                CursorResult[Any],
                session.execute(
                    update(Task)
                    # Re-checked here: a task closed or moved meanwhile is left alone.
                    .where(
                        Task.id.in_(ids),
                        Task.state.in_([s.value for s in OPEN]),
                        or_(Task.policy_id.is_(None), Task.policy_id != policy_id),
                    )
                    .values(policy_id=policy_id, next_action_at=now, version=Task.version + 1)
                    .execution_options(synchronize_session=False)
                ),
            )
            applied = result.rowcount
    return PolicyApplyReport(policy_id, policy.name, applied, total - applied)


def _open_tasks(session: Session, *, plan: str | None, measure: int | None) -> Select[Any]:
    query = select(Task).where(Task.state.in_([s.value for s in OPEN]))
    if plan is None and measure is None:
        return query
    plan_row = find_plan(plan, session=session)
    query = query.join(Measure, Measure.id == Task.measure_id).where(Measure.plan_id == plan_row.id)
    if measure is not None:
        if (
            session.scalar(
                select(Measure.id).where(Measure.plan_id == plan_row.id, Measure.number == measure)
            )
            is None
        ):
            raise NotFoundError(f"方案“{plan_row.key}”中没有第{measure}项措施")
        query = query.where(Measure.number == measure)
    return query
