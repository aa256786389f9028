"""A streamed ledger's 台账 cells made straight from its tasks' columns.

:func:`~duban.services.reports.ledger_rows.ledger_row` makes a
:class:`~duban.services.reports.ledger_model.LedgerRow` of ~40 fields per task,
and the workbook then takes its cells from the row's attributes: at 100k tasks
making the rows was about a third of the download's time. :class:`LedgerCells`
makes a task's cells (the values of :data:`~duban.services.reports.ledger_files.LEDGER_COLUMNS`
after 序号, with 方案 and 来源及文号 when the ledger has them) from the task's
columns and its batch's :class:`~duban.services.reports.ledger_rows.LedgerRelated`,
the values the sheet does not show left unmade, and what a measure's or a
deadline's tasks share made once; with what the summaries count of the row
(:class:`TallyRow`) and, when asked, the scorecard's record of it. They are
the cells, counts and records the row would give
(``tests/reports/test_ledger_streamed.py`` compares the workbooks part for part).
"""

from __future__ import annotations

from datetime import date, tzinfo
from operator import attrgetter
from typing import Any, NamedTuple

from duban.domain.labels import TASK_ROLE_LABELS
from duban.domain.lifecycle import TaskState
from duban.domain.scorecard import TaskRecord
from duban.domain.status import Light, StatusPolicy, TaskStatus
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ledger_rows import (
    _APPROVED,
    _NONE,
    LedgerRelated,
    TaskColumns,
    _extension_text,
    _local_day,
    _next_step,
    _reports_fields,
    _target_lines,
    judged,
)

_CANCELLED = TaskState.CANCELLED
_KEPT = 20_000  # measures, and measures' deadlines, whose cells are kept at most
_TEXT, _GOAL, _LATEST = attrgetter("text"), attrgetter("goal"), attrgetter("latest_text")


class TallyRow(NamedTuple):
    """What :class:`~duban.services.reports.ledger_tally.LedgerTally` counts of a row."""

    plan: str
    section: str
    section_number: int | None
    department: str
    measure_id: int
    light: Light
    state: TaskState
    status: TaskStatus
    original_due: date | None
    missing_reports: int
    escalations: int  # how many (a row's list of them is counted by its truth)


def _joined(separator: str, texts: Any) -> str:
    return separator.join(filter(None, texts))


class LedgerCells:
    """The cells of a streamed ledger's tasks (see the module docstring):
    with ``many_plans`` 方案 first, with ``item_sources`` 来源及文号 after
    措施名称, as :func:`~duban.services.reports.ledger_files.ledger_columns`
    orders them."""

    def __init__(
        self,
        related: LedgerRelated,
        *,
        as_of: date,
        calendar: WorkCalendar,
        policy: StatusPolicy,
        zone: tzinfo,
        many_plans: bool,
        item_sources: bool,
    ) -> None:
        self.related = related
        self.as_of = as_of
        self.calendar = calendar
        self.policy = policy
        self.zone = zone
        self.many_plans = many_plans
        self.item_sources = item_sources
        # A measure's leading cells and its (plan, section, section number);
        # the target cells of a measure's deadline for tasks without readings.
        self._measures: dict[int, tuple[list[Any], tuple[str, str, int | None]]] = {}
        self._targets: dict[tuple[int, date], tuple[str, str, str]] = {}

    def _measure(self, measure_id: int) -> tuple[list[Any], tuple[str, str, int | None]]:
        found = self._measures.get(measure_id)
        if found is None:
            if len(self._measures) >= _KEPT:  # memory flat: the measures come in order
                self._measures.clear()
            shared = self.related.measure_fields(self.related.measures[measure_id])
            cells: list[Any] = [shared["plan"]] if self.many_plans else []
            cells += [shared["section"], shared["measure"], shared["measure_title"]]
            if self.item_sources:
                cells.append(shared["item_source"])
            cells += [_joined("、", shared["lead_departments"]),
                      _joined("、", shared["supporting_departments"])]
            found = self._measures[measure_id] = (
                cells, (shared["plan"], shared["section"], shared["section_number"]))
        return found

    def _target_cells(self, task: TaskColumns) -> tuple[str, str, str]:
        """目标任务, 量化指标 and 指标最新值 (see ``_targets`` in ledger_rows):
        once per measure and deadline, and for a task with readings its
        latest values (the targets' text and goals are not the readings')."""
        related = self.related
        key = (task.measure_id, task.deadline)
        found = self._targets.get(key)
        if found is None:
            if len(self._targets) >= _KEPT:  # memory flat: the measures come in order
                self._targets.clear()
            lines = _target_lines(related.targets_of(task.measure_id, task.deadline), [],
                                  self.as_of)
            found = self._targets[key] = (_joined("\n", map(_TEXT, lines)),
                                          _joined("\n", map(_GOAL, lines)),
                                          _joined("\n", map(_LATEST, lines)))
        readings = related.readings.get(task.id)
        if readings:
            lines = _target_lines(related.targets_of(task.measure_id, task.deadline), readings,
                                  self.as_of)
            return found[0], found[1], _joined("\n", map(_LATEST, lines))
        return found

    def cells(
        self, task: TaskColumns, *, record: bool = False
    ) -> tuple[list[Any], Light, TallyRow, TaskRecord | None]:
        """The task's cells in column order (without 序号), its light, what
        the summaries count of it, and with ``record`` the scorecard's record
        of it (:func:`~duban.services.reports.scorecard.record_of`)."""
        related, as_of, zone = self.related, self.as_of, self.zone
        events = related.history.get(task.id, _NONE)
        extensions = related.extensions.get(task.id, _NONE)
        days = related.local_days(zone)
        facts, _assessment, missing, status = judged(
            task, related, events, extensions, days, as_of, self.calendar, self.policy, zone)
        state = facts.state
        acknowledged = task.acknowledged_at
        acknowledged_on = (days.get(acknowledged) or _local_day(days, acknowledged, zone)
                           if acknowledged is not None else None)
        notices = related.notices.get(task.id)
        marks = [related.mark(n.level, n.due_at, days, zone) for n in notices] if notices else []
        reports = _reports_fields(events, facts, as_of)
        leading, (plan, section, section_number) = self._measure(task.measure_id)
        department = related.departments[task.department_id]
        due = task.due
        original_due = task.original_due if task.original_due != due else None
        light = status["light"]
        approved = task.approved_at
        cells = [
            *leading,
            department,
            TASK_ROLE_LABELS.get(task.role, task.role),
            *self._target_cells(task),
            due,
            original_due,
            status["state_label"],
            status["status_label"],
            status["light_label"],
            _joined(";", status["reasons"]),
            reports["latest_progress"] or "",
            reports["latest_progress_on"],
            reports["report_count"],
            missing,
            _joined("\n", [_extension_text(x) for x in extensions]) if extensions else "",
            _joined("\n", map(str, marks)) if marks else "",
            _next_step(task, facts, acknowledged_on, related, as_of, self.calendar),
            facts.submitted_on,
            (days.get(approved) or _local_day(days, approved, zone)
             if state is _APPROVED and approved else None),
            task.id,
        ]
        tally = TallyRow(plan, section, section_number, department, task.measure_id, light,
                         state, status["status"], original_due, missing, len(marks))
        scored = None
        if record:
            scored = TaskRecord(
                department=department,
                due=due,
                status=None if state is _CANCELLED else status["status"],
                assigned_on=facts.assigned_on,
                role=task.role,
                closed_on=facts.submitted_on,
                report_dates=facts.report_dates,
                escalations=tuple((mark.level, mark.on) for mark in marks),
            )
        return cells, light, tally, scored
