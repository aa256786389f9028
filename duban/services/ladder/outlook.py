"""What happens next on the escalation ladder for one task, in words a
department understands (shown on its task page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.escalation import (
    Anchor,
    EscalationPolicy,
    LadderStep,
    TaskTimeline,
    ladder,
    max_after_due,
    step_label,
)
from duban.domain.labels import AUDIENCE_LABELS, NOTICE_STATUS_LABELS
from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.workdays import UNPUBLISHED_LABEL, Unpublished, WorkCalendar
from duban.services.ladder.core import policy_for, timeline_of
from models import Notice, Task


@dataclass(frozen=True)
class PastStep:
    on: date
    label: str
    level: int
    status_label: str


@dataclass(frozen=True)
class NextStep:
    """A rung still ahead; ``on`` is None while its day needs an unpublished year."""

    on: date | None
    label: str
    level: int
    words: str

    @property
    def when(self) -> str:
        return UNPUBLISHED_LABEL if self.on is None else self.on.isoformat()


def next_steps(
    task_id: int,
    *,
    today: date,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    session_factory: sessionmaker[Session],
    limit: int = 3,
) -> list[NextStep]:
    """The ladder still ahead of the task after ``today``, soonest first: the
    next ``limit`` reminders and every 催办/督办 rung (what happens if nothing is
    done); empty once it is submitted or approved."""
    with session_factory() as session:
        task = session.get(Task, task_id)
        if task is None or TaskState(task.state) in (TaskState.SUBMITTED, TaskState.APPROVED):
            return []
        policy = policy_for(session, task.policy_id)
        timeline = timeline_of(session, task, zone)
        done = frozenset(session.scalars(select(Notice.step).where(Notice.task_id == task_id)))
    return upcoming_steps(timeline, policy, calendar, today=today, done=done, limit=limit)


def upcoming_steps(
    timeline: TaskTimeline,
    policy: EscalationPolicy,
    calendar: WorkCalendar,
    *,
    today: date,
    done: frozenset[str],
    limit: int = 3,
) -> list[NextStep]:
    """What :func:`next_steps` returns, from the task's facts (no database):
    dated steps first, then those waiting for a year's calendar (待日历公布)."""
    if timeline.state not in OPEN_STATES:
        return []
    last = calendar.maybe_add_workdays(max(today, timeline.due), max_after_due(policy) + 1)
    planned = ladder(
        timeline, policy, calendar, until=date.max if isinstance(last, Unpublished) else last
    )
    upcoming: list[tuple[LadderStep, date | None]] = [
        (o.step, o.on) for o in planned.known if o.on > today and o.key not in done
    ]
    upcoming += [(w.step, None) for w in planned.waiting]
    steps: list[NextStep] = []
    reminders = 0
    for step, on in upcoming:
        if step.anchor in (Anchor.ASSIGNED, Anchor.REPORT_MISSING):
            continue  # done already, or only if a report is missed
        if step.anchor is Anchor.UNACKNOWLEDGED and timeline.acknowledged_on is not None:
            continue
        if step.level == 0:
            if reminders >= limit:
                continue
            reminders += 1
        # Whom it reaches: the step's label already says what it is (催办(抄送单位负责人)).
        words = "发给" + "、".join(AUDIENCE_LABELS.get(a, a) for a in step.audience)
        steps.append(NextStep(on, step.label, step.level, words))
    return steps


def past_escalations(
    task_id: int, *, zone: ZoneInfo, session_factory: sessionmaker[Session]
) -> list[PastStep]:
    """The task's 催办 and 督办 so far (level 1 and up), oldest first."""
    with session_factory() as session:
        task = session.get(Task, task_id)
        if task is None:
            return []
        policy = policy_for(session, task.policy_id)
        rows = session.scalars(
            select(Notice)
            .where(Notice.task_id == task_id, Notice.level >= 1)
            .order_by(Notice.due_at, Notice.id)
        ).all()
        return [
            PastStep(
                on=n.due_at.astimezone(zone).date(),
                label=step_label(policy, n.step),
                level=n.level,
                status_label=NOTICE_STATUS_LABELS.get(n.status, n.status),
            )
            for n in rows
        ]
