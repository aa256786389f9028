"""The ledger's rows and summaries (台账): what :mod:`duban.services.reports.ledger`
reads from the database, the workbook and CSV write
(:mod:`duban.services.reports.ledger_files`), and the scorecard, digest and
calendar feeds read. Plain dataclasses; no database access here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from duban.domain.labels import (
    COMPARATOR_SIGNS,
)
from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.status import (
    Light,
    TaskFacts,
    TaskStatus,
)

if TYPE_CHECKING:
    from duban.services.reports.ledger_cells import TallyRow

NO_SECTION = "(未分章节)"
DEFAULT_ISSUER = "督办科"


@dataclass(frozen=True)
class EscalationMark:
    """One escalation of a task: its level (1-3), label and local day."""

    level: int
    label: str
    on: date

    def __str__(self) -> str:
        return f"{self.on.isoformat()} {self.label}"


@dataclass(frozen=True)
class TargetLine:
    """A target of the task's deadline: its text and, when numeric, the indicator."""

    text: str
    due: date | None
    indicator: str | None = None
    comparator: str | None = None
    value: float | None = None
    unit: str | None = None
    latest: float | None = None  # the latest reading up to as_of, if any
    latest_on: date | None = None

    # Cached (in the instance's __dict__, past the frozen fields): a ledger
    # shares a measure's lines among the rows of its tasks without readings.
    @cached_property
    def goal(self) -> str:
        """``指标 ≥75%``, or "" for a target without a value."""
        if self.value is None:
            return ""
        sign = COMPARATOR_SIGNS.get(self.comparator or ">=", self.comparator or "")
        return f"{self.indicator or self.text} {sign}{number_text(self.value)}{self.unit or ''}"

    @cached_property
    def latest_text(self) -> str:
        if self.latest is None:
            return ""
        return f"{self.indicator or self.text}:{number_text(self.latest)}{self.unit or ''}"


@dataclass
class LedgerRow:
    """One task. Dates are local days; ``original_due`` is set only when the
    due date moved (an approved extension or a coordinator's change)."""

    task_id: int
    plan: str
    plan_title: str
    section: str
    section_number: int | None
    measure: int
    measure_id: int
    measure_title: str
    lead_departments: list[str]
    supporting_departments: list[str]
    department: str
    named_as: str
    role: str
    role_label: str
    targets: list[TargetLine]
    deadline: date
    due: date
    original_due: date | None
    state: TaskState
    state_label: str
    status: TaskStatus
    status_label: str
    light: Light
    light_label: str
    reasons: list[str]
    assigned_on: date
    acknowledged_on: date | None
    latest_progress: str | None
    latest_progress_on: date | None
    report_count: int
    missing_reports: int
    extensions: list[str]
    escalations: list[EscalationMark]
    submitted_on: date | None
    completed_on: date | None
    facts: TaskFacts
    # The next rung of the ladder after as_of if nothing is done
    # ("2027-12-24 到期提醒", "待日历公布 催办"); "" once submitted or approved.
    next_step: str = ""
    item_source: str = ""  # a single 督办件's source, 文号 and instructing leader

    @property
    def is_open(self) -> bool:
        """Not yet submitted or approved (the department still has to act)."""
        return self.state in OPEN_STATES

    @property
    def cancelled(self) -> bool:
        """Withdrawn (撤销): out of scores and lights."""
        return self.state is TaskState.CANCELLED

    @property
    def weight(self) -> int:
        """One task (charts also count groups of tasks)."""
        return 1

    @property
    def max_level(self) -> int:
        return max((e.level for e in self.escalations), default=0)


@dataclass
class SummaryRow:
    """Counts of the rows of one section or one department."""

    name: str
    measures: int = 0
    tasks: int = 0
    red: int = 0
    yellow: int = 0
    blue: int = 0
    late: int = 0
    green: int = 0
    open: int = 0
    submitted: int = 0
    approved: int = 0
    overdue: int = 0
    extended: int = 0
    missing_reports: int = 0
    escalated: int = 0


@dataclass
class Ledger:
    """The ledger as of ``as_of``: rows plus summaries (see the module docstring)."""

    as_of: date
    plans: list[tuple[str, str]]  # (key, title) of the plans covered
    rows: list[LedgerRow] = field(default_factory=list)
    # The directory's order (机构序列) of every department: name → position.
    department_order: dict[str, int] = field(default_factory=dict)
    issuer: str = "督办科"  # 制表单位: the office that keeps the ledger

    def department_key(self, name: str) -> tuple[int, str]:
        """Sort key of a department name in the directory's order (unknown last)."""
        return (self.department_order.get(name, len(self.department_order)), name)

    @property
    def title(self) -> str:
        names = "、".join(title for _key, title in self.plans) or "督办事项"
        return f"{names}督办台账"

    @property
    def dated_title(self) -> str:
        """The title row: ``…督办台账(截至2016年1月29日)``."""
        day = self.as_of
        return f"{self.title}(截至{day.year}年{day.month}月{day.day}日)"

    def by_section(self) -> list[SummaryRow]:
        """One summary per section (in plan and section order)."""

        def key(row: LedgerRow) -> str:
            return f"{row.plan} {row.section}" if len(self.plans) > 1 else row.section

        ordered = sorted(self.rows, key=lambda r: (r.plan, r.section_number or 0))
        return summarise(ordered, key)

    def by_department(self) -> list[SummaryRow]:
        """One summary per responsible department, in the directory's order."""
        return sorted(
            summarise(self.rows, lambda r: r.department),
            key=lambda s: self.department_key(s.name),
        )


_LIGHT_FIELDS = {light: light.value for light in Light}  # SummaryRow's count of each
# Read once for the rows' counts (an enum member is a class attribute lookup).
_CANCELLED, _APPROVED, _SUBMITTED = TaskState.CANCELLED, TaskState.APPROVED, TaskState.SUBMITTED
_OVERDUE = TaskStatus.OVERDUE


def summarise(rows: Iterable[LedgerRow], key: Callable[[LedgerRow], str]) -> list[SummaryRow]:
    """Summaries of ``rows`` grouped by ``key(row)``, in first-seen order."""
    tally = SummaryTally(key)
    for row in rows:
        tally.add(row)
    return tally.summaries()


class SummaryTally:
    """Summaries of rows grouped by ``key(row)``, counted one row at a time
    (rows written as they are read need not be held to be summarised).

    A row adds one to the count of its group and the few things a summary
    counts of it (light, state, overdue, moved, missing reports, escalated);
    :meth:`summaries` adds those counts up: a few hundred distinct
    combinations instead of a dozen attributes set per row."""

    def __init__(self, key: Callable[[Any], str]) -> None:
        self.key = key
        self._ranks: dict[str, Any] = {}  # the groups in first-seen order
        self._measures: dict[str, set[int]] = defaultdict(set)
        self._counts: dict[tuple[Any, ...], int] = defaultdict(int)

    def add(self, row: LedgerRow | TallyRow, rank: Any = None) -> None:
        """Count ``row``; a group's ``rank`` is the least of its rows' (see
        :meth:`summaries`). Cancelled rows (已撤销) are counted nowhere."""
        state = row.state
        if state is _CANCELLED:
            return
        name = self.key(row)
        ranks = self._ranks
        if name not in ranks:
            ranks[name] = rank
        elif rank is not None and rank < ranks[name]:
            ranks[name] = rank
        self._measures[name].add(row.measure_id)
        self._counts[(name, row.light, state, row.status is _OVERDUE,
                      row.original_due is not None, row.missing_reports > 0,
                      bool(row.escalations))] += 1

    def summaries(self, *, ranked: bool = False) -> list[SummaryRow]:
        """The summaries in first-seen order, or with ``ranked`` by their rank
        (ties in first-seen order)."""
        groups = {name: SummaryRow(name, measures=len(self._measures[name]))
                  for name in self._ranks}
        for (name, light, state, overdue, extended, missing, escalated), n in (
                self._counts.items()):
            summary = groups[name]
            summary.tasks += n
            attr = _LIGHT_FIELDS[light]
            setattr(summary, attr, getattr(summary, attr) + n)
            if state is _APPROVED:
                summary.approved += n
            elif state is _SUBMITTED:
                summary.submitted += n
            else:
                summary.open += n
            summary.overdue += n * overdue
            summary.extended += n * extended
            summary.missing_reports += n * missing
            summary.escalated += n * escalated
        if ranked:
            return sorted(groups.values(), key=lambda s: self._ranks[s.name])
        return list(groups.values())


def number_text(value: Any) -> str:
    """A value as people write it: 75 rather than 75.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
