"""The coordinator's work queue and 催办 by hand, on SQLite and PostgreSQL.

A manual 催办 is a notice of its own rung (``manual_urge@<day>``): it goes
through the outbox to the department's liaison with the coordinator's note,
is in the escalation log, happens at most once per task and day, and leaves
the automatic ladder alone — the sweep still sends its 催办 and 督办 on their
days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError
from duban.domain.org import OfficeHours
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar
from duban.services.desk.queue import work_queue
from duban.services.desk.urge import urge_now
from duban.services.reports.escalation_log import escalation_log
from duban.services.rounds.daily import RoundTools, run_round
from duban.services.tasks import extensions, lifecycle
from models import Department, Notice, Task
from notifications.render import render
from tests.db.conftest import World, at
from tests.db.outbox_world import CLOCK, ZONE, RecordingSender, add_contacts, delivery_context
from tests.paths import ROOT


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return build_work_calendar([])


def _tools(calendar: WorkCalendar, sender: RecordingSender) -> RoundTools:
    def render_message(template: str, context: object) -> object:
        return render(template, context, templates_dir=ROOT / "templates")  # type: ignore[arg-type]

    return RoundTools(
        calendar=calendar,
        hours=OfficeHours(time(9), time(18)),
        clock=CLOCK,
        sender=sender,
        render=render_message,  # type: ignore[arg-type]
        context=delivery_context(calendar),
    )


def _liaison_url(session_factory: sessionmaker[Session], task_id: int) -> str:
    with session_factory() as session:
        task = session.get(Task, task_id)
        assert task is not None
        return f"mailto://liaison-{task.department_id}"


def test_the_queue_sorts_each_section_by_urgency_and_counts_a_task_once(
    session_factory: sessionmaker[Session], world: World, calendar: WorkCalendar
) -> None:
    now = at("2016-01-04", 10)
    # lead: acknowledged and reported; support: submitted; district: never acknowledged
    # (overdue since 2015-12-17); single: acknowledged, never reported (overdue since
    # 12-31); later (due 2017): acknowledged, no report since → missing reports.
    for task_id in (world.lead, world.single, world.later):
        lifecycle.acknowledge(task_id, department=_dept(session_factory, task_id),
                              now=at("2015-03-03"), session_factory=session_factory)
    lifecycle.report(world.lead, department=_dept(session_factory, world.lead), note="进展",
                     now=at("2015-12-30"), session_factory=session_factory)
    lifecycle.acknowledge(world.support, department="珠海市民政局", now=at("2015-03-03"),
                          session_factory=session_factory)
    lifecycle.submit(world.support, department="珠海市民政局", note="已完成",
                     now=at("2015-12-10"), session_factory=session_factory)
    extensions.request_extension(world.lead, department=_dept(session_factory, world.lead),
                                new_due=date(2016, 3, 31), reason="需要更多时间",
                                now=at("2015-12-30"), calendar=calendar,
                                session_factory=session_factory)
    queue = work_queue(session_factory, now=now, calendar=calendar, zone=ZONE)
    # district overdue since 12-17 (11 working days) before single (since 12-31: 1) and
    # lead (due 12-31, extension pending: still overdue).
    assert [t.task_id for t in queue.overdue] == [world.district, world.lead, world.single]
    district = queue.overdue[0]
    assert district.why == "逾期 11 个工作日"
    assert district.also == ["交办 211 个工作日未签收"]  # counted once, in 已逾期
    assert queue.unacknowledged == []
    assert [t.task_id for t in queue.missing_reports] == [world.later]
    assert queue.missing_reports[0].why.startswith("缺报 3 期进度")
    assert [s.task_id for s in queue.submissions] == [world.support]
    assert [x.task_id for x in queue.extensions] == [world.lead]
    assert queue.counts() == {"overdue": 3, "unacknowledged": 0, "missing_reports": 1,
                              "submissions": 1, "extensions": 1, "failed": 0}


def test_a_task_unacknowledged_after_the_ack_reminder_is_in_the_queue(
    session_factory: sessionmaker[Session], world: World, calendar: WorkCalendar
) -> None:
    # Assigned Monday 2015-03-02; the 签收提醒 falls due two working days later.
    on_the_day = work_queue(session_factory, now=at("2015-03-04", 10), calendar=calendar,
                            zone=ZONE)
    assert on_the_day.unacknowledged == []
    later = work_queue(session_factory, now=at("2015-03-09", 10), calendar=calendar, zone=ZONE)
    assert {t.task_id for t in later.unacknowledged} == {
        world.lead, world.support, world.district, world.later, world.single
    }
    assert later.unacknowledged[0].why == "交办 5 个工作日未签收"


def _dept(session_factory: sessionmaker[Session], task_id: int) -> str:
    with session_factory() as session:
        return session.scalars(
            select(Department.name).join(Task, Task.department_id == Department.id)
            .where(Task.id == task_id)
        ).one()


def test_a_manual_urge_reaches_the_liaison_with_the_note_and_the_ladder_goes_on(
    session_factory: sessionmaker[Session], world: World, calendar: WorkCalendar
) -> None:
    add_contacts(session_factory)
    sender = RecordingSender()
    tools = _tools(calendar, sender)
    with session_factory.begin() as session:  # the ladder so far is done
        session.execute(update(Task).values(next_action_at=at("2015-12-30")))
    run_round(session_factory, now=at("2015-12-30"), tools=tools)
    sender.sent.clear()

    now = at("2015-12-30", 14)
    outcome = urge_now([world.single, world.support], actor="督办科(张科长)",
                       note="请于本周内报结", now=now, session_factory=session_factory)
    assert outcome.urged == [world.single, world.support] and outcome.skipped == []
    again = urge_now([world.single], actor="督办科(张科长)", now=now,
                     session_factory=session_factory)
    assert again.urged == [] and again.skipped == [(world.single, "今天已催办过")]
    run_round(session_factory, now=now, tools=tools, sweep=False)
    messages = sender.to(_liaison_url(session_factory, world.single))
    assert len(messages) == 1
    assert "督办科催办" in messages[0].title and "督办科意见：请于本周内报结" in messages[0].text
    assert "如仍未办理，将于 2016-01-04 发出催办" in messages[0].text  # the ladder's next rung
    assert not sender.to("mailto://coordinator")  # to the liaison only

    log = {(e.task, e.step) for e in escalation_log(session_factory, zone=ZONE)}
    assert (world.single, "manual_urge") in log
    entry = next(e for e in escalation_log(session_factory, zone=ZONE)
                 if e.task == world.single)
    assert entry.step_label == "督办科催办" and entry.note == "请于本周内报结"
    assert entry.requested_by == "督办科(张科长)" and entry.delivered

    # The next day the automatic 催办 still comes (2016-01-01 was a holiday).
    sender.sent.clear()
    run_round(session_factory, now=at("2016-01-04"), tools=tools)
    with session_factory() as session:
        steps = set(session.scalars(select(Notice.step).where(Notice.task_id == world.single)))
    assert {"manual_urge@2015-12-30", "urge@2015-12-31"} <= steps
    assert any("催办通知" in m.title or "催办" in m.title
               for m in sender.to(_liaison_url(session_factory, world.single)))
    # And another manual 催办 on another day is a rung of its own.
    assert urge_now([world.single], actor="督办科(张科长)", now=at("2016-01-05", 10),
                    session_factory=session_factory).urged == [world.single]


def test_a_closed_task_is_not_urged_and_nothing_selected_is_an_error(
    session_factory: sessionmaker[Session], world: World
) -> None:
    lifecycle.acknowledge(world.support, department="珠海市民政局", now=at("2015-03-03"),
                          session_factory=session_factory)
    lifecycle.submit(world.support, department="珠海市民政局", note="已完成",
                     now=at("2015-12-10"), session_factory=session_factory)
    outcome = urge_now([world.support, 999_999], actor="督办科", now=at("2015-12-30"),
                       session_factory=session_factory)
    assert outcome.urged == []
    assert outcome.skipped == [(world.support, "已报结,无需催办"), (999_999, "找不到该任务")]
    with pytest.raises(DubanError, match="请先选择"):
        urge_now([], actor="督办科", now=at("2015-12-30"), session_factory=session_factory)
    with pytest.raises(DubanError, match="不能超过 500 字"):
        urge_now([world.lead], actor="督办科", note="催" * 501,
                 now=datetime(2015, 12, 30, 2, tzinfo=UTC), session_factory=session_factory)
    with session_factory() as session:
        assert not session.scalars(select(Notice).where(Notice.step.like("manual%"))).all()
