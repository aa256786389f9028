"""The reference plan replayed from assignment to two years past its first
deadline: every department receives exactly what the policy says, on working
days in office hours, and the escalation log tells the same story.

The expectation is computed independently of the sweep: for a task nobody
acts on, the ladder's steps are known from its dates alone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.status import StatusPolicy, report_periods
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar
from duban.services.plans.assignment import assign_measure
from duban.services.plans.files import parse_plan_file
from duban.services.plans.importer import import_plan
from duban.services.plans.to_assign import measures_to_run
from duban.services.reports.escalation_log import escalation_log
from duban.services.rounds.daily import replay
from models import Contact, ContactChannel, Delivery, Department, Task
from tests.db.test_reminders import RecordingSender, tools
from tests.paths import REFERENCE_PLAN

ZONE = ZoneInfo("Asia/Shanghai")
START, END = date(2014, 9, 1), date(2017, 12, 29)


def expected_steps(task: Task, calendar: WorkCalendar, end: date) -> Counter[str]:
    """What the default ladder sends for a task nobody acts on, by ``end``."""
    assigned = task.assigned_at.astimezone(ZONE).date()
    steps: Counter[str] = Counter({"assigned": 1})
    if calendar.add_workdays(assigned, 2) <= min(end, task.due):
        steps["ack_reminder"] += 1
    for period in report_periods(assigned, task.due, calendar, StatusPolicy()):
        if calendar.add_workdays(period.deadline, -3) <= end:
            steps["report_due"] += 1
        if calendar.add_workdays(period.deadline, 1) <= end:
            steps["report_missing"] += 1
    for name, days in (("due_reminder_10", -10), ("due_reminder_3", -3)):
        on = calendar.add_workdays(task.due, days)
        if assigned <= on <= end:
            steps[name] += 1
    for name, days in (("urge", 1), ("escalate_yellow", 5), ("escalate_red", 10)):
        if calendar.add_workdays(task.due, days) <= end:
            steps[name] += 1
    return steps


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_whole_plan_replay_sends_exactly_what_the_policy_says(
    session_factory: sessionmaker[Session], synced_directory: None
) -> None:
    calendar = build_work_calendar([])
    draft, text = parse_plan_file(REFERENCE_PLAN)
    key = import_plan(draft, session_factory=session_factory, source_text=text).key
    with session_factory.begin() as session:
        for department in session.scalars(select(Department)):
            contact = Contact(
                key=f"{department.id}/liaison",
                department_id=department.id,
                role="liaison",
                name=f"{department.name}联络员",
                active=True,
            )
            contact.channels.append(
                ContactChannel(
                    position=1,
                    url=f"mailto://liaison-{department.id}",
                    scheme="mailto",
                    url_privacy=f"mailto://liaison-{department.id}",
                    active=True,
                )
            )
            session.add(contact)
    assigned_at = datetime.combine(START, time(9), ZONE).astimezone(UTC)
    for ref in measures_to_run(session_factory, plan=key, measure=None):
        if ref.assignable:
            assign_measure(
                session_factory, plan=key, measure=ref.number, now=assigned_at, calendar=calendar
            )
    sender = RecordingSender()
    replay(session_factory, start=START, end=END, tools=tools(calendar, sender))

    # (task, department whose liaison received it) -> steps
    received: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for url, message in sender.sent:
        department_id = int(url.rsplit("-", 1)[1])
        for entry in message.steps:
            step, task_id = entry.split("#")
            received[(int(task_id), department_id)][step] += 1
    with session_factory() as session:
        tasks = session.scalars(select(Task)).all()
        lead_of = {(t.measure_id, t.deadline): t.department_id for t in tasks if t.role == "lead"}
        mismatches = []
        for task in tasks:
            expected = expected_steps(task, calendar, END)
            # 督办 (yellow) goes to the head, the coordinators and, for a supporting
            # task, the lead department's liaison; red goes to the supervisors.
            yellow = expected.pop("escalate_yellow", 0)
            expected.pop("escalate_red", None)
            own = received[(task.id, task.department_id)]
            if own != expected:
                mismatches.append((task.id, task.role, task.due, dict(expected), dict(own)))
            if task.role == "supporting":
                lead = lead_of[(task.measure_id, task.deadline)]
                if received[(task.id, lead)] != Counter(
                    {"escalate_yellow": yellow} if yellow else {}
                ):
                    mismatches.append(
                        (task.id, "lead copy", yellow, dict(received[(task.id, lead)]))
                    )
        assert mismatches == []
        for delivery in session.scalars(select(Delivery).where(Delivery.status == "sent")):
            local = delivery.sent_at.astimezone(ZONE)  # type: ignore[union-attr]
            assert calendar.is_workday(local.date()) and time(9) <= local.time() < time(18)
    log = escalation_log(session_factory, zone=ZONE)
    urged = {e.task for e in log if e.step == "urge"}
    assert urged == {t.id for t in tasks if calendar.add_workdays(t.due, 1) <= END}
