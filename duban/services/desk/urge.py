"""Notices a coordinator queues by hand: :func:`urge_now` (催办 by hand — a
manual rung of the ladder through the outbox, to the department's liaison,
with an optional note) and :func:`resend_notice` (the 交办通知 again, with a
fresh link). Both go out with the next delivery pass inside office hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.escalation import MANUAL_URGE, Anchor, StepKey
from duban.domain.lifecycle import OPEN_STATES, STATE_LABELS, TaskState
from duban.services.desk.audit import record_audit
from duban.services.ladder.core import policy_for
from duban.services.notices import queue_notice
from duban.services.tasks.facts import LOCAL_ZONE, local_date
from models import Task


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
        if task.state == TaskState.APPROVED:
            raise DubanError("该任务已办结,无需重新发送通知")
        policy = policy_for(session, task.policy_id)
        step = next((s for s in policy.steps if s.anchor is Anchor.ASSIGNED), policy.steps[0])
        today = local_date(now, zone)
        notice_id = queue_notice(
            session,
            task_id,
            step=StepKey.on(step.name, today).format(),
            level=step.level,
            now=now,
            reason=f"督办科重新发送({actor})",
        )
        if notice_id is None:
            raise DubanError(f"该任务今天已重新发送过{step.label},请明天再重新发送")
        caption = f"措施{task.measure.number} {task.department.name}"
        record_audit(session, now=now, actor=actor, action="resend_notice", subject=caption,
                     data={"task": task_id, "notice": notice_id, "step": step.name})
        return int(notice_id)


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
            why = "找不到该任务" if task is None else _urge_one(
                session, task, key, now=now, actor=actor, note=note
            )
            if why is None:
                urged.append(task_id)
            else:
                skipped.append((task_id, why))
        if urged:
            names = [f"措施{tasks[i].measure.number} {tasks[i].department.name}" for i in urged]
            subject = "、".join(names[:3]) + (f"等{len(names)}项" if len(names) > 3 else "")
            record_audit(session, now=now, actor=actor, action="urge", subject=subject,
                         data={"tasks": urged, "note": note})
    return UrgeOutcome(urged, skipped)


def _urge_one(
    session: Session, task: Task, key: str, *, now: datetime, actor: str, note: str | None
) -> str | None:
    """Queue the manual 催办 notice ``key`` for ``task``; why not, or None when queued."""
    state = TaskState(task.state)
    if state not in OPEN_STATES:
        return f"{STATE_LABELS[state]},无需催办"
    inserted = queue_notice(
        session, task.id, step=key, level=MANUAL_URGE.level, now=now, requested_by=actor, note=note
    )
    return "今天已催办过" if inserted is None else None
