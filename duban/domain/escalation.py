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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from duban.domain.errors import DubanError
from duban.domain.lifecycle import TaskState
from duban.domain.status import Cadence, StatusPolicy, report_periods
from duban.domain.workdays import Unpublished, WorkCalendar


class Anchor(StrEnum):
    ASSIGNED = "assigned"  # n working days after assignment (0: at once)
    UNACKNOWLEDGED = "unacknowledged"  # n working days after assignment, if not acknowledged
    BEFORE_DUE = "before_due"  # n working days before the due date
    AFTER_DUE = "after_due"  # n working days after the due date (overdue ladder)
    REPORT_DUE = "report_due"  # n working days before a periodic report deadline
    REPORT_MISSING = "report_missing"  # n working days after a report deadline, if missing
    MANUAL = "manual"  # taken by hand (MANUAL_URGE); never in a policy, never swept
    # A one-off message about the task (TASK_CANCELLED, DUE_MOVED), not a rung;
    # never in a policy, never swept, nothing follows it.
    ANNOUNCE = "announce"


class Audience(StrEnum):
    LIAISON = "liaison"  # the department's 联络员
    HEAD = "head"  # the department's 负责人
    COORDINATORS = "coordinators"  # 督办科
    SUPERVISORS = "supervisors"  # 督查室
    LEAD_DEPARTMENT = "lead_department"  # a supporting task's measure lead (its liaison)


@dataclass(frozen=True, kw_only=True)
class LadderStep:
    name: str  # stable id, also the template name unless ``template`` is set
    anchor: Anchor
    workdays: int
    level: int  # 0 reminder, 1 催办, 2 督办 (yellow), 3 督办 (red, 约谈)
    audience: tuple[Audience, ...]
    label: str
    template: str = ""

    @property
    def template_name(self) -> str:
        return self.template or self.name


@dataclass(frozen=True)
class EscalationPolicy:
    steps: tuple[LadderStep, ...]
    report: StatusPolicy = field(default_factory=StatusPolicy)
    name: str = "默认督办规则"

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["report"]["report_cadence"] = self.report.report_cadence.value
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, source: str = "督办规则") -> EscalationPolicy:
        """Build from plain data (YAML/JSON); raises DubanError naming the step at fault."""
        steps: list[LadderStep] = []
        for index, raw in enumerate(data.get("steps") or [], start=1):
            where = f"{source} 第{index}步"
            if not isinstance(raw, Mapping):
                raise DubanError("应为映射", where=where)
            try:
                audience = tuple(Audience(a) for a in raw.get("audience") or ())
                step = LadderStep(
                    name=str(raw["name"]),
                    anchor=Anchor(raw["anchor"]),
                    workdays=int(raw.get("workdays", 0)),
                    level=int(raw.get("level", 0)),
                    audience=audience,
                    label=str(raw.get("label") or raw["name"]),
                    template=str(raw.get("template") or ""),
                )
            except KeyError as err:
                raise DubanError(f"缺少字段 {err.args[0]}", where=where) from None
            except ValueError as err:
                raise DubanError(f"取值无效:{err}", where=where) from None
            if step.anchor is Anchor.MANUAL or step.name == MANUAL_URGE.name:
                raise DubanError(
                    f"anchor manual 与步骤名 {MANUAL_URGE.name} 保留给督办科手动催办,"
                    "不能用于督办规则",
                    where=where,
                )
            if step.anchor is Anchor.ANNOUNCE or step.name in ANNOUNCEMENTS:
                raise DubanError(
                    f"anchor announce 与步骤名 {'、'.join(ANNOUNCEMENTS)} 保留给系统通知"
                    "(任务撤销、期限调整),不能用于督办规则",
                    where=where,
                )
            if step.workdays < 0 or not 0 <= step.level <= 3 or not step.audience:
                raise DubanError("workdays 不能为负,level 应为 0–3,audience 不能为空", where=where)
            steps.append(step)
        if not steps:
            raise DubanError("督办规则至少要有一步", where=source)
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise DubanError("步骤名称 name 重复", where=source)
        report_raw = data.get("report") or {}
        try:
            report = StatusPolicy(
                due_soon_workdays=int(report_raw.get("due_soon_workdays", 10)),
                report_cadence=Cadence(report_raw.get("report_cadence", "quarterly")),
                report_workdays_after_period=int(report_raw.get("report_workdays_after_period", 5)),
            )
        except ValueError as err:
            raise DubanError(f"报送周期设置无效:{err}", where=source) from None
        return cls(tuple(steps), report, str(data.get("name") or "督办规则"))


L, H, C, S, LD = (
    Audience.LIAISON,
    Audience.HEAD,
    Audience.COORDINATORS,
    Audience.SUPERVISORS,
    Audience.LEAD_DEPARTMENT,
)

DEFAULT_POLICY = EscalationPolicy(
    steps=(
        LadderStep(
            name="assigned", anchor=Anchor.ASSIGNED, workdays=0, level=0, audience=(L,),
            label="交办通知",
        ),
        LadderStep(
            name="ack_reminder", anchor=Anchor.UNACKNOWLEDGED, workdays=2, level=0,
            audience=(L,), label="签收提醒",
        ),
        LadderStep(
            name="due_reminder_10", anchor=Anchor.BEFORE_DUE, workdays=10, level=0,
            audience=(L,), label="到期提醒", template="due_reminder",
        ),
        LadderStep(
            name="due_reminder_3", anchor=Anchor.BEFORE_DUE, workdays=3, level=0,
            audience=(L,), label="到期提醒", template="due_reminder",
        ),
        LadderStep(
            name="report_due", anchor=Anchor.REPORT_DUE, workdays=3, level=0, audience=(L,),
            label="报送提醒", template="report_reminder",
        ),
        LadderStep(
            name="report_missing", anchor=Anchor.REPORT_MISSING, workdays=1, level=0,
            audience=(L,), label="报送提醒(逾期未报)", template="report_reminder",
        ),
        LadderStep(
            name="urge", anchor=Anchor.AFTER_DUE, workdays=1, level=1, audience=(L, H),
            label="催办",
        ),
        LadderStep(
            name="escalate_yellow", anchor=Anchor.AFTER_DUE, workdays=5, level=2,
            audience=(H, C, LD), label="督办(黄色督办单)",
        ),
        LadderStep(
            name="escalate_red", anchor=Anchor.AFTER_DUE, workdays=10, level=3, audience=(S,),
            label="督办(红色督办单,约谈)",
        ),
    )
)

# The rung a coordinator takes by hand ("催办 now"): level 1 like the ladder's
# 催办, to the department's liaison, with the coordinator's note.
MANUAL_URGE = LadderStep(
    name="manual_urge", anchor=Anchor.MANUAL, workdays=0, level=1,
    audience=(Audience.LIAISON,), label="督办科催办",
)


# The one message a task gets when a changed plan withdraws it (任务撤销通知):
# to the department's liaison, once (its key has no anchor), and the last.
TASK_CANCELLED = LadderStep(
    name="task_cancelled", anchor=Anchor.ANNOUNCE, workdays=0, level=0,
    audience=(Audience.LIAISON,), label="任务撤销通知",
)
# The message a task gets when a new holiday arrangement moves its due date
# (期限调整通知), keyed by the new date.
DUE_MOVED = LadderStep(
    name="due_moved", anchor=Anchor.ANNOUNCE, workdays=0, level=0,
    audience=(Audience.LIAISON,), label="期限调整通知",
)
ANNOUNCEMENTS = {step.name: step for step in (TASK_CANCELLED, DUE_MOVED)}


# The step name of a notice reporting a failed delivery to the coordinators
# (送达失败): its key's anchor is the delivery's id, not a date.
DELIVERY_FAILED = "delivery_failed"


@dataclass(frozen=True)
class StepKey:
    """A notice's step key, ``name@anchor``: unique per task.

    ``anchor`` is an ISO date for ladder steps and manual rungs (the date the
    step is counted from, or the day a manual rung was taken), a delivery id
    for a delivery-failure report, and empty for a once-only announcement
    (``task_cancelled``). :meth:`parse` and :meth:`format` are inverse:
    ``StepKey.parse(k).format() == k`` for every key."""

    name: str
    anchor: str = ""

    @classmethod
    def parse(cls, key: str) -> StepKey:
        """Split ``name@anchor`` at the first ``@``; a key without one has no anchor."""
        name, _, anchor = key.partition("@")
        return cls(name, anchor)

    @classmethod
    def on(cls, name: str, day: date) -> StepKey:
        """The key of step ``name`` anchored on ``day``."""
        return cls(name, day.isoformat())

    @classmethod
    def manual(cls, day: date) -> StepKey:
        """The key of a manual 催办 taken on ``day`` (one per task and day)."""
        return cls.on(MANUAL_URGE.name, day)

    @classmethod
    def delivery_failure(cls, delivery_id: int) -> StepKey:
        """The key of the report that delivery ``delivery_id`` failed (one per delivery)."""
        return cls(DELIVERY_FAILED, str(delivery_id))

    @property
    def anchor_date(self) -> date | None:
        try:
            return date.fromisoformat(self.anchor)
        except ValueError:
            return None

    @property
    def is_manual(self) -> bool:
        return self.name == MANUAL_URGE.name

    @property
    def is_delivery_failure(self) -> bool:
        return self.name == DELIVERY_FAILED

    @property
    def delivery_id(self) -> int:
        """The failed delivery a delivery-failure key names; ValueError for other keys."""
        if not self.is_delivery_failure:
            raise ValueError(f"not a delivery-failure key: {self.format()}")
        return int(self.anchor)

    def format(self) -> str:
        """The key as stored in ``notices.step``."""
        return f"{self.name}@{self.anchor}" if self.anchor else self.name

    def __str__(self) -> str:
        return self.format()


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
