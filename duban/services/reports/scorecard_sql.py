"""The scorecard's counts per department in grouped SQL.

:func:`department_tallies` computes, in four grouped queries, exactly the
:class:`~duban.domain.scorecard.ScoreCounts` that
:func:`duban.domain.scorecard.department_counts` makes task by task, so the
score, rates and ranks stay the domain's (:func:`~duban.domain.scorecard.score`
on these counts). Python then handles about one row per department (a few
more for the working days late), not one per task:

- the tasks, grouped by department and state (from the index
  ``ix_tasks_scorecard`` alone on SQLite): within a state, the tasks past
  due, counted (role and due date in the period), done late and approved
  after an extension — each counted task's class on ``as_of`` and the chart's
  counts follow from its state — and for each report window
  (:func:`~duban.domain.scorecard.report_windows`, worked out in Python from
  the working-day calendar and bound) the tasks that owe it;
- the progress reports, grouped by task (the latest report in each window's
  on-time span, whose local day must follow the assignment day, and whether
  one came late), then by department: the owed reports made on time or late —
  the rest are missing once the deadline has passed;
- the escalations (ladder steps of level 1-3 not superseded) in the period,
  by department and level;
- the late and overdue tasks by department, due date and day done, for the
  average working days late.

Local days come from the database as in :mod:`duban.services.tasks.light_sql`;
where that cannot say them exactly :func:`department_tallies` returns None and
callers count task by task. ``tests/reports/test_scorecard_sql.py`` compares
both on varied histories, every day of them, on both databases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from duban.domain.lifecycle import Action, ExtensionStatus, TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.scorecard import LEVELS, Period, ReportWindow, ScoreCounts, report_windows
from duban.domain.status import StatusPolicy
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.tasks.light_sql import local_day_function
from models import Department, ExtensionRequest, Measure, Notice, Task, TaskEvent

_OPEN = [
    s.value
    for s in (TaskState.ASSIGNED, TaskState.ACKNOWLEDGED, TaskState.IN_PROGRESS, TaskState.RETURNED)
]
_DONE = [TaskState.SUBMITTED.value, TaskState.APPROVED.value]


@dataclass
class DepartmentTally:
    """One department's scorecard counts and what the scorecard page shows
    beside them: its tasks (cancelled ones included), the chart's counts of
    its active tasks (approved, submitted, overdue, all), and its late and
    overdue tasks as (working days late, tasks) — those whose days cannot be
    counted yet (待日历公布) left out."""

    counts: ScoreCounts = field(default_factory=ScoreCounts)
    tasks: int = 0
    active: int = 0
    approved: int = 0
    submitted: int = 0
    overdue: int = 0
    days_late: list[tuple[int, int]] = field(default_factory=list)


def department_tallies(
    session: Session,
    *,
    where: Sequence[ColumnElement[bool]],
    period: Period,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
    policy: StatusPolicy | None = None,
    task_roles: Iterable[str] = ("lead",),
) -> dict[str, DepartmentTally] | None:
    """Tallies by department name of the tasks ``where`` picks (conditions on
    Task and Measure), for every department with one; counts as
    :func:`~duban.domain.scorecard.department_counts` makes them for
    ``period`` seen on ``as_of`` (history read up to the end of that day).
    None when SQL cannot tell local days here. Raises CalendarError when a
    date lies outside the calendar."""
    policy = policy or StatusPolicy()
    first = session.scalar(_joined(select(func.min(Task.assigned_at)), where))
    if first is None:
        return {}
    local_day = local_day_function(session, zone, first, as_of)
    if local_day is None:
        return None
    windows = report_windows(
        local_day_of(first, zone), period, as_of=as_of, calendar=calendar, policy=policy
    )
    rules = _Rules(as_of=as_of, first_day=period.start, last_day=period.clipped(as_of).end or as_of,
                   zone=zone, local_day=local_day, roles=tuple(task_roles), windows=windows)
    names: dict[int, str] = dict(session.execute(select(Department.id, Department.name)).all())
    tallies: dict[str, DepartmentTally] = {}
    for row in session.execute(rules.task_query(where)):
        name = names[row.department_id]
        if name not in tallies:
            tallies[name] = rules.new_tally()
        rules.add_tasks(tallies[name], row)
    if windows:
        for row in session.execute(rules.report_query(where)):
            rules.add_reports(tallies[names[row.department_id]], row)
    for department_id, level, count in session.execute(rules.escalation_query(where)):
        tallies[names[department_id]].counts.escalations[level] = count
    days: dict[tuple[date, date], int | Unpublished] = {}
    late: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for department_id, due, done_on, count in session.execute(rules.late_query(where)):
        key = (due, done_on or as_of)
        if key not in days:
            days[key] = calendar.maybe_count_workdays(*key)
        found = days[key]
        if not isinstance(found, Unpublished):
            late[names[department_id]][found] += count
    for name, counted in late.items():
        tallies[name].days_late = sorted(counted.items())
    return tallies


def local_day_of(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def _joined(query: Any, where: Sequence[ColumnElement[bool]]) -> Any:
    """``query`` over Task restricted to the tasks ``where`` picks (joined to
    their measures only when it picks some)."""
    query = query.select_from(Task)
    if where:
        query = query.join(Measure, Task.measure_id == Measure.id).where(*where)
    return query


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass(frozen=True)
class _Rules:
    """The domain's counting rules as SQL over Task for one day and period."""

    as_of: date
    first_day: date | None  # the period's, clipped to as_of
    last_day: date
    zone: tzinfo
    local_day: Any
    roles: tuple[str, ...]
    windows: list[ReportWindow]
    # Some tasks only, each counted alone (the kept scorecard's cells,
    # duban.services.reports.scorecard_kept): a condition on Task and the
    # same on TaskEvent.task_id; every query then also selects and groups by
    # the task's id (first column, ``task_id``).
    task_filter: ColumnElement[bool] | None = None
    event_filter: ColumnElement[bool] | None = None

    def _by_task(self, query: Any, *group: Any, aggregated: bool = False) -> Any:
        """``query`` grouped by ``group``; with a task filter, one row per task
        picked (its columns 0 or 1 each, see :meth:`_n`), grouped by task
        only where it is ``aggregated`` over other rows (notices)."""
        if self.task_filter is None:
            return query.group_by(*group)
        query = query.add_columns(Task.id.label("task_id")).where(self.task_filter)
        return query.group_by(Task.id, *group) if aggregated else query

    def _n(self, condition: ColumnElement[bool]) -> Any:
        """How many rows of the group meet ``condition`` (per task: 0 or 1)."""
        if self.task_filter is None:
            return _count(condition)
        return case((condition, 1), else_=0)

    def _rows(self) -> Any:
        return func.count() if self.task_filter is None else literal(1)

    def start(self, day: date) -> datetime:
        """The moment ``day`` begins in the zone (local days as instants)."""
        return datetime.combine(day, time.min, self.zone)

    def end(self, day: date) -> datetime:
        return self.start(day + timedelta(days=1))

    # --- tasks --------------------------------------------------------------

    def task_query(self, where: Sequence[ColumnElement[bool]]) -> Any:
        """One row per department and state: its tasks and, among them, those
        past due on ``as_of`` (``past``), due in the period with a counted
        role (``counted``), those of them past due (``counted_past``), done
        late (``counted_late``: approved, 报结 after the due day) or approved
        on time after an approved extension (``counted_extended``), and for
        each report window those that owe it (``owed_N``). :meth:`add_tasks`
        reads the columns that apply to the row's state; grouped by state,
        each task is tested a few times instead of once per count (with
        ``ix_tasks_scorecard`` SQLite reads the index alone, in order)."""
        approved = Task.state == TaskState.APPROVED.value
        late = and_(Task.submitted_at.is_not(None),
                    self.local_day(Task.submitted_at) > Task.due)
        extended = Task.id.in_(
            select(ExtensionRequest.task_id).where(
                ExtensionRequest.status == ExtensionStatus.APPROVED,
                ExtensionRequest.requested_at < self.end(self.as_of),
            )
        )
        counted = [Task.role.in_(self.roles), Task.due <= self.last_day]
        if self.first_day is not None:
            counted.append(Task.due >= self.first_day)
        columns = [
            self._rows().label("tasks"),
            self._n(Task.due < self.as_of).label("past"),
            self._n(and_(*counted)).label("counted"),
            self._n(and_(Task.due < self.as_of, *counted)).label("counted_past"),
            # The state first: the other tests run for approved tasks only.
            self._n(and_(approved, *counted, late)).label("counted_late"),
            self._n(and_(approved, *counted, not_(late), extended)).label("counted_extended"),
        ]
        for index, window in enumerate(self.windows):
            columns.append(self._n(self._owes(window)).label(f"owed_{index}"))
        return self._by_task(_joined(select(Task.department_id, Task.state, *columns), where),
                             Task.department_id, Task.state)

    def report_query(self, where: Sequence[ColumnElement[bool]]) -> Any:
        """One row per department with a task that reported: for each window
        the tasks that owe it and reported in time (``on_N``), and those that
        reported in time or late (``any_N``). Driven by the reports: only
        tasks with one are read."""
        hits = self._report_hits()
        assigned_day = self.local_day(Task.assigned_at)
        columns = []
        for index, window in enumerate(self.windows):
            owes = and_(Task.state != TaskState.CANCELLED.value, self._owes(window))
            latest = getattr(hits.c, f"on_{index}")
            # Cheap tests first: SQLite stops at the first false one.
            on_time = and_(latest.is_not(None), self.local_day(latest) > assigned_day)
            late = getattr(hits.c, f"late_{index}") == 1
            columns += [
                self._n(and_(on_time, owes)).label(f"on_{index}"),
                self._n(and_(or_(late, on_time), owes)).label(f"any_{index}"),
            ]
        query = select(Task.department_id, *columns).select_from(hits).join(
            Task, Task.id == hits.c.task_id
        )
        if where:
            query = query.join(Measure, Task.measure_id == Measure.id).where(*where)
        return self._by_task(query, Task.department_id)

    def _owes(self, window: ReportWindow) -> ColumnElement[bool]:
        """Whether a task owes the window's report: assigned before the
        period ended, due on or after its end and not submitted by then."""
        end = window.period_end
        return and_(
            Task.assigned_at < self.start(end),
            Task.due >= end,
            not_(and_(Task.state.in_(_DONE), Task.submitted_at.is_not(None),
                      Task.submitted_at < self.end(end))),
        )

    def _report_hits(self) -> Any:
        """Per task with progress reports up to ``as_of``: for each window its
        latest report in the on-time window (``on_N``; the caller checks it
        is later than the assignment day) and whether one came late
        (``late_N``, 1 or 0)."""
        columns = []
        for index, window in enumerate(self.windows):
            in_time = [TaskEvent.at < self.end(window.deadline)]
            if window.previous_end is not None:
                in_time.append(TaskEvent.at >= self.end(window.previous_end))
            late = and_(TaskEvent.at >= self.end(window.deadline),
                        TaskEvent.at < self.end(window.late_until))
            columns += [
                func.max(case((and_(*in_time), TaskEvent.at), else_=None)).label(f"on_{index}"),
                func.max(case((late, 1), else_=0)).label(f"late_{index}"),
            ]
        query = select(TaskEvent.task_id, *columns).where(
            TaskEvent.action == Action.REPORT.value, TaskEvent.at < self.end(self.as_of))
        if self.event_filter is not None:
            query = query.where(self.event_filter)
        return query.group_by(TaskEvent.task_id).subquery("hits")

    def add_reports(self, tally: DepartmentTally, row: Any) -> None:
        """Count a row of :meth:`report_query` (each window's owed reports
        are already in ``tally``, as missing)."""
        counts = tally.counts
        for index, window in enumerate(self.windows):
            on_time = getattr(row, f"on_{index}")
            counts.reports_on_time += on_time
            if window.deadline < self.as_of:  # else nothing is late or missing yet
                answered = getattr(row, f"any_{index}")
                counts.reports_late += answered - on_time
                counts.reports_missing -= answered

    def new_tally(self) -> DepartmentTally:
        return DepartmentTally(counts=ScoreCounts())

    def add_tasks(self, tally: DepartmentTally, row: Any) -> None:
        """Count a row of :meth:`task_query` (one state's tasks of the
        department): every owed report whose deadline has passed as missing
        until :meth:`add_reports`."""
        tally.tasks += row.tasks
        if row.state == TaskState.CANCELLED.value:
            return
        tally.active += row.tasks
        counts = tally.counts
        counts.tasks_due += row.counted
        if row.state == TaskState.APPROVED.value:
            tally.approved += row.tasks
            counts.late += row.counted_late
            counts.after_extension += row.counted_extended
            counts.on_time += row.counted - row.counted_late - row.counted_extended
        elif row.state == TaskState.SUBMITTED.value:
            tally.submitted += row.tasks
            counts.awaiting_review += row.counted
        elif row.state in _OPEN:
            tally.overdue += row.past
            counts.overdue += row.counted_past
            counts.open += row.counted - row.counted_past
        for index, window in enumerate(self.windows):
            if window.deadline < self.as_of:
                counts.reports_missing += getattr(row, f"owed_{index}")

    # --- escalations and days late ---------------------------------------------

    def escalation_query(self, where: Sequence[ColumnElement[bool]]) -> Any:
        """(department id, level, count) of the ladder steps of level 1-3 not
        superseded that fell due in the period, on active tasks."""
        in_period = [Notice.due_at < self.end(self.last_day)]
        if self.first_day is not None:
            in_period.append(Notice.due_at >= self.start(self.first_day))
        # The period is counted, not filtered on: as a range on notices.due_at
        # SQLite takes it for selective and reads every notice through that
        # index (7x slower than a scan when the period is everything).
        # Every task counted: read the notices once, each finding its task by
        # its key. The unary plus keeps SQLite (once ANALYZEd) from going the
        # other way, through every task and a probe of notices' task index
        # per task (4-8x slower at 100k tasks); it changes no value.
        notice_task = Notice.task_id if where or self.task_filter is not None else UnaryExpression(
            Notice.task_id.expression, operator=custom_op("+")
        )
        return self._by_task(
            _joined(select(Task.department_id, Notice.level, _count(and_(*in_period))), where)
            .join(Notice, notice_task == Task.id)
            .where(
                Notice.level.in_(LEVELS),
                Notice.status != NoticeStatus.SUPERSEDED,
                Task.state != TaskState.CANCELLED.value,
            ),
            Task.department_id, Notice.level, aggregated=True,
        )

    def late_query(self, where: Sequence[ColumnElement[bool]]) -> Any:
        """(department id, due date, day done or NULL while overdue, count) of
        the tasks overdue or done late on ``as_of``."""
        approved = Task.state == TaskState.APPROVED.value
        done_on = case((approved, type_coerce(self.local_day(Task.submitted_at), Date)),
                       else_=None)
        return self._by_task(
            _joined(select(Task.department_id, Task.due, done_on, self._rows()), where)
            .where(
                or_(
                    and_(Task.state.in_(_OPEN), Task.due < self.as_of),
                    and_(approved, Task.submitted_at.is_not(None),
                         self.local_day(Task.submitted_at) > Task.due),
                )
            ),
            Task.department_id, Task.due, done_on,
        )
