"""Assigning work whose target date has passed (a "十二五"期末 target assigned late)
or is too near for the first reminder: listed before anything is written, and,
once confirmed, given a grace period from assignment — never an immediate 催办."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.plan_parser import parse_plan
from duban.services.accounts.directory import directory_from_db
from duban.services.calendar.data import build_work_calendar
from duban.services.plans.assignment import assign_measure
from duban.services.plans.importer import import_plan
from duban.services.plans.to_assign import late_tasks
from duban.services.rounds.daily import replay
from models import Notice, Task, TaskEvent
from tests.conftest import CliRunner
from tests.db.outbox_world import add_contacts
from tests.db.test_reminders import ZONE, RecordingSender, tools

PLAN = "\n".join(
    [
        "关于推进社区治理的实施方案(测试)",
        "珠委办〔2015〕31号",
        "",
        "一、重点任务",
        "1.完善社区服务。2015年6月底前,社区综合服务设施全覆盖。(市民政局牵头,市财政局配合)",
        "2.推进网格化管理。2015年9月15日前,网格化管理全面推开。(市委社管部牵头)",
        "3.办好社区教育。到2015年,社区学校覆盖率达到90%。(市教育局牵头)",
    ]
)
ASSIGNED = datetime(2015, 9, 1, 9, 0, tzinfo=ZONE)  # a Tuesday
CALENDAR = build_work_calendar([])


def _import(session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session:
        directory = directory_from_db(session=session)
    draft = parse_plan(PLAN, known=directory.knows, source_name="plan.txt")
    return import_plan(draft, session_factory=session_factory, source_text=PLAN).key


def test_late_tasks_are_listed_first_and_start_their_ladder_from_assignment(
    session_factory: sessionmaker[Session], synced_directory: None
) -> None:
    key = _import(session_factory)
    now = ASSIGNED.astimezone(UTC)
    late = [
        item for n in (1, 2, 3)
        for item in late_tasks(session_factory, plan=key, measure=n, now=now, calendar=CALENDAR)
    ]
    # Measure 1 passed (both units), measure 2 within the 10-day lead; measure 3 is fine.
    assert sorted((i.spec.measure, i.passed) for i in late) == [(1, True), (1, True), (2, False)]
    grace = date(2015, 9, 23)  # 15 working days after 2015-09-01 (9-3, 9-4 off; 9-6 on)
    # Only what has passed gets the grace period; a near date is kept.
    assert {(i.spec.measure, i.grace_due) for i in late} == {(1, grace), (2, date(2015, 9, 15))}
    assert "方案时限 2015-06-30已过,将改为 2015-09-23" in late[0].describe()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 0  # nothing written

    add_contacts(session_factory)
    for n in (1, 2, 3):
        assign_measure(session_factory, plan=key, measure=n, now=now, calendar=CALENDAR)
    with session_factory() as session:
        tasks = {(t.measure.number, t.role): t for t in session.scalars(select(Task))}
        lead = tasks[(1, "lead")]
        assert (lead.deadline, lead.due, lead.original_due) == (date(2015, 6, 30), grace, grace)
        assert tasks[(3, "lead")].due == date(2015, 12, 31)  # on time: untouched
        assert tasks[(2, "lead")].due == date(2015, 9, 15)  # near: confirmed, kept
        event = session.scalars(select(TaskEvent).where(TaskEvent.task_id == lead.id)).one()
        assert event.data is not None and event.data["plan_due"] == "2015-06-30"
        assert event.note is not None and "在交办时已过或临近" in event.note
    # Already assigned, so no longer listed as late.
    assert late_tasks(session_factory, plan=key, measure=1, now=now, calendar=CALENDAR) == []

    sender = RecordingSender()
    replay(session_factory, start=ASSIGNED.date(), end=date(2015, 9, 30),
           tools=tools(CALENDAR, sender))
    with session_factory() as session:
        steps = {
            (task_id, step.partition("@")[0], due_at.astimezone(ZONE).date())
            for task_id, step, due_at in session.execute(
                select(Notice.task_id, Notice.step, Notice.due_at).where(Notice.status == "sent")
            )
        }
    overdue_ladder = ("urge", "escalate_yellow", "escalate_red")
    for key, ends in (((1, "lead"), grace), ((1, "supporting"), grace),
                      ((2, "lead"), date(2015, 9, 15))):
        mine = {(step, day) for t, step, day in steps if t == tasks[key].id}
        assert ("assigned", ASSIGNED.date()) in mine
        # Nothing of the overdue ladder before its (new) due date has passed.
        assert all(day > ends for step, day in mine if step in overdue_ladder), mine
    assert ("urge", date(2015, 9, 24)) in {  # the working day after the grace due date
        (step, day) for t, step, day in steps if t == tasks[(1, "lead")].id}


def test_the_cli_lists_late_tasks_and_writes_nothing_without_accept_past(
    tmp_path: Path, migrated_url: str, cli_env: Callable[[str], None], run_cli: CliRunner,
    session_factory: sessionmaker[Session], synced_directory: None,
) -> None:
    cli_env(migrated_url)
    plan = tmp_path / "plan.txt"
    plan.write_text(PLAN, encoding="utf-8")
    assert run_cli("plan", "import", str(plan)).exit_code == 0
    result = run_cli("assign", "--as-of", "2015-09-01")
    assert result.exit_code == 1
    assert "未交办任何任务:以下 3 项任务的完成时限在交办时已过" in result.stderr
    near = "措施2 中共珠海市委社会工作部(牵头):方案时限 2015-09-15临近,不足首次到期提醒的提前量"
    assert near in result.stderr
    assert "确认交办请加 --accept-past" in result.stderr
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 0
