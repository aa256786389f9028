"""A unit's own task list (its page behind its link), one tab and one page at
a time.

Every task of the unit is read as a light (:mod:`duban.services.tasks.lights`)
to count the tabs and order them; only the page shown is read in full
(:func:`duban.services.tasks.queries.task_views`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo

from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.status import TaskStatus
from duban.domain.workdays import WorkCalendar
from duban.services.paging import Page
from duban.services.tasks.lights import LitTask, light_tasks
from duban.services.tasks.queries import task_views
from duban.services.tasks.views import TaskView
from models import Task

# The tabs of the list: open work first; a submitted, approved or cancelled
# task stays visible under its own tab.
TABS = {"open": "待办理", "submitted": "已报结", "approved": "已办结", "cancelled": "已撤销"}
# Within the open tab: returned first, then overdue, then by due date.
STATE_ORDER = {TaskState.RETURNED: 0, TaskState.ASSIGNED: 1}


def tab_of(state: TaskState) -> str:
    if state in OPEN_STATES:
        return "open"
    return state.value if state.value in TABS else "open"


@dataclass
class UnitList:
    """One tab's page of a unit's tasks, with every tab's count and the
    open tab's overdue and returned tasks."""

    tab: str
    page: Page[TaskView]
    counts: dict[str, int]
    overdue: int
    returned: int


def _order(tab: str, tasks: list[LitTask]) -> list[LitTask]:
    if tab == "open":
        return sorted(tasks, key=lambda t: (
            STATE_ORDER.get(t.state, 2), t.status is not TaskStatus.OVERDUE, t.due, t.task_id))
    return sorted(tasks, key=lambda t: (t.due, t.task_id), reverse=True)


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
    ``offset``, as of ``as_of``."""
    tab = tab if tab in TABS else "open"
    with session_factory() as session:
        tasks = light_tasks(session, where=[Task.department_id == department_id], as_of=as_of,
                            calendar=calendar, zone=zone)
    grouped: dict[str, list[LitTask]] = {name: [] for name in TABS}
    for task in tasks:
        grouped[tab_of(task.state)].append(task)
    chosen = _order(tab, grouped[tab])
    shown = [t.task_id for t in chosen[offset:offset + limit]]
    views = task_views(session_factory, shown, as_of=as_of, calendar=calendar, zone=zone)
    return UnitList(
        tab=tab,
        page=Page(views, len(chosen), offset, limit),
        counts={name: len(rows) for name, rows in grouped.items()},
        overdue=sum(1 for t in grouped["open"] if t.status is TaskStatus.OVERDUE),
        returned=sum(1 for t in grouped["open"] if t.state is TaskState.RETURNED),
    )
