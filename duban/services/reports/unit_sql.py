"""What the staff page of one unit counts, in grouped SQL.

:mod:`duban.services.reports.unit_page` shows a department's tasks a page
at a time with a count per scorecard filter and two charts. Here they are
counted without reading every task into Python:

- the counts, from the department's scorecard cells kept for the day
  (``task_scores``, :mod:`duban.services.reports.scorecard_kept`): the fresh
  cells grouped by cell, the stale ones worked out by the same SQL rules
  (all of the department's when more than :data:`GROUPED_ABOVE` are stale),
  so each count is exactly the scorecard's;
- a filter's tasks are those whose cell counts them (``cell IN`` the fresh
  cells that do, or one of the stale tasks that do), ordered by the light
  (stored, or worked out: :mod:`duban.services.tasks.light_sql`), due date,
  plan and measure as the page orders them, one page of ids read;
- the sections' lights and the overdue trend, from the department's tasks
  grouped by section and light, and by due date and day of 报结.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, tzinfo

from sqlalchemy import ColumnElement, Date, case, false, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from duban.domain.lifecycle import TaskState
from duban.domain.status import Light
from duban.services.reports.ledger_model import NO_SECTION
from duban.services.reports.overview_facts import ChartGroup
from duban.services.reports.overview_pick import RANKS
from duban.services.reports.scorecard_kept import (
    COUNT_FIELDS,
    GROUPED_ABOVE,
    TALLY_FIELDS,
    KeptRule,
    task_cells,
)
from duban.services.reports.summary_charts import trend_days
from duban.services.tasks.light_sql import LightRule
from models import Measure, Plan, Section, Task, TaskEvent, TaskScore

# A filter's key (unit_page.UNIT_FILTERS) → the scorecard count it lists.
FILTER_COUNTS = {"due": "tasks_due", "on_time": "on_time", "after_extension": "after_extension",
                 "late": "late", "overdue": "overdue"}
# A cancelled task sorts with the green ones (its assessment's light).
_RANKS = {**RANKS, TaskState.CANCELLED.value: RANKS[Light.GREEN.value]}
_DONE = [TaskState.SUBMITTED.value, TaskState.APPROVED.value]


def _position(key: str) -> int:
    """Where a cell holds the count ``key`` of COUNT_FIELDS."""
    return len(TALLY_FIELDS) + COUNT_FIELDS.index(key)


def _numbers(cell: str) -> list[int]:
    return [int(n) for n in cell.split("|", 1)[0].split(",")]


@dataclass(frozen=True)
class UnitCells:
    """A department's scorecard cells for the rule of ``key``: the fresh
    ones as (cell, tasks), and the cell of each task whose kept one is stale
    (then ``fresh`` is empty when every task was worked out); ``tasks``, how
    many the department has."""

    key: str
    department_id: int
    fresh: list[tuple[str, int]]
    worked_out: dict[int, str]
    tasks: int

    def count(self, show: str) -> int:
        """The tasks the scorecard counts under the filter ``show``."""
        at = _position(FILTER_COUNTS[show])
        return (sum(_numbers(cell)[at] * n for cell, n in self.fresh)
                + sum(_numbers(cell)[at] for cell in self.worked_out.values()))

    def condition(self, show: str) -> ColumnElement[bool]:
        """True for the department's tasks counted under ``show``."""
        at = _position(FILTER_COUNTS[show])
        cells = [cell for cell, _n in self.fresh if _numbers(cell)[at]]
        ids = [task_id for task_id, cell in self.worked_out.items() if _numbers(cell)[at]]
        parts: list[ColumnElement[bool]] = []
        if cells:
            parts.append(Task.id.in_(
                select(TaskScore.task_id).where(TaskScore.score_key == self.key,
                                                TaskScore.department_id == self.department_id,
                                                TaskScore.cell.in_(cells))))
        if ids:
            parts.append(Task.id.in_(ids))
        return or_(*parts) if parts else false()


def unit_cells(
    session: Session, rule: KeptRule, department_id: int, *, every_above: int = GROUPED_ABOVE
) -> UnitCells:
    """The department's cells on the rule's day (see :class:`UnitCells`):
    every one worked out when more than ``every_above`` are stale. A fresh
    cell is stored under its task's department (a move makes it stale), so
    the department's tasks are all fresh when its fresh cells are as many;
    else the stale ones are its tasks less those with a fresh cell (two
    index reads: PostgreSQL planned ``NOT EXISTS`` as a scan of every cell)."""
    fresh = [
        (str(cell), int(n)) for cell, n in session.execute(
            select(TaskScore.cell, func.count())
            .where(TaskScore.score_key == rule.key, TaskScore.department_id == department_id)
            .group_by(TaskScore.cell))
    ]
    mine = Task.department_id == department_id
    tasks = session.scalar(select(func.count()).select_from(Task).where(mine)) or 0
    if tasks == sum(n for _cell, n in fresh):
        return UnitCells(rule.key, department_id, fresh, {}, tasks)
    kept = set(session.scalars(select(TaskScore.task_id).where(
        TaskScore.score_key == rule.key, TaskScore.department_id == department_id)))
    stale = sorted(set(session.scalars(select(Task.id).where(mine))) - kept)
    if len(stale) > every_above:
        of_unit = select(Task.id).where(mine)
        every = task_cells(session, rule, mine, TaskEvent.task_id.in_(of_unit))
        return UnitCells(rule.key, department_id, [],
                         {task_id: cell for task_id, (_d, cell) in every.items()}, tasks)
    worked_out = task_cells(session, rule, Task.id.in_(stale), TaskEvent.task_id.in_(stale))
    return UnitCells(rule.key, department_id, fresh,
                     {task_id: cell for task_id, (_d, cell) in worked_out.items()}, tasks)


def page_ids(
    session: Session, rule: LightRule, department_id: int, where: ColumnElement[bool] | None,
    *, offset: int, limit: int,
) -> list[int]:
    """The ids of the department's tasks ``where`` picks, ``limit`` from
    ``offset``, in the page's order: worst light first (a cancelled task as
    green), then due date, plan key, measure number, and as the ledger
    orders the rest (deadline, 牵头 first, id)."""
    keys = sorted(session.execute(select(Plan.key, Plan.id)).all())
    plan_rank = case({plan_id: rank for rank, (_key, plan_id) in enumerate(keys)},
                     value=Measure.plan_id)
    query = (
        select(Task.id)
        .join(Measure, Task.measure_id == Measure.id)
        .where(Task.department_id == department_id)
        .order_by(case(_RANKS, value=rule.light), Task.due, plan_rank, Measure.number,
                  Task.deadline, case((Task.role == "lead", 0), else_=1), Task.id)
        .offset(offset)
        .limit(limit)
    )
    if where is not None:
        query = query.where(where)
    return list(session.scalars(query))


def section_groups(
    session: Session, rule: LightRule, department_id: int, name: str
) -> list[ChartGroup]:
    """The department's tasks not cancelled by plan, section and light (what
    :func:`~duban.services.reports.summary_charts.lights_by_section` reads),
    in the chart's order of plan key and section number."""
    lit = (
        select(Plan.key.label("plan"), Section.number.label("number"),
               Section.label.label("label"), Section.title.label("title"),
               Measure.section_id.label("section_id"), rule.light.label("light"))
        .select_from(Task)
        .join(Measure, Task.measure_id == Measure.id)
        .join(Plan, Measure.plan_id == Plan.id)
        .outerjoin(Section, Measure.section_id == Section.id)
        .where(Task.department_id == department_id, Task.state != TaskState.CANCELLED.value)
        .subquery("lit")
    )
    c = lit.c
    groups = []
    for plan, number, label, title, section_id, light, count in session.execute(
        select(c.plan, c.number, c.label, c.title, c.section_id, c.light, func.count())
        .group_by(c.plan, c.number, c.label, c.title, c.section_id, c.light)
    ):
        heading = NO_SECTION if section_id is None else (f"{label}、{title}" if label else title)
        groups.append(ChartGroup(
            plan=plan, section=heading, section_number=number, department=name,
            state=TaskState.ASSIGNED, light=Light(light), assigned_on=rule.as_of, weight=count,
        ))
    groups.sort(key=lambda g: (g.plan, g.section_number or 0))
    return groups


def overdue_trend(
    session: Session, rule: LightRule, department_id: int, zone: tzinfo
) -> list[tuple[date, int]]:
    """:func:`~duban.services.reports.summary_charts.overdue_trend` of the
    department's tasks: the tasks not cancelled past due by the rule's day
    that were overdue on some day, by due date and day of 报结 (none while
    open, or done without one), counted day by day."""
    mine = [Task.department_id == department_id, Task.state != TaskState.CANCELLED.value]
    first = session.scalar(select(func.min(Task.assigned_at)).where(*mine))
    if first is None:
        return []
    done = Task.state.in_(_DONE)
    submitted_on = case((done, type_coerce(rule.local_day(Task.submitted_at), Date)),
                        else_=None)
    late = (
        select(Task.due.label("due"), submitted_on.label("submitted_on"))
        .where(*mine, Task.due < rule.as_of,
               or_(~done, Task.submitted_at.is_(None), submitted_on > Task.due))
        .subquery("late")
    )
    counted: Counter[tuple[date, date | None]] = Counter()
    for due, on, count in session.execute(
        select(late.c.due, late.c.submitted_on, func.count())
        .group_by(late.c.due, late.c.submitted_on)
    ):
        counted[(due, on)] += count
    days = trend_days(rule.as_of, first.astimezone(zone).date())
    return [(day, sum(n for (due, on), n in counted.items()
                      if due < day and (on is None or on > day))) for day in days]
