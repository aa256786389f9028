"""Running counts of a ledger's rows, taken as the workbook writes them.

A streamed ledger (:func:`duban.services.reports.ledger.stream_ledger`) is not
held: what the workbook's other sheets say of its rows is counted one row at a
time. :class:`LedgerTally` counts the summaries per section and per department
(as :meth:`Ledger.by_section` and :meth:`Ledger.by_department`), the measures
and the rows; :class:`ScoreTally` the scorecard's counts per department (as
:func:`~duban.services.reports.scorecard.scorecard_from_ledger`), through the
domain's :func:`~duban.domain.scorecard.department_counts` a batch of rows at a
time, the batches' counts added up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import date

from duban.domain.scorecard import (
    Period,
    ScoreCounts,
    ScoreWeights,
    TaskRecord,
    department_counts,
)
from duban.domain.status import Light, StatusPolicy
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ledger_cells import TallyRow
from duban.services.reports.ledger_model import Ledger, LedgerRow, SummaryRow, SummaryTally
from duban.services.reports.scorecard import Scorecard, ranked_scorecard, record_of

_COUNTED = tuple(f.name for f in fields(ScoreCounts) if f.name != "escalations")


class LedgerTally:
    """The summaries, measures, rows and lights of the rows :meth:`add` saw,
    in the order the ledger writes them."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        many = len(ledger.plans) > 1
        self._sections = SummaryTally(
            (lambda r: f"{r.plan} {r.section}") if many else (lambda r: r.section)
        )
        self._departments = SummaryTally(lambda r: r.department)
        self.measure_ids: set[int] = set()
        self.rows = 0
        self.lights: Counter[Light] = Counter()

    def add(self, row: LedgerRow | TallyRow) -> None:
        # Sections in plan and section order, each where its first row of
        # them comes (Ledger.by_section's stable sort).
        self._sections.add(row, (row.plan, row.section_number or 0, self.rows))
        self._departments.add(row)
        self.measure_ids.add(row.measure_id)
        self.lights[row.light] += 1
        self.rows += 1

    def by_section(self) -> list[SummaryRow]:
        """As :meth:`Ledger.by_section` of the rows seen."""
        return self._sections.summaries(ranked=True)

    def by_department(self) -> list[SummaryRow]:
        """As :meth:`Ledger.by_department` of the rows seen."""
        return sorted(
            self._departments.summaries(), key=lambda s: self.ledger.department_key(s.name)
        )


@dataclass
class ScoreTally:
    """The scorecard of the rows :meth:`add` saw, seen on ``as_of``: the
    same as :func:`~duban.services.reports.scorecard.scorecard_from_ledger`
    of them, holding at most ``batch`` rows' records."""

    as_of: date
    period: Period
    calendar: WorkCalendar
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    policy: StatusPolicy | None = None
    batch: int = 1000
    counts: dict[str, ScoreCounts] = field(default_factory=dict)
    _records: list[TaskRecord] = field(default_factory=list)

    def add(self, row: LedgerRow) -> None:
        self.add_record(record_of(row))

    def add_record(self, record: TaskRecord) -> None:
        """Count ``record`` (:func:`~duban.services.reports.scorecard.record_of` of a row)."""
        self._records.append(record)
        if len(self._records) >= self.batch:
            self._count()

    def scorecard(self, ledger: Ledger) -> Scorecard:
        """The ranked scorecard (ties in ``ledger``'s directory order)."""
        self._count()
        return ranked_scorecard(
            self.counts, as_of=self.as_of, period=self.period, weights=self.weights,
            department_key=ledger.department_key,
        )

    def _count(self) -> None:
        counted = department_counts(
            self._records, period=self.period, as_of=self.as_of, calendar=self.calendar,
            policy=self.policy, task_roles=self.weights.task_roles,
        )
        self._records.clear()
        for name, more in counted.items():
            total = self.counts.get(name)
            if total is None:
                self.counts[name] = more
                continue
            for attr in _COUNTED:
                setattr(total, attr, getattr(total, attr) + getattr(more, attr))
            for level, n in more.escalations.items():
                total.escalations[level] = total.escalations.get(level, 0) + n
