"""The escalation ladder (提醒 → 催办 → 督办) as data, and which steps are due.

A policy is a list of steps, each triggered a number of working days from an
anchor (assignment, the due date, a report deadline). For one task on one day,
:func:`evaluate` returns the steps that are due and still meaningful, the steps
that fell due but are no longer meaningful (superseded: no stale "3 days left"
for a task that is already overdue), and the next day something may happen —
which the sweep stores as the task's next action time, so its cost follows the
work that is due, not the number of tasks.

Step keys carry their anchor date (``due_reminder_3@2015-12-31``): an approved
extension moves the due date, so every later step gets a new key and happens
again relative to the new date, while steps already sent stay in the log.
:class:`StepKey` reads and writes them.

Besides the ladder there is one rung a coordinator takes by hand,
:data:`MANUAL_URGE` (督办科催办): never evaluated by the sweep, its key is
anchored on the day it was taken (``manual_urge@2016-01-29``), so it is at
most once per task and day and never takes the key of a ladder step — the
automatic 催办 and 督办 still happen on their days.

A step whose date needs a year whose holiday notice is not yet published
(a 催办 ten working days after a due date of 2027-12-31, with no 2028 data)
is not an error: it is a :class:`WaitingStep` naming that year (shown as
待日历公布). Everything computable still happens; :attr:`Evaluation.waits_for`
tells the sweep which year to wait for before looking at the task again.

The steps, policies and step keys themselves are defined in
:mod:`duban.domain.escalation_policy` and importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from duban.domain.errors import DubanError
from duban.domain.escalation_policy import (
    ANNOUNCEMENTS,
    DEFAULT_POLICY,
    DELIVERY_FAILED,
    DUE_MOVED,
    MANUAL_URGE,
    TASK_CANCELLED,
    Anchor,
    Audience,
    EscalationPolicy,
    LadderStep,
    StepKey,
)
from duban.domain.lifecycle import TaskState
from duban.domain.status import report_periods
from duban.domain.workdays import Unpublished, WorkCalendar

# The ladder's data (escalation_policy) is imported from here too.
__all__ = [
    "ANNOUNCEMENTS",
    "DEFAULT_POLICY",
    "DELIVERY_FAILED",
    "DUE_MOVED",
    "MANUAL_URGE",
    "OPEN",
    "TASK_CANCELLED",
    "Anchor",
    "Audience",
    "EscalationPolicy",
    "Evaluation",
    "Ladder",
    "LadderStep",
    "Occurrence",
    "StepKey",
    "TaskTimeline",
    "WaitingStep",
    "evaluate",
    "ladder",
    "max_after_due",
    "next_rung",
    "next_step_after",
    "occurrences",
    "stale_reason",
    "step_by_name",
    "step_label",
]

_REMINDER_FAMILIES = {
    Anchor.UNACKNOWLEDGED: "ack",
    Anchor.BEFORE_DUE: "due",
}


@dataclass(frozen=True)
class TaskTimeline:
    """What the ladder needs to know of a task (dates in local time)."""

    state: TaskState
    assigned_on: date
    due: date
    acknowledged_on: date | None = None
    report_dates: tuple[date, ...] = ()


@dataclass(frozen=True)
class Occurrence:
    """One step for one task, anchored: ``key`` is unique per task."""

    key: str
    step: LadderStep
    on: date  # the working day it falls due
    anchor_date: date
    window_start: date | None = None  # report steps: reports after this day count


@dataclass(frozen=True)
class WaitingStep:
    """A step whose day cannot be known until ``year``'s holiday notice is
    published (待日历公布). ``anchor_date`` is None when the anchor itself (a
    report deadline) is not known yet either."""

    step: LadderStep
    anchor_date: date | None
    year: int
    window_start: date | None = None


@dataclass(frozen=True)
class Ladder:
    """A task's timeline on the ladder: the steps with a known day (sorted by
    day) and those waiting for a year's calendar (sorted by year, then step order)."""

    known: list[Occurrence]
    waiting: list[WaitingStep]


@dataclass
class Evaluation:
    due: list[Occurrence] = field(default_factory=list)
    superseded: list[tuple[Occurrence, str]] = field(default_factory=list)
    next_on: date | None = None
    # Steps still meaningful whose day needs an unpublished year, and the first
    # such year: the task is to be looked at again once that year is known.
    waiting: list[WaitingStep] = field(default_factory=list)
    waits_for: int | None = None


OPEN = frozenset(
    {TaskState.ASSIGNED, TaskState.ACKNOWLEDGED, TaskState.IN_PROGRESS, TaskState.RETURNED}
)


def occurrences(
    task: TaskTimeline, policy: EscalationPolicy, calendar: WorkCalendar, *, until: date
) -> list[Occurrence]:
    """Every step occurrence of the task's current timeline falling due by ``until``
    (report periods are generated up to the due date), sorted by day. Steps
    whose day is not known yet are left out (see :func:`ladder`)."""
    return ladder(task, policy, calendar, until=until).known


def ladder(
    task: TaskTimeline, policy: EscalationPolicy, calendar: WorkCalendar, *, until: date
) -> Ladder:
    """The task's steps: those with a known day up to ``until``, and every step
    whose day needs a year the calendar does not cover yet."""
    found: list[Occurrence] = []
    waiting: list[WaitingStep] = []
    periods = report_periods(task.assigned_on, task.due, calendar, policy.report)
    # A period's report counts when made after the previous period's end.
    starts = [task.assigned_on, *(p.period_end for p in periods)][: len(periods)]
    for step in policy.steps:
        anchors: list[tuple[date | Unpublished, date | Unpublished, date | None]]
        if step.anchor in (Anchor.ASSIGNED, Anchor.UNACKNOWLEDGED):
            on = calendar.maybe_add_workdays(task.assigned_on, step.workdays)
            anchors = [(task.assigned_on, on, None)]
        elif step.anchor is Anchor.BEFORE_DUE:
            anchors = [(task.due, calendar.maybe_add_workdays(task.due, -step.workdays), None)]
        elif step.anchor is Anchor.AFTER_DUE:
            anchors = [(task.due, calendar.maybe_add_workdays(task.due, step.workdays), None)]
        else:
            sign = -1 if step.anchor is Anchor.REPORT_DUE else 1
            anchors = [
                (p.deadline, _shift(calendar, p.deadline, sign * step.workdays), start)
                for p, start in zip(periods, starts, strict=True)
            ]
        for anchor_date, on, window_start in anchors:
            if isinstance(on, Unpublished):
                known_anchor = None if isinstance(anchor_date, Unpublished) else anchor_date
                waiting.append(WaitingStep(step, known_anchor, on.year, window_start))
                continue
            assert not isinstance(anchor_date, Unpublished)  # an unknown anchor gives no day
            if on <= until:
                key = StepKey.on(step.name, anchor_date).format()
                found.append(Occurrence(key, step, on, anchor_date, window_start))
    found.sort(key=lambda o: (o.on, o.step.level, o.key))
    waiting.sort(key=lambda w: w.year)
    return Ladder(found, waiting)


def _shift(calendar: WorkCalendar, day: date | Unpublished, n: int) -> date | Unpublished:
    return day if isinstance(day, Unpublished) else calendar.maybe_add_workdays(day, n)


def evaluate(
    task: TaskTimeline,
    policy: EscalationPolicy,
    calendar: WorkCalendar,
    *,
    today: date,
    done: frozenset[str] = frozenset(),
) -> Evaluation:
    """Steps due on ``today`` (or earlier and not yet in ``done``), split into
    meaningful and superseded, and the next day something may fall due.

    Rules: nothing once the task is submitted or approved; the acknowledgement
    reminder only while unacknowledged and not yet overdue; due-date reminders
    only until the due date, and of several due at once only the latest; a
    report reminder only while that period's report is missing, the "due" one
    superseded by the "missing" one; the overdue ladder (催办, 督办) is
    cumulative: each level reached is sent, since each reaches other people.
    """
    result = Evaluation()
    last = calendar.maybe_add_workdays(task.due, max_after_due(policy))
    horizon = date.max if isinstance(last, Unpublished) else max(today, last)
    steps = ladder(task, policy, calendar, until=horizon)
    pending = [o for o in steps.known if o.key not in done]
    due_now = [o for o in pending if o.on <= today]
    future = [o for o in pending if o.on > today]
    if task.state not in OPEN:
        result.superseded = [(o, "任务已报结或办结") for o in due_now]
        return result
    latest_in_family: dict[str, Occurrence] = {}
    for occ in due_now:
        reason = _not_meaningful(occ, task, today)
        if reason:
            result.superseded.append((occ, reason))
            continue
        family = _REMINDER_FAMILIES.get(occ.step.anchor)
        if occ.step.anchor in (Anchor.REPORT_DUE, Anchor.REPORT_MISSING):
            family = f"report@{occ.anchor_date.isoformat()}"
        if family is None:
            result.due.append(occ)
            continue
        previous = latest_in_family.get(family)
        if previous is not None:
            result.superseded.append((previous, f"已被“{occ.step.label}”取代"))
        latest_in_family[family] = occ
    # Of several periods' report reminders due at once, only the latest period's
    # is still worth sending; older periods are recorded as superseded.
    report_families = sorted(f for f in latest_in_family if f.startswith("report@"))
    for family in report_families[:-1]:
        stale = latest_in_family.pop(family)
        result.superseded.append((stale, "已由最近一期的报送提醒取代"))
    result.due.extend(latest_in_family.values())
    result.due.sort(key=lambda o: (o.on, o.step.level, o.key))
    upcoming = [o.on for o in future if not _not_meaningful(o, task, o.on)]
    result.next_on = min(upcoming) if upcoming else None
    result.waiting = [w for w in steps.waiting if not _waiting_not_meaningful(w, task)]
    result.waits_for = min((w.year for w in result.waiting), default=None)
    return result


def stale_reason(
    task: TaskTimeline,
    policy: EscalationPolicy,
    calendar: WorkCalendar,
    *,
    today: date,
    key: str,
) -> str | None:
    """Why the notice of step ``key``, due earlier but not delivered yet, is no
    longer worth sending on ``today`` (None: it still is).

    The sweep's rules, applied to a message held up by a failing channel: the
    task is no longer open; the step is no longer meaningful (acknowledged,
    overdue, the period's report made …); a later reminder of the same family
    (签收, 到期, a later report period) has fallen due since; the step is no
    longer on the task's ladder (an extension moved the due date it counted
    from). A manual 催办 and the overdue ladder stay worth sending while the
    task is open (each rung reaches other people); keys of other kinds (a
    delivery-failure report) always do."""
    parsed = StepKey.parse(key)
    if task.state not in OPEN:
        return "任务已报结或办结"
    if parsed.is_manual or parsed.anchor_date is None:
        return None
    if all(step.name != parsed.name for step in policy.steps):
        return None
    known = ladder(task, policy, calendar, until=max(today, task.due)).known
    occ = next((o for o in known if o.key == key), None)
    if occ is None:
        return "到期日已调整,原提醒不再发送"
    reason = _not_meaningful(occ, task, today)
    if reason:
        return reason
    family = _REMINDER_FAMILIES.get(occ.step.anchor)
    for later in known:
        if later.on > today or later.key == key or _not_meaningful(later, task, today):
            continue
        if family is not None and _REMINDER_FAMILIES.get(later.step.anchor) == family:
            if (later.on, later.step.level, later.key) > (occ.on, occ.step.level, occ.key):
                return f"已被“{later.step.label}”取代"
        reports = (Anchor.REPORT_DUE, Anchor.REPORT_MISSING)
        if occ.step.anchor in reports and later.step.anchor in reports:
            if later.anchor_date > occ.anchor_date:
                return "已由最近一期的报送提醒取代"
    return None


def _waiting_not_meaningful(waiting: WaitingStep, task: TaskTimeline) -> bool:
    """Whether a step not yet dated will surely not be sent, whatever its day."""
    anchor = waiting.step.anchor
    if anchor is Anchor.UNACKNOWLEDGED:
        return task.acknowledged_on is not None or task.state is not TaskState.ASSIGNED
    if anchor in (Anchor.REPORT_DUE, Anchor.REPORT_MISSING):
        start = waiting.window_start or task.assigned_on
        return any(start < d for d in task.report_dates)  # this period's report is in
    return False


def max_after_due(policy: EscalationPolicy) -> int:
    return max((s.workdays for s in policy.steps if s.anchor is Anchor.AFTER_DUE), default=0)


def _not_meaningful(occ: Occurrence, task: TaskTimeline, today: date) -> str | None:
    anchor = occ.step.anchor
    if anchor is Anchor.UNACKNOWLEDGED:
        if task.acknowledged_on is not None or task.state is not TaskState.ASSIGNED:
            return "已签收"
        if today > task.due:
            return "任务已逾期,改为催办"
    if anchor is Anchor.BEFORE_DUE and today > task.due:
        return "任务已逾期,到期提醒不再发送"
    if anchor in (Anchor.REPORT_DUE, Anchor.REPORT_MISSING):
        window_start = occ.window_start or task.assigned_on
        if any(window_start < d <= max(today, occ.anchor_date) for d in task.report_dates):
            return "本期进度已报送"
        if anchor is Anchor.REPORT_DUE and today > occ.anchor_date:
            return "报送期限已过,改为逾期未报提醒"
    return None


def step_by_name(policy: EscalationPolicy, name: str) -> LadderStep:
    """The policy's step ``name``, :data:`MANUAL_URGE` or one of
    :data:`ANNOUNCEMENTS`; DubanError otherwise."""
    if name == MANUAL_URGE.name:
        return MANUAL_URGE
    if name in ANNOUNCEMENTS:
        return ANNOUNCEMENTS[name]
    for step in policy.steps:
        if step.name == name:
            return step
    raise DubanError(f"督办规则“{policy.name}”中没有步骤“{name}”")


def step_label(policy: EscalationPolicy, key: str) -> str:
    """What a step key (or bare step name) is called on pages and in logs:
    the step's label; the name itself for a step the policy no longer has."""
    name = StepKey.parse(key).name
    try:
        return step_by_name(policy, name).label
    except DubanError:
        return name


def next_rung(
    policy: EscalationPolicy, *, due: date, today: date, calendar: WorkCalendar
) -> tuple[LadderStep, date | Unpublished] | None:
    """The first rung of the overdue ladder (催办, 督办) that falls due after
    ``today`` for a task due on ``due``, with its day (:class:`Unpublished`
    while that day needs a year not yet published); None past the last."""
    rungs = sorted(
        (s for s in policy.steps if s.anchor is Anchor.AFTER_DUE), key=lambda s: s.workdays
    )
    for step in rungs:
        on = calendar.maybe_add_workdays(due, step.workdays)
        if isinstance(on, Unpublished) or on > today:
            return step, on
    return None


def next_step_after(policy: EscalationPolicy, occ: Occurrence) -> LadderStep | None:
    """The ladder's next rung after ``occ`` (for "what happens next" in messages)."""
    ladder: Sequence[LadderStep] = sorted(
        (s for s in policy.steps if s.anchor is Anchor.AFTER_DUE), key=lambda s: s.workdays
    )
    if occ.step.anchor is not Anchor.AFTER_DUE:
        return ladder[0] if ladder else None
    later = [s for s in ladder if s.workdays > occ.step.workdays]
    return later[0] if later else None
