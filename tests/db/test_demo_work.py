"""The demo's departments at work (duban/cli/demo_work.py): every planned
action succeeds in order, and the tasks end in every state the pages show."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.cli.demo_work import SHOWN, plan_work
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar
from duban.services.plans.assignment import assign_measure
from duban.services.plans.files import parse_plan_file
from duban.services.plans.importer import import_plan
from duban.services.tasks.queries import list_tasks
from duban.timeutil import DEFAULT_ZONE
from models import Department, ExtensionRequest, Notice, Task, TaskEvent
from tests.paths import REFERENCE_PLAN

# Assigned later than the demo (2014-09-01): fewer quarters to report, same cases.
START, END = date(2015, 6, 1), date(2016, 1, 29)


def test_the_demo_departments_act_and_leave_every_state(
    session_factory: sessionmaker[Session], synced_directory: None
) -> None:
    calendar: WorkCalendar = build_work_calendar([])
    draft, text = parse_plan_file(REFERENCE_PLAN)
    key = import_plan(draft, session_factory=session_factory, source_text=text).key
    # Measure 8: 24 tasks of 12 departments, due 2015-12-17 and 2017-12-15.
    assign_measure(session_factory, plan=key, measure=8,
                   now=datetime(2015, 6, 1, 1, tzinfo=UTC), calendar=calendar)
    work = plan_work(session_factory, start=START, end=END, calendar=calendar,
                     zone=DEFAULT_ZONE)
    for day in sorted(work):
        for act in work[day]:
            act(datetime.combine(day, datetime.min.time(), UTC).replace(hour=0, minute=30))

    views = list_tasks(session_factory, as_of=END, calendar=calendar)
    states = Counter(v.state.value for v in views)
    assert {"assigned", "acknowledged", "in_progress", "submitted", "approved",
            "returned"} <= set(states), states
    statuses = Counter(v.status.value for v in views)
    assert {"done_on_time", "done_late", "overdue", "not_yet_due"} <= set(statuses), statuses
    shown = [v for v in views if v.department == SHOWN]
    assert "returned" in {v.state.value for v in shown}
    with session_factory() as session:
        returned = session.scalars(select(TaskEvent.note).where(TaskEvent.action == "return"))
        assert "验收报告" in next(iter(returned))
        extensions = Counter(session.scalars(select(ExtensionRequest.status)))
        assert extensions == {"approved": 1, "pending": 1}
        urged = session.scalars(select(Notice.step).where(Notice.step.like("manual_urge@%")))
        assert list(urged) == ["manual_urge@2016-01-27"]
        people = set(session.scalars(
            select(TaskEvent.actor).where(TaskEvent.action == "acknowledge")))
        assert all("(" in actor for actor in people)  # each 签收 names its 经办人
        departments = session.scalar(select(Department.id).where(Department.name == SHOWN))
        assert session.scalar(select(Task.id).where(Task.department_id == departments))
    # Run again: departments have acted, nothing more is planned (the demo rerun is a no-op).
    assert plan_work(session_factory, start=START, end=END, calendar=calendar,
                     zone=DEFAULT_ZONE) == {}
