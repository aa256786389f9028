"""Plans filed in December 2026 run into years whose holidays are not yet published.

A small plan with 2027 deadlines is assigned on 2026-12-07 with a calendar that
knows 2027 (a test fixture) but not 2028, and replayed to 2027-12-31: every
round runs, every department gets its 交办 and reminders, and the steps that
need 2028 wait (待日历公布) until its data arrives — then they are dated and sent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.plan_parser import parse_plan
from duban.domain.workdays import WorkCalendar
from duban.services.accounts.directory import directory_from_db
from duban.services.calendar.data import package_notices, read_notice_file
from duban.services.ladder.outlook import next_steps
from duban.services.outbox.message import compose
from duban.services.plans.assignment import assign_measure
from duban.services.plans.importer import import_plan
from duban.services.plans.to_assign import measures_to_run
from duban.services.reports.ics import department_ics
from duban.services.reports.ledger import build_ledger
from duban.services.rounds.daily import RoundTools, replay
from duban.services.tasks.queries import list_tasks
from models import Delivery, Notice, Task
from notifications.render import render
from tests.db.outbox_world import add_contacts, liaison_url
from tests.db.test_reminders import ZONE, RecordingSender
from tests.db.test_reminders import tools as linked_tools
from tests.paths import FIXTURES, ROOT

CALENDARS = FIXTURES / "calendar"
ASSIGNED = datetime(2026, 12, 7, 9, 0, tzinfo=ZONE)

PLAN_2027 = "\n".join(
    [
        "关于做好2027年社会建设重点工作的实施方案(测试)",
        "珠委办〔2026〕88号",
        "",
        "一、重点任务",
        "1.推进网格化管理。2027年6月底前,网格化管理全面推开。(市委社管部牵头,市民政局配合)",
        "2.推进家庭医生签约。到2027年,家庭医生签约率达到80%以上。(市卫计局牵头,市财政局配合)",
        "3.办好社区教育。到2027年,社区学校覆盖率达到90%。(市教育局牵头)",
    ]
)


def tools(calendar: WorkCalendar, sender: RecordingSender) -> RoundTools:
    """Round tools whose messages carry no signed link (signing is not under test)."""
    linked = linked_tools(calendar, sender)
    return replace(linked, context=replace(linked.context, base_url=None))


def calendar_with(*years: int) -> WorkCalendar:
    """The package's years plus the test fixtures of ``years`` (never 2028 unless asked)."""
    notices = [n for n in package_notices() if n.year not in years]
    notices += [read_notice_file(CALENDARS / f"{year}.yaml") for year in years]
    return WorkCalendar(notices, missing_year_hint=str(CALENDARS))


def assign_plan_2027(session_factory: sessionmaker[Session], calendar: WorkCalendar) -> str:
    """Import and assign the small plan as of 2026-12-07; contacts for everyone."""
    with session_factory() as session:
        directory = directory_from_db(session=session)
    draft = parse_plan(PLAN_2027, known=directory.knows, source_name="plan-2027.txt")
    key = import_plan(draft, session_factory=session_factory, source_text=PLAN_2027).key
    add_contacts(session_factory)
    for ref in measures_to_run(session_factory, plan=key, measure=None):
        assign_measure(
            session_factory, plan=key, measure=ref.number, now=ASSIGNED.astimezone(UTC),
            calendar=calendar,
        )
    return key


def received(
    sender: RecordingSender, session_factory: sessionmaker[Session]
) -> dict[int, Counter[str]]:
    """Steps each task's own liaison received, by task id."""
    with session_factory() as session:
        tasks = session.scalars(select(Task)).all()
        by_url = {liaison_url(t.department_id): t.department_id for t in tasks}
        owner = {t.id: t.department_id for t in tasks}
    got: dict[int, Counter[str]] = {t: Counter() for t in owner}
    for url, message in sender.sent:
        for entry in message.steps:
            step, task_id = entry.split("#")
            if by_url.get(url) == owner[int(task_id)]:
                got[int(task_id)][step] += 1
    return got


def test_a_plan_into_an_unpublished_year_runs_every_round_and_waits_only_for_what_needs_it(
    session_factory: sessionmaker[Session], synced_directory: None
) -> None:
    calendar = calendar_with(2027)
    assign_plan_2027(session_factory, calendar)
    sender = RecordingSender()
    rounds = replay(
        session_factory, start=ASSIGNED.date(), end=date(2027, 12, 31),
        tools=tools(calendar, sender),
    )
    assert [r.sweep.errors for r in rounds if r.sweep.errors] == []  # no round failed

    got = received(sender, session_factory)
    with session_factory() as session:
        tasks = {t.id: t for t in session.scalars(select(Task))}
    assert len(tasks) == 5
    for task_id, task in tasks.items():
        steps = got[task_id]
        # Every department: its 交办, a 签收提醒 and both 到期提醒.
        assert steps["assigned"] == 1 and steps["ack_reminder"] == 1, (task.named_as, steps)
        assert steps["due_reminder_10"] == 1 and steps["due_reminder_3"] == 1, steps
        # Quarterly reports of Q4 2026 … Q3 2027 (Q4 2027's deadline is in 2028).
        quarters = sum(
            date(2026, 12, 7) < end <= min(task.due, date(2027, 9, 30))
            for end in (date(2026, 12, 31), date(2027, 3, 31), date(2027, 6, 30), date(2027, 9, 30))
        )
        assert steps["report_due"] == quarters and steps["report_missing"] == quarters, steps
        if task.due < date(2027, 12, 31):
            assert steps["urge"] == 1, steps  # overdue within 2027: the ladder runs
            assert task.calendar_wait_year is None
        else:
            # Due at the end of 2027: 催办 and 督办 fall in 2028, not yet published.
            assert steps["urge"] == 0, steps
            assert task.calendar_wait_year == 2028 and task.next_action_at is None
    waiting = [t for t in tasks.values() if t.due == date(2027, 12, 31)]
    assert len(waiting) == 2
    with session_factory() as session:
        for delivery in session.scalars(select(Delivery).where(Delivery.status == "sent")):
            assert calendar.is_workday(delivery.sent_at.astimezone(ZONE).date())  # type: ignore[union-attr]
        reminder = session.scalar(
            select(Delivery)
            .join(Delivery.items)
            .join(Notice)
            .where(Notice.task_id == waiting[0].id, Notice.step.startswith("due_reminder_3"))
        )
        assert reminder is not None
        context = tools(calendar, sender).context
        moment = datetime(2027, 12, 28, 9, tzinfo=ZONE)
        template, values = compose(session, reminder, context, moment)
    # The message says when the next rung comes: not yet known.
    text = render(template, values, templates_dir=ROOT / "templates").text
    assert "将发出催办（日期待日历公布）" in text

    # The department's page, the ledger and the task list show the wait.
    ahead = next_steps(
        waiting[0].id, today=date(2027, 12, 31), calendar=calendar, zone=ZONE,
        session_factory=session_factory,
    )
    pending = {("待日历公布", "报送提醒"), ("待日历公布", "催办")}
    assert {(s.when, s.label) for s in ahead} >= pending
    ledger = build_ledger(session_factory, as_of=date(2027, 12, 31), calendar=calendar)
    row = next(r for r in ledger.rows if r.task_id == waiting[0].id)
    # Q4 2027 is not (yet) a missing report: its deadline is not known.
    assert row.next_step == "待日历公布 报送提醒" and row.missing_reports == 4
    feed = department_ics(
        session_factory, department=waiting[0].department_id, calendar=calendar,
        now=datetime(2027, 12, 31, 9, tzinfo=ZONE),
    )
    assert "报送截止:待日历公布" in feed.replace("\r\n ", "")
    views = list_tasks(session_factory, as_of=date(2027, 12, 31), calendar=calendar)
    assert {v.status.value for v in views if v.id == waiting[0].id} == {"due_soon"}

    # 2028's data arrives: the round that first sees it dates and sends what waited.
    # Its New Year holiday starts on 2027-12-31, so that due date becomes 2027-12-30
    # (the department is told once) and the 催办 counts from it.
    calendar = calendar_with(2027, 2028)
    sender = RecordingSender()
    replay(
        session_factory, start=date(2028, 1, 3), end=date(2028, 1, 20),
        tools=tools(calendar, sender),
    )
    got = received(sender, session_factory)
    with session_factory() as session:
        for task in waiting:
            assert got[task.id]["urge"] == 1 and got[task.id]["due_moved"] == 1, got[task.id]
            moved = session.get(Task, task.id)
            assert moved is not None and moved.calendar_wait_year is None
            assert moved.due == date(2027, 12, 30)
        urged = session.scalars(
            select(Notice.due_at).where(Notice.step == "urge@2027-12-30")
        ).all()
    assert {d.astimezone(ZONE).date() for d in urged} == {date(2028, 1, 3)}


def test_fixture_calendars_are_test_data_only() -> None:
    for path in sorted(Path(CALENDARS).glob("*.yaml")):
        assert "TEST FIXTURE" in path.read_text(encoding="utf-8").splitlines()[0]
    with pytest.raises(Exception, match="2028"):
        calendar_with(2027).add_workdays(date(2027, 12, 31), 1)
