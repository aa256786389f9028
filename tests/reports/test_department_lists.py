"""A lead department's read-only list of its supporters' tasks, paged in the
database, is the task list's own reading of them (same tasks, statuses and
order: overdue first, then by due date, measure and id), whatever the day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import OPEN_STATES, TaskState
from duban.domain.status import TaskStatus
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.queries import list_tasks
from duban.services.tasks.unit_list import watched_list
from models import Task
from tests.reports.conftest import History

DAYS = (date(2015, 3, 1), date(2015, 12, 17), date(2015, 12, 18), date(2016, 1, 16),
        date(2016, 2, 10), date(2018, 1, 2))


def test_a_lead_departments_supporters_list_pages_the_task_lists_reading_of_them(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    calendar = history.calendar
    with session_factory() as session:
        units = list(session.scalars(select(Task.department_id).distinct()))
    watched_any, overdue_seen = False, False
    for day in DAYS:
        for unit in units:
            every = [v for v in list_tasks(session_factory, as_of=day, calendar=calendar,
                                           supporters_of=unit)
                     if v.state in OPEN_STATES or v.state is TaskState.SUBMITTED]
            every.sort(key=lambda v: (v.status is not TaskStatus.OVERDUE, v.due, v.measure, v.id))
            for offset in range(max(len(every), 1)):
                page = watched_list(session_factory, department_id=unit, as_of=day,
                                    calendar=calendar, zone=LOCAL_ZONE, offset=offset, limit=1)
                assert page.entries == every[offset:offset + 1], (day, unit, offset)
                assert page.total == len(every)
            watched_any = watched_any or bool(every)
            overdue_seen = overdue_seen or any(v.status is TaskStatus.OVERDUE for v in every)
    assert watched_any and overdue_seen
