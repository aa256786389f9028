"""Status and light of many tasks at once, from a few column queries.

:func:`light_tasks` is what pages that count (the dashboard, the scorecard,
the measures' lights) read instead of full task views: it selects plain
columns, no ORM objects, and loads a task's related rows only where the
domain needs them on the day asked:

- report dates only for the tasks still open and not yet overdue (the only
  ones :func:`~duban.domain.status.assess` looks at them for), unless
  ``all_reports`` (the scorecard counts every report);
- readings and numeric targets only for the tasks that have readings (a task
  without one is never behind its trajectory);
- approved extensions as a set of task ids.

The status and light are :func:`duban.domain.status.assess`'s own, computed
once per distinct set of facts (many tasks share them). Nothing is read from
the stored lights (``tasks.light``) here: the light of any day can be asked,
as with :mod:`duban.services.tasks.queries`. A report period's deadline is N
working days after its end on the working-day calendar, which is read from
files that may change while ``duban serve`` runs: the stored lights
(:mod:`duban.services.tasks.light_sql`) carry what the calendar made of
their day in their key, and are read only under that key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from duban.domain.lifecycle import Action, ExtensionStatus, TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.status import (
    Assessment,
    Indicator,
    Light,
    Reading,
    StatusPolicy,
    TaskFacts,
    TaskStatus,
    assess,
)
from duban.domain.workdays import WorkCalendar
from models import (
    Department,
    ExtensionRequest,
    IndicatorReading,
    Measure,
    Notice,
    Plan,
    Section,
    Target,
    Task,
    TaskEvent,
)

NO_SECTION = "(未分章节)"
# States in which a task still owes its progress reports.
_REPORTING = frozenset(
    {TaskState.ASSIGNED, TaskState.ACKNOWLEDGED, TaskState.IN_PROGRESS, TaskState.RETURNED}
)


class Escalation(NamedTuple):
    """A ladder step of level ≥ 1 taken on a task: its level and local day."""

    level: int
    on: date


@dataclass(frozen=True, slots=True)
class LitTask:
    """One task with its status and light as of a day (see the module docstring).

    ``facts.report_dates`` holds every report only with ``all_reports``;
    otherwise only for tasks open and not overdue; ``facts.indicator`` is
    None for a task without readings (it changes nothing then). ``escalations`` are the
    task's ladder steps of level ≥ 1 (not superseded) up to the day, as
    (level, local day), when asked for.
    """

    task_id: int
    plan: str
    plan_id: int
    section: str
    section_number: int | None
    measure: int
    measure_id: int
    department: str
    department_id: int
    role: str
    deadline: date
    state: TaskState
    due: date
    assigned_on: date
    facts: TaskFacts
    assessment: Assessment
    escalations: tuple[Escalation, ...] = ()

    @property
    def status(self) -> TaskStatus:
        return self.assessment.status

    @property
    def light(self) -> Light:
        return self.assessment.light

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.assessment.reasons

    @property
    def cancelled(self) -> bool:
        return self.state is TaskState.CANCELLED

    @property
    def weight(self) -> int:
        """One task (charts also count groups of tasks)."""
        return 1

    @property
    def submitted_on(self) -> date | None:
        """The local day of the latest 报结 while submitted or approved."""
        return self.facts.submitted_on


class _Zone:
    """Local days of UTC moments, one conversion per distinct moment."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.seen: dict[datetime, date] = {}

    def day(self, moment: datetime) -> date:
        found = self.seen.get(moment)
        if found is None:
            found = self.seen[moment] = moment.astimezone(self.zone).date()
        return found


def light_tasks(
    session: Session,
    *,
    where: Sequence[ColumnElement[bool]],
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
    policy: StatusPolicy | None = None,
    all_reports: bool = False,
    history_until: datetime | None = None,
) -> list[LitTask]:
    """The tasks matching ``where`` (conditions on Task, Measure, Plan) with
    their status and light as of ``as_of``, in plan, measure, deadline, role,
    id order. ``history_until``: read the history as the ledger does, up to
    that moment: each task's escalations before it, and only the extensions
    asked before it. Raises CalendarError when a date lies outside the calendar."""
    policy = policy or StatusPolicy()
    rows = session.execute(_task_query(where)).all()
    if not rows:
        return []
    days = _Zone(zone)
    history = _History(
        days=days,
        reports=_report_dates(session, where, as_of=as_of, every=all_reports, days=days),
        extended=_extended(session, where, history_until),
        indicators=_indicators(session, where),
        marks=(
            _escalations(session, where, until=history_until, days=days)
            if history_until is not None
            else {}
        ),
    )
    assessed: dict[TaskFacts, Assessment] = {}
    result = []
    for (task_id, plan_key, plan_id, section_number, section_label, section_title, number,
         measure_id, department, department_id, role, deadline, state_text, due, original_due,
         assigned_at, submitted_at) in rows:
        state = TaskState(state_text)
        facts = history.facts(task_id, state, due, original_due, assigned_at, submitted_at)
        assessment = assessed.get(facts)
        if assessment is None:
            assessment = assessed[facts] = assess(facts, as_of, calendar, policy)
        if section_number is None:
            section = NO_SECTION
        else:
            section = f"{section_label}、{section_title}" if section_label else section_title
        result.append(
            LitTask(
                task_id=task_id,
                plan=plan_key,
                plan_id=plan_id,
                section=section,
                section_number=section_number,
                measure=number,
                measure_id=measure_id,
                department=department,
                department_id=department_id,
                role=role,
                deadline=deadline,
                state=state,
                due=due,
                assigned_on=facts.assigned_on,
                facts=facts,
                assessment=assessment,
                escalations=history.marks.get(task_id, ()),
            )
        )
    return result


def _task_query(where: Sequence[ColumnElement[bool]]) -> Any:
    """The columns a lit task is made of, for the tasks matching ``where``,
    in plan, measure, deadline, role, id order."""
    return (
        select(
            Task.id, Plan.key, Plan.id, Section.number, Section.label, Section.title,
            Measure.number, Task.measure_id, Department.name, Task.department_id, Task.role,
            Task.deadline, Task.state, Task.due, Task.original_due, Task.assigned_at,
            Task.submitted_at,
        )
        .join(Measure, Task.measure_id == Measure.id)
        .join(Plan, Measure.plan_id == Plan.id)
        .outerjoin(Section, Measure.section_id == Section.id)
        .join(Department, Task.department_id == Department.id)
        .where(*where)
        .order_by(Plan.id, Measure.number, Task.deadline, Task.role, Task.id)
    )


def _extended(
    session: Session, where: Sequence[ColumnElement[bool]], until: datetime | None
) -> set[int]:
    """Ids of the tasks matching ``where`` with an approved extension (asked
    before ``until`` when given)."""
    return set(
        session.scalars(
            _joined(
                select(ExtensionRequest.task_id)
                .join(Task, ExtensionRequest.task_id == Task.id)
                .where(ExtensionRequest.status == ExtensionStatus.APPROVED)
                .where(ExtensionRequest.requested_at < until if until is not None else true()),
                where,
            )
        )
    )


@dataclass
class _History:
    """What was read of the tasks' history, by task id."""

    days: _Zone
    reports: dict[int, tuple[date, ...]]
    extended: set[int]
    indicators: dict[int, tuple[Indicator, tuple[Reading, ...]]]
    marks: dict[int, tuple[Escalation, ...]]

    def facts(
        self,
        task_id: int,
        state: TaskState,
        due: date,
        original_due: date,
        assigned_at: datetime,
        submitted_at: datetime | None,
    ) -> TaskFacts:
        """The facts :func:`~duban.domain.status.assess` judges the task by."""
        submitted_on = None
        if state in (TaskState.SUBMITTED, TaskState.APPROVED) and submitted_at is not None:
            submitted_on = self.days.day(submitted_at)
        indicator, readings = self.indicators.get(task_id, (None, ()))
        return TaskFacts(
            state=state,
            due=due,
            original_due=original_due,
            assigned_on=self.days.day(assigned_at),
            submitted_on=submitted_on,
            extended=task_id in self.extended,
            report_dates=self.reports.get(task_id, ()),
            indicator=indicator,
            readings=readings,
        )


def _joined(query: Any, where: Sequence[ColumnElement[bool]]) -> Any:
    """``query`` (already joined to Task) restricted to the tasks ``where`` picks."""
    return (
        query.join(Measure, Task.measure_id == Measure.id)
        .join(Plan, Measure.plan_id == Plan.id)
        .where(*where)
    )


def _report_dates(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    *,
    as_of: date,
    every: bool,
    days: _Zone,
) -> dict[int, tuple[date, ...]]:
    """Local days of each task's progress reports, in order: every task's
    when ``every``, else only those of tasks that owe reports on ``as_of``
    (open and not past due)."""
    query = (
        select(TaskEvent.task_id, TaskEvent.at)
        .join(Task, TaskEvent.task_id == Task.id)
        .where(TaskEvent.action == Action.REPORT.value)
    )
    if not every:
        query = query.where(Task.state.in_([s.value for s in _REPORTING]), Task.due >= as_of)
    query = _joined(query, where).order_by(TaskEvent.task_id, TaskEvent.at)
    found: dict[int, list[date]] = defaultdict(list)
    for task_id, at in session.execute(query):
        found[task_id].append(days.day(at))
    return {task_id: tuple(sorted(dates)) for task_id, dates in found.items()}


def _indicators(
    session: Session, where: Sequence[ColumnElement[bool]]
) -> dict[int, tuple[Indicator, tuple[Reading, ...]]]:
    """For each task with readings: the indicator of its first numeric target
    (as :func:`duban.services.tasks.queries.task_facts` picks it) and that
    target's readings in order."""
    query = _joined(
        select(
            IndicatorReading.task_id, IndicatorReading.target_id, IndicatorReading.reported_on,
            IndicatorReading.value, Task.measure_id, Task.deadline,
        ).join(Task, IndicatorReading.task_id == Task.id),
        where,
    ).order_by(IndicatorReading.reported_on, IndicatorReading.id)
    readings = session.execute(query).all()
    if not readings:
        return {}
    measure_ids = {row.measure_id for row in readings}
    targets: dict[int, list[Target]] = defaultdict(list)
    for target in session.scalars(
        select(Target).where(Target.measure_id.in_(measure_ids)).order_by(Target.position)
    ):
        targets[target.measure_id].append(target)
    by_task: dict[int, list[Any]] = defaultdict(list)
    for row in readings:
        by_task[row.task_id].append(row)
    result = {}
    for task_id, rows in by_task.items():
        first = _first_numeric(targets[rows[0].measure_id], rows[0].deadline)
        if first is None or first.value is None:
            continue
        indicator = Indicator(comparator=first.comparator or ">=", target=first.value)
        values = tuple(
            sorted(
                (Reading(r.reported_on, r.value) for r in rows if r.target_id == first.id),
                key=lambda r: r.on,
            )
        )
        result[task_id] = (indicator, values)
    return result


def _first_numeric(targets: Iterable[Target], deadline: date) -> Target | None:
    """:func:`duban.services.tasks.queries.numeric_targets`' first, by deadline."""
    ordered = sorted(targets, key=lambda t: t.position)
    if any(t.due is not None for t in ordered):
        numeric = [t for t in ordered if t.value is not None and t.due == deadline]
    else:
        numeric = [t for t in ordered if t.value is not None]
    return numeric[0] if numeric else None


def _escalations(
    session: Session, where: Sequence[ColumnElement[bool]], *, until: datetime, days: _Zone
) -> dict[int, tuple[Escalation, ...]]:
    query = _joined(
        select(Notice.task_id, Notice.level, Notice.due_at)
        .join(Task, Notice.task_id == Task.id)
        .where(Notice.level >= 1, Notice.status != NoticeStatus.SUPERSEDED, Notice.due_at < until),
        where,
    ).order_by(Notice.task_id, Notice.due_at, Notice.id)
    found: dict[int, list[Escalation]] = defaultdict(list)
    for task_id, level, due_at in session.execute(query):
        found[task_id].append(Escalation(level, days.day(due_at)))
    return {task_id: tuple(marks) for task_id, marks in found.items()}
