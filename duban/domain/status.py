"""A task's status and traffic light as of a moment: derived, never stored.

Status: not yet due, due soon, overdue, submitted (awaiting review), done on
time, done late, done after extension. Light, as supervision offices use it:

- 红灯 (red): overdue, not submitted;
- 黄灯 (yellow): behind 序时进度 — a required progress report is missing, or a
  numeric indicator is behind the straight line from baseline to target;
- 蓝灯 (blue): approaching its deadline (within ``due_soon_workdays`` working
  days) and otherwise on track;
- 逾期办结 (late): submitted or done after the due date — its own mark, never
  plain green;
- 绿灯 (green): on track, or done on time.

A measure's light is its worst task's (red > yellow > blue > late > green).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from weakref import WeakKeyDictionary

from duban.domain.lifecycle import TaskState
from duban.domain.workdays import UNPUBLISHED_LABEL, Unpublished, WorkCalendar


class TaskStatus(StrEnum):
    NOT_YET_DUE = "not_yet_due"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    SUBMITTED = "submitted"
    DONE_ON_TIME = "done_on_time"
    DONE_LATE = "done_late"
    DONE_AFTER_EXTENSION = "done_after_extension"
    CANCELLED = "cancelled"  # out of lights and scores


STATUS_LABELS = {
    TaskStatus.NOT_YET_DUE: "未到期",
    TaskStatus.DUE_SOON: "即将到期",
    TaskStatus.OVERDUE: "已逾期",
    TaskStatus.SUBMITTED: "已报结待审核",
    TaskStatus.DONE_ON_TIME: "按期办结",
    TaskStatus.DONE_LATE: "逾期办结",
    TaskStatus.DONE_AFTER_EXTENSION: "延期后办结",
    TaskStatus.CANCELLED: "已撤销",
}


class Light(StrEnum):
    """Worst first: iterating gives red, yellow, blue, late, green."""

    RED = "red"
    YELLOW = "yellow"
    BLUE = "blue"
    LATE = "late"
    GREEN = "green"


LIGHT_LABELS = {
    Light.RED: "红灯",
    Light.YELLOW: "黄灯",
    Light.BLUE: "蓝灯",
    Light.LATE: "逾期办结",
    Light.GREEN: "绿灯",
}
# What each light means, for pages that explain them.
LIGHT_MEANINGS = {
    Light.RED: "已逾期未报结",
    Light.YELLOW: "序时进度落后(缺报进度或指标落后)",
    Light.BLUE: "临近期限",
    Light.LATE: "超过期限才报结或办结",
    Light.GREEN: "正常推进或按期办结",
}
_LIGHT_RANK = {Light.GREEN: 0, Light.LATE: 1, Light.BLUE: 2, Light.YELLOW: 3, Light.RED: 4}


class Cadence(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    NONE = "none"


@dataclass(frozen=True)
class StatusPolicy:
    due_soon_workdays: int = 10
    report_cadence: Cadence = Cadence.QUARTERLY
    # A period's report is due by this working day after the period ends.
    report_workdays_after_period: int = 5


@dataclass(frozen=True)
class Indicator:
    comparator: str  # >=, >, <=, <, =
    target: float
    baseline: float | None = None  # None: the first reported value is the baseline


@dataclass(frozen=True)
class Reading:
    on: date
    value: float


@dataclass(frozen=True)
class TaskFacts:
    """What status derivation needs to know of a task (all dates Asia/Shanghai)."""

    state: TaskState
    due: date
    original_due: date
    assigned_on: date
    submitted_on: date | None = None  # the latest 报结 (None if never, or returned since)
    extended: bool = False  # an approved extension moved the due date
    report_dates: tuple[date, ...] = ()
    indicator: Indicator | None = None
    readings: tuple[Reading, ...] = ()


@dataclass(frozen=True)
class ReportPeriod:
    """A periodic report owed: the period's last day and its deadline, which is
    :class:`Unpublished` while the deadline's year has no holiday notice."""

    period_end: date
    deadline: date | Unpublished

    @property
    def known_deadline(self) -> date | None:
        return None if isinstance(self.deadline, Unpublished) else self.deadline

    @property
    def deadline_text(self) -> str:
        """The deadline as pages and messages print it: ISO, or 待日历公布."""
        deadline = self.known_deadline
        return UNPUBLISHED_LABEL if deadline is None else deadline.isoformat()


@dataclass(frozen=True)
class Assessment:
    status: TaskStatus
    light: Light
    reasons: tuple[str, ...] = field(default_factory=tuple)
    missing_reports: tuple[ReportPeriod, ...] = ()


def _period_ends(start: date, end: date, cadence: Cadence) -> list[date]:
    """Ends of the months/quarters that end in (start, end]."""
    if cadence is Cadence.NONE:
        return []
    step = 3 if cadence is Cadence.QUARTERLY else 1
    ends: list[date] = []
    year, month = start.year, start.month
    while True:
        # the period containing (year, month) ends at the last month of its block
        last_month = ((month - 1) // step + 1) * step
        next_first = date(year + (last_month // 12), last_month % 12 + 1, 1)
        period_end = date.fromordinal(next_first.toordinal() - 1)
        if period_end > end:
            return ends
        if period_end > start:
            ends.append(period_end)
        year, month = next_first.year, next_first.month


def report_periods(
    assigned_on: date, until: date, calendar: WorkCalendar, policy: StatusPolicy
) -> list[ReportPeriod]:
    """The periodic progress reports a task owes: periods ending after assignment
    and up to ``until``, each with its deadline (N working days after its end;
    :class:`Unpublished` when that needs a year not yet published)."""
    key = (assigned_on, until, policy.report_cadence, policy.report_workdays_after_period)
    known = _PERIODS.setdefault(calendar, {})
    found = known.get(key)
    if found is None:
        if len(known) >= _PERIODS_KEPT:  # a long-running server asks ever new days
            known.clear()
        found = known[key] = tuple(
            ReportPeriod(end, calendar.maybe_add_workdays(end, policy.report_workdays_after_period))
            for end in _period_ends(assigned_on, until, policy.report_cadence)
        )
    return list(found)


# Report periods already worked out, per calendar (a calendar never changes
# once built; a new one is a new object): a page that assesses thousands of
# tasks assigned on the same few days asks the calendar once per distinct span.
_PERIODS: WeakKeyDictionary[
    WorkCalendar, dict[tuple[date, date, Cadence, int], tuple[ReportPeriod, ...]]
] = WeakKeyDictionary()
_PERIODS_KEPT = 100_000


def missing_reports(
    facts: TaskFacts, as_of: date, calendar: WorkCalendar, policy: StatusPolicy
) -> list[ReportPeriod]:
    """Periods whose deadline has passed by ``as_of`` with no report made in the
    window (previous period end, deadline]. Only open tasks owe reports. A
    deadline not yet known (待日历公布) has not passed."""
    if facts.state not in _OPEN_OR_RETURNED:
        return []
    missing: list[ReportPeriod] = []
    previous_end = facts.assigned_on
    for period in report_periods(facts.assigned_on, min(as_of, facts.due), calendar, policy):
        deadline = period.known_deadline
        if (
            deadline is not None
            and deadline < as_of
            and not any(previous_end < d <= deadline for d in facts.report_dates)
        ):
            missing.append(period)
        previous_end = period.period_end
    return missing


_OPEN_OR_RETURNED = frozenset(
    {TaskState.ASSIGNED, TaskState.ACKNOWLEDGED, TaskState.IN_PROGRESS, TaskState.RETURNED}
)


def expected_value(indicator: Indicator, baseline: Reading, due: date, on: date) -> float:
    """The straight-line value at ``on`` from ``baseline`` to the target at ``due``."""
    total = (due - baseline.on).days
    if total <= 0:
        return indicator.target
    elapsed = min(max((on - baseline.on).days, 0), total)
    return baseline.value + (indicator.target - baseline.value) * elapsed / total


def behind_trajectory(facts: TaskFacts, as_of: date) -> bool:
    """True when the latest reading (up to ``as_of``) is short of the straight line."""
    indicator = facts.indicator
    readings = sorted((r for r in facts.readings if r.on <= as_of), key=lambda r: r.on)
    if indicator is None or not readings:
        return False
    if indicator.baseline is not None:
        baseline = Reading(facts.assigned_on, indicator.baseline)
    elif len(readings) >= 2:
        baseline = readings[0]
    else:
        return False
    latest = readings[-1]
    expected = expected_value(indicator, baseline, facts.due, latest.on)
    if indicator.comparator in (">=", ">"):
        return latest.value < expected
    if indicator.comparator in ("<=", "<"):
        return latest.value > expected
    return False


def assess(
    facts: TaskFacts, as_of: date, calendar: WorkCalendar, policy: StatusPolicy | None = None
) -> Assessment:
    """Status and light of a task as of a day (the day's end counts as on time;
    the lights as in the module docstring, each with its reasons in words)."""
    policy = policy or StatusPolicy()
    if facts.state is TaskState.CANCELLED:
        # Not the department's work any more: green, so it never darkens a
        # measure's light; scorecards leave it out (domain.scorecard).
        return Assessment(TaskStatus.CANCELLED, Light.GREEN)
    submitted_late = facts.submitted_on is not None and facts.submitted_on > facts.due
    if facts.state is TaskState.APPROVED:
        if (facts.submitted_on or facts.due) > facts.due:
            return Assessment(TaskStatus.DONE_LATE, Light.LATE, (_late_reason(facts, calendar),))
        status = TaskStatus.DONE_AFTER_EXTENSION if facts.extended else TaskStatus.DONE_ON_TIME
        return Assessment(status, Light.GREEN)
    if facts.state is TaskState.SUBMITTED:
        if submitted_late:
            return Assessment(
                TaskStatus.SUBMITTED, Light.LATE, (_late_reason(facts, calendar),)
            )
        return Assessment(TaskStatus.SUBMITTED, Light.GREEN)
    if as_of > facts.due:
        return Assessment(
            TaskStatus.OVERDUE, Light.RED, (overdue_reason(facts.due, as_of, calendar),)
        )
    reasons: list[str] = []
    soon_reason = due_soon_reason(facts.due, as_of, calendar, policy)
    soon = soon_reason is not None
    status = TaskStatus.DUE_SOON if soon else TaskStatus.NOT_YET_DUE
    if soon_reason is not None:
        reasons.append(soon_reason)
    missing = missing_reports(facts, as_of, calendar, policy)
    if missing:
        reasons.append(missing_reports_reason(len(missing)))
    behind = behind_trajectory(facts, as_of)
    if behind:
        reasons.append(BEHIND_REASON)
    if missing or behind:
        light = Light.YELLOW
    else:
        light = Light.BLUE if soon else Light.GREEN
    return Assessment(status, light, tuple(reasons), tuple(missing))


# The reasons :func:`assess` gives, in words (pages that tell a task's light
# in SQL word its reasons with these, from its columns).
BEHIND_REASON = "指标进度落后"


def overdue_reason(due: date, as_of: date, calendar: WorkCalendar) -> str:
    """A task open past its due date: 已逾期N个工作日 (the working days from
    the due date to ``as_of``)."""
    days = calendar.maybe_count_workdays(due, as_of)
    return f"已逾期(工作日数{days})" if isinstance(days, Unpublished) else f"已逾期{days}个工作日"


def due_soon_reason(
    due: date, as_of: date, calendar: WorkCalendar, policy: StatusPolicy
) -> str | None:
    """距期限N个工作日 for a task open and not past due that is due soon (at
    most the policy's working days left on ``as_of``); None when it is not."""
    left = calendar.maybe_count_workdays(as_of, due)
    if isinstance(left, Unpublished) or left > policy.due_soon_workdays:
        return None
    return f"距期限{left}个工作日"


def missing_reports_reason(count: int) -> str:
    """缺报进度N次: ``count`` periodic reports missing."""
    return f"缺报进度{count}次"


def late_reason(due: date, submitted_on: date, calendar: WorkCalendar) -> str:
    """逾期N个工作日报结 (the working days from the due date to the 报结 on
    ``submitted_on``)."""
    days = calendar.maybe_count_workdays(due, submitted_on)
    if isinstance(days, Unpublished) or days < 1:
        return "逾期报结"
    return f"逾期{days}个工作日报结"


def _late_reason(facts: TaskFacts, calendar: WorkCalendar) -> str:
    """逾期N个工作日报结 (the working days from the due date to the 报结)."""
    assert facts.submitted_on is not None
    return late_reason(facts.due, facts.submitted_on, calendar)


def worst_light(lights: Iterable[Light]) -> Light:
    """A measure's light: its worst task's (green when it has none)."""
    return max(lights, key=_LIGHT_RANK.__getitem__, default=Light.GREEN)


def light_counts(lights: Sequence[Light]) -> dict[Light, int]:
    return {light: sum(1 for x in lights if x is light) for light in Light}
