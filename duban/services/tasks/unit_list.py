"""A unit's own task list (its page behind its link), one tab and one page at
a time, and the read-only list of its supporters' tasks, a page at a time.

The database counts the tabs and orders and pages the tasks: an open task is
overdue exactly when it is past its due date (see
:func:`duban.domain.status.assess`), so neither needs a task's status in
Python. Only the page shown is read in full
(:func:`duban.services.tasks.queries.task_views`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.workdays import WorkCalendar
from duban.services.accounts.links import watched_by
from duban.services.paging import Page
from duban.services.tasks.queries import task_views
from duban.services.tasks.views import TaskView
from models import Measure, Task

# The tabs of the list: open work first; a submitted, approved or cancelled
# task stays visible under its own tab.
TABS = {"open": "待办理", "submitted": "已报结", "approved": "已办结", "cancelled": "已撤销"}
# Within the open tab: returned first, then overdue, then by due date.
STATE_ORDER = {TaskState.RETURNED: 0, TaskState.ASSIGNED: 1}
_OPEN = [s.value for s in OPEN_STATES]
# What a lead department follows of its supporters: their open and submitted tasks.
_WATCHED = [*_OPEN, TaskState.SUBMITTED.value]


def tab_of(state: TaskState) -> str:
    if state in OPEN_STATES:
        return "open"
    return state.value if state.value in TABS else "open"


def _tab_states(tab: str) -> list[str]:
    return [s.value for s in TaskState if tab_of(s) == tab]


@dataclass
class UnitList:
    """One tab's page of a unit's tasks, with every tab's count and the
    open tab's overdue and returned tasks."""

    tab: str
    page: Page[TaskView]
    counts: dict[str, int]
    overdue: int
    returned: int


def _overdue(as_of: date) -> ColumnElement[bool]:
    """An open task past its due date on ``as_of`` (status overdue, light red)."""
    return and_(Task.state.in_(_OPEN), Task.due < as_of)


def _order(tab: str, as_of: date) -> list[Any]:
    if tab == "open":
        rank = case(
            *((Task.state == state.value, n) for state, n in STATE_ORDER.items()), else_=2
        )
        return [rank, case((Task.due < as_of, 0), else_=1), Task.due, Task.id]
    return [Task.due.desc(), Task.id.desc()]


def unit_list(
    session_factory: sessionmaker[Session],
    *,
    department_id: int,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
    tab: str,
    offset: int,
    limit: int,
) -> UnitList:
    """The unit's tasks of ``tab`` (open when unknown), ``limit`` from
    ``offset``, as of ``as_of``: the open tab returned first, then overdue,
    then by due date and id; the others latest due date first."""
    tab = tab if tab in TABS else "open"
    mine = Task.department_id == department_id
    with session_factory() as session:
        by_state = dict(
            session.execute(select(Task.state, func.count()).where(mine).group_by(Task.state)).all()
        )
        overdue = session.scalar(select(func.count()).where(mine, _overdue(as_of))) or 0
        shown = list(session.scalars(
            select(Task.id).where(mine, Task.state.in_(_tab_states(tab)))
            .order_by(*_order(tab, as_of)).offset(offset).limit(limit)
        ))
    counts = {name: 0 for name in TABS}
    for state, count in by_state.items():
        counts[tab_of(TaskState(state))] += count
    views = task_views(session_factory, shown, as_of=as_of, calendar=calendar, zone=zone)
    return UnitList(
        tab=tab,
        page=Page(views, counts[tab], offset, limit),
        counts=counts,
        overdue=overdue,
        returned=by_state.get(TaskState.RETURNED.value, 0),
    )


def watched_list(
    session_factory: sessionmaker[Session],
    *,
    department_id: int,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
    offset: int,
    limit: int,
) -> Page[TaskView]:
    """The open and submitted tasks of the supporting units of the measures
    ``department_id`` leads (read-only for it, see
    :func:`~duban.services.accounts.links.watched_by`), ``limit`` from
    ``offset``: overdue first, then by due date, measure number and id."""
    led = select(Task.measure_id).where(Task.department_id == department_id, Task.role == "lead")
    # The measures it leads, said outright (watched_by implies it), let the
    # database start from the unit's own tasks instead of scanning every task.
    where = [Task.measure_id.in_(led), watched_by(department_id), Task.state.in_(_WATCHED)]
    with session_factory() as session:
        total = session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
        shown = list(session.scalars(
            select(Task.id).join(Measure, Measure.id == Task.measure_id).where(*where)
            .order_by(case((_overdue(as_of), 0), else_=1), Task.due, Measure.number, Task.id)
            .offset(offset).limit(limit)
        ))
    views = task_views(session_factory, shown, as_of=as_of, calendar=calendar, zone=zone)
    return Page(views, total, offset, limit)
