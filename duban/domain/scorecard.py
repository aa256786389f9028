"""The department scorecard (考核): counts per department and period, and a score.

Pure rules (stdlib only). The services gather one :class:`TaskRecord` per task
(its status as of the day of the scorecard, its reports and escalations) and
:func:`department_counts` counts them; :func:`score` turns counts into a number
with weights that are data (:class:`ScoreWeights`, loadable from YAML/JSON).

What is counted for a period [start, end] seen on ``as_of`` (the period is
clipped to ``as_of``: nothing later is due yet):

- **tasks due**: the department's tasks of the counted roles (牵头 only by
  default; :attr:`ScoreWeights.task_roles`) whose due date (after any approved
  extension) lies in the period, each in exactly one class by its status on
  ``as_of``: done on time, done after an approved extension, done late,
  submitted and awaiting review, still overdue, or still open (due on
  ``as_of`` itself and not yet late).
- **progress reports**: every periodic report a task owed (a period that ended
  after assignment and before the task was submitted, its due date or
  ``as_of``) whose deadline lies in the period: on time when a report was made
  in the window (previous period end, deadline], late when one came after the
  deadline but before the next period ended, missing when neither (counted
  only once the deadline has passed).
- **escalations**: ladder steps of level 1-3 (催办, 黄色督办, 红色督办) that fell
  due in the period and were not superseded.

The score (0-100) is, with the default weights::

    70 × task rate + 30 × report rate − (1 × 催办 + 3 × 黄色督办 + 5 × 红色督办)

clamped to [0, 100] and rounded to one decimal. The task rate is the mean
credit of the scored tasks (on time 1, after extension 0.8, awaiting review
0.8, late 0.4, overdue 0; open tasks are not scored yet); the report rate is
the mean credit of the evaluated reports (on time 1, late 0.5, missing 0). A
report rate with nothing to score is 1 (nothing was owed, nothing was missed).

A department with no scored task in the period (nothing of its counted roles
fell due, or all of it is due only today) has **no score yet** (暂无得分):
:func:`has_score` is False, it is not ranked, and pages list it after the
ranked ones — a department with nothing due is not first. Cancelled tasks (a
state outside the lifecycle's open and closed ones) are never counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from duban.domain.errors import DubanError
from duban.domain.periods import Period, month_end
from duban.domain.periods import parse_period as parse_period  # imported from here too
from duban.domain.status import Cadence, ReportPeriod, StatusPolicy, TaskStatus, report_periods
from duban.domain.workdays import WorkCalendar

TASK_CLASSES = ("on_time", "after_extension", "awaiting_review", "late", "overdue")
TASK_ROLES = ("lead", "supporting")
REPORT_CLASSES = ("on_time", "late", "missing")
LEVELS = (1, 2, 3)


_STATUS_CLASS = {
    TaskStatus.DONE_ON_TIME: "on_time",
    TaskStatus.DONE_AFTER_EXTENSION: "after_extension",
    TaskStatus.SUBMITTED: "awaiting_review",
    TaskStatus.DONE_LATE: "late",
    TaskStatus.OVERDUE: "overdue",
    TaskStatus.NOT_YET_DUE: "open",
    TaskStatus.DUE_SOON: "open",
}


def status_class(status: TaskStatus | None) -> str | None:
    """The class a task due in the period is counted in (a key of
    :class:`ScoreCounts`: on_time, after_extension, awaiting_review, late,
    overdue or open); None for a cancelled task."""
    return None if status is None else _STATUS_CLASS.get(status)


# --- periods -------------------------------------------------------------------


def next_period_end(period_end: date, cadence: Cadence) -> date:
    """The end of the period after the one ending ``period_end``: a report
    made after the deadline and up to that day is late, not missing."""
    step = 1 if cadence is Cadence.MONTHLY else 3
    month = period_end.month + step
    year = period_end.year + (month - 1) // 12
    return month_end(year, (month - 1) % 12 + 1)


@dataclass(frozen=True)
class ReportWindow:
    """A report period as :func:`department_counts` judges it, for counting
    many tasks at once: a task assigned on day A owes it when A <
    ``period_end`` and the period ends by its due date and before it was
    submitted (:func:`owed_reports`); a report on a day in (max(A,
    ``previous_end``), ``deadline``] is on time, one in (``deadline``,
    ``late_until``] late (:func:`classify_report`). ``previous_end`` None: no
    period the task could owe ends before this one."""

    period_end: date
    previous_end: date | None
    deadline: date
    late_until: date


def report_windows(
    first_assigned: date,
    period: Period,
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
) -> list[ReportWindow]:
    """The report periods that a task assigned on ``first_assigned`` or
    later can owe and that :func:`department_counts` counts for ``period``
    seen on ``as_of``: those whose known deadline lies in the period clipped
    to ``as_of``, oldest first."""
    window = period.clipped(as_of)
    found = []
    previous: date | None = None
    for owed in report_periods(first_assigned, as_of, calendar, policy):
        deadline = owed.known_deadline
        if deadline is not None and window.contains(deadline):
            found.append(
                ReportWindow(
                    owed.period_end,
                    previous,
                    deadline,
                    next_period_end(owed.period_end, policy.report_cadence),
                )
            )
        previous = owed.period_end
    return found


# --- weights -------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreWeights:
    """How counts become a score; see the module docstring for the formula."""

    task_points: float = 70.0
    report_points: float = 30.0
    task_credit: Mapping[str, float] = field(
        default_factory=lambda: {
            "on_time": 1.0,
            "after_extension": 0.8,
            "awaiting_review": 0.8,
            "late": 0.4,
            "overdue": 0.0,
        }
    )
    report_credit: Mapping[str, float] = field(
        default_factory=lambda: {"on_time": 1.0, "late": 0.5, "missing": 0.0}
    )
    escalation_penalty: Mapping[int, float] = field(
        default_factory=lambda: {1: 1.0, 2: 3.0, 3: 5.0}
    )
    # Whose tasks the completion rate counts: 牵头 only unless configured.
    task_roles: tuple[str, ...] = ("lead",)

    def to_data(self) -> dict[str, Any]:
        return {
            "task_roles": list(self.task_roles),
            "task_points": self.task_points,
            "report_points": self.report_points,
            "task_credit": dict(self.task_credit),
            "report_credit": dict(self.report_credit),
            "escalation_penalty": {int(k): v for k, v in self.escalation_penalty.items()},
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, source: str = "考核权重") -> ScoreWeights:
        """Weights from plain data; missing keys keep their defaults.

        Raises DubanError naming ``source`` and the key for an unknown key, a
        value that is not a non-negative number, or an unknown class or level.
        """
        default = cls()
        known = set(default.to_data())
        unknown = sorted(set(data) - known)
        if unknown:
            raise DubanError(f"未知的键 {', '.join(map(str, unknown))}", where=source)

        def number(value: Any, key: str) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise DubanError(f"{key} 应为非负数,而不是“{value}”", where=source)
            return float(value)

        def table(key: str, allowed: Iterable[Any], base: Mapping[Any, float]) -> dict[Any, float]:
            raw = data.get(key) or {}
            if not isinstance(raw, Mapping):
                raise DubanError(f"{key} 应为映射", where=source)
            merged = dict(base)
            names = {str(a): a for a in allowed}
            for name, value in raw.items():
                if str(name) not in names:
                    raise DubanError(
                        f"{key} 中未知的项“{name}”(可用:{'、'.join(names)})", where=source
                    )
                merged[names[str(name)]] = number(value, f"{key}.{name}")
            return merged

        roles = data.get("task_roles", list(default.task_roles))
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not roles or any(r not in TASK_ROLES for r in roles):
            raise DubanError(
                f"task_roles 应为 lead、supporting 中的一项或两项,而不是“{roles}”", where=source
            )
        return cls(
            task_roles=tuple(r for r in TASK_ROLES if r in roles),
            task_points=number(data.get("task_points", default.task_points), "task_points"),
            report_points=number(data.get("report_points", default.report_points), "report_points"),
            task_credit=table("task_credit", TASK_CLASSES, default.task_credit),
            report_credit=table("report_credit", REPORT_CLASSES, default.report_credit),
            escalation_penalty=table("escalation_penalty", LEVELS, default.escalation_penalty),
        )


# --- counting ------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRecord:
    """What the scorecard needs of one task (all dates local).

    ``status`` is the task's status on the scorecard's ``as_of``;
    ``closed_on`` the day it was submitted (报结) when it is submitted or
    approved, else None; ``escalations`` the (level, day) of each ladder
    step of level ≥ 1 that was not superseded.
    """

    department: str
    due: date
    status: TaskStatus | None  # None: cancelled, never counted
    assigned_on: date
    role: str = "lead"
    closed_on: date | None = None
    report_dates: tuple[date, ...] = ()
    escalations: tuple[tuple[int, date], ...] = ()


@dataclass
class ScoreCounts:
    """One department's counts for a period (see the module docstring)."""

    tasks_due: int = 0
    on_time: int = 0
    after_extension: int = 0
    awaiting_review: int = 0
    late: int = 0
    overdue: int = 0
    open: int = 0
    reports_on_time: int = 0
    reports_late: int = 0
    reports_missing: int = 0
    escalations: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))

    @property
    def reports_owed(self) -> int:
        return self.reports_on_time + self.reports_late + self.reports_missing


def owed_reports(
    record: TaskRecord, as_of: date, calendar: WorkCalendar, policy: StatusPolicy
) -> list[ReportPeriod]:
    """The periods a task owed a report for: those ending after assignment and
    before it was submitted (or by its due date, or ``as_of``)."""
    until = min(record.due, as_of)
    if record.closed_on is not None:
        until = min(until, record.closed_on - timedelta(days=1))
    if until <= record.assigned_on:
        return []
    return report_periods(record.assigned_on, until, calendar, policy)


def classify_report(
    period: ReportPeriod,
    previous_end: date,
    report_dates: Iterable[date],
    as_of: date,
    cadence: Cadence,
) -> str | None:
    """``on_time``, ``late``, ``missing`` — or None while the deadline has not
    passed (or is not known yet: 待日历公布) and nothing was reported yet."""
    dates = [d for d in report_dates if d <= as_of]
    deadline = period.known_deadline
    if deadline is None:
        return "on_time" if any(previous_end < d for d in dates) else None
    if any(previous_end < d <= deadline for d in dates):
        return "on_time"
    if deadline >= as_of:
        return None
    next_end = next_period_end(period.period_end, cadence)
    if any(deadline < d <= next_end for d in dates):
        return "late"
    return "missing"


def department_counts(
    records: Iterable[TaskRecord],
    *,
    period: Period,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    task_roles: Iterable[str] = TASK_ROLES,
) -> dict[str, ScoreCounts]:
    """Counts per department name, for every department that has a record
    (a department with tasks but nothing due in the period gets zeros).
    Tasks count as due only for ``task_roles``; reports and escalations for
    every role; a cancelled record (status None) not at all."""
    policy = policy or StatusPolicy()
    roles = frozenset(task_roles)
    window = period.clipped(as_of)
    counts: dict[str, ScoreCounts] = {}
    for record in records:
        row = counts.setdefault(record.department, ScoreCounts())
        if record.status is None:
            continue
        if record.role in roles and window.contains(record.due):
            row.tasks_due += 1
            kind = _STATUS_CLASS[record.status]  # see status_class
            setattr(row, kind, getattr(row, kind) + 1)
        previous_end = record.assigned_on
        for owed in owed_reports(record, as_of, calendar, policy):
            deadline = owed.known_deadline
            if deadline is not None and window.contains(deadline):
                verdict = classify_report(
                    owed, previous_end, record.report_dates, as_of, policy.report_cadence
                )
                if verdict is not None:
                    name = f"reports_{verdict}"
                    setattr(row, name, getattr(row, name) + 1)
            previous_end = owed.period_end
        for level, day in record.escalations:
            if level in row.escalations and window.contains(day):
                row.escalations[level] += 1
    return counts


def _rate(credits: Mapping[Any, float], counts: Mapping[str, int]) -> float:
    total = sum(counts.values())
    if total == 0:
        return 1.0
    return sum(credits.get(name, 0.0) * n for name, n in counts.items()) / total


def task_rate(counts: ScoreCounts, weights: ScoreWeights) -> float:
    """Mean credit of the scored tasks (open ones excluded); 1 when none."""
    return _rate(weights.task_credit, {name: getattr(counts, name) for name in TASK_CLASSES})


def report_rate(counts: ScoreCounts, weights: ScoreWeights) -> float:
    """Mean credit of the evaluated reports; 1 when none."""
    return _rate(
        weights.report_credit,
        {name: getattr(counts, f"reports_{name}") for name in REPORT_CLASSES},
    )


def has_score(counts: ScoreCounts) -> bool:
    """True when a task was scored (due in the period and not merely open):
    otherwise the department has no score yet (暂无得分)."""
    return counts.tasks_due > counts.open


def score(counts: ScoreCounts, weights: ScoreWeights | None = None) -> float:
    """The score in [0, 100], one decimal (formula in the module docstring)."""
    weights = weights or ScoreWeights()
    value = weights.task_points * task_rate(counts, weights)
    value += weights.report_points * report_rate(counts, weights)
    value -= sum(
        weights.escalation_penalty.get(level, 0.0) * n for level, n in counts.escalations.items()
    )
    return round(min(100.0, max(0.0, value)), 1)
