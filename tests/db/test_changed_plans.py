"""A plan changes after its tasks were assigned: a lead moves, a date moves.

The re-import says what will happen to the tasks (stay / replaced / cancelled);
assigning again cancels the tasks the plan no longer yields (已撤销), links
each to its successor, carries a department's progress over to its own
successor, and tells each department once — through a real SMTP server —
after which the old tasks get nothing more, whatever the replay does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.assignment import Fate
from duban.domain.org import OfficeHours
from duban.domain.plan_parser import parse_plan
from duban.ops.mail_sink import MailSink, text_of
from duban.services.accounts.directory import directory_from_db
from duban.services.calendar.data import build_work_calendar
from duban.services.desk.urge import urge_now
from duban.services.ladder.core import OrgClock
from duban.services.outbox.contract import DeliveryContext
from duban.services.outbox.route import route
from duban.services.plans.assignment import AssignResult, assign_measure
from duban.services.plans.fates import fate_lines
from duban.services.plans.importer import import_plan
from duban.services.plans.withdrawal import cancelled_since
from duban.services.reports.ics import department_ics
from duban.services.reports.ledger import build_ledger
from duban.services.reports.scorecard import build_scorecard
from duban.services.rounds.daily import RoundTools, replay
from duban.services.tasks import lifecycle
from duban.services.tasks.detail import get_task
from duban.services.tasks.queries import measure_lights
from models import Contact, ContactChannel, Delivery, DeliveryItem, Department, Notice, Task
from notifications.render import render
from notifications.send import Sender
from tests.db.test_reminders import ZONE
from tests.paths import ROOT

SOCIAL = "中共珠海市委社会工作部"  # 市委社管部
CIVIL = "珠海市民政局"
HEALTH = "珠海市卫生和计划生育局"  # 市卫计局
FINANCE = "珠海市财政局"

HEAD = ["关于加快社会建设的实施方案(测试)", "珠委办〔2015〕9号", "", "一、重点任务"]
BEFORE = "\n".join(
    [
        *HEAD,
        "1.推进网格化管理。2015年6月底前,网格化管理全面推开。(市委社管部牵头,市民政局配合)",
        "2.推进家庭医生签约。到2015年,家庭医生签约率达到80%以上。(市卫计局牵头,市财政局配合)",
    ]
)
AFTER = "\n".join(
    [
        *HEAD,
        "1.推进网格化管理。2015年6月底前,网格化管理全面推开。(市民政局牵头)",
        "2.推进家庭医生签约。2015年9月底前,家庭医生签约率达到80%以上。(市卫计局牵头,市财政局配合)",
    ]
)
ASSIGNED = datetime(2015, 3, 2, 9, 0, tzinfo=ZONE)
CHANGED = datetime(2015, 4, 13, 9, 0, tzinfo=ZONE)
CALENDAR = build_work_calendar([])


def _import(session_factory: sessionmaker[Session], text: str, *, dry_run: bool = False):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        directory = directory_from_db(session=session)
    draft = parse_plan(text, known=directory.knows, source_name="plan.txt")
    return import_plan(draft, session_factory=session_factory, source_text=text, dry_run=dry_run)


def _assign(session_factory: sessionmaker[Session], key: str, now: datetime) -> list[AssignResult]:
    return [
        assign_measure(session_factory, plan=key, measure=n, now=now.astimezone(UTC),
                       calendar=CALENDAR)
        for n in (1, 2)
    ]


def _contacts(session_factory: sessionmaker[Session], sink: MailSink) -> dict[str, str]:
    """A liaison with a real mailbox for each department; address by department name."""
    addresses: dict[str, str] = {}
    with session_factory.begin() as session:
        for department in session.scalars(select(Department)):
            if department.name not in (SOCIAL, CIVIL, HEALTH, FINANCE):
                continue
            address = f"liaison-{department.id}@example.gov.cn"
            addresses[department.name] = address
            contact = Contact(key=f"l{department.id}", department_id=department.id,
                              role="liaison", name=f"联络员{department.id}", active=True)
            url = sink.url(address)
            contact.channels.append(ContactChannel(position=1, url=url, url_privacy=address,
                                                   scheme="mailto", active=True))
            session.add(contact)
    return addresses


def _tools(sender: Sender) -> RoundTools:
    clock = OrgClock(ZONE)
    return RoundTools(
        calendar=CALENDAR,
        hours=OfficeHours(),
        clock=clock,
        sender=sender,
        render=partial(render, templates_dir=ROOT / "templates"),
        context=DeliveryContext(
            base_url=None, sender_name="督办科", calendar=CALENDAR, clock=clock
        ),
    )


def _task(session_factory: sessionmaker[Session], measure: int, department: str,
          deadline: date) -> Task:
    with session_factory() as session:
        task = session.scalars(
            select(Task).join(Department)
            .where(Department.name == department, Task.measure.has(number=measure),
                   Task.deadline == deadline)
        ).one()
        session.expunge(task)
        return task


def test_a_changed_lead_and_a_changed_date_cancel_the_old_tasks_with_one_notice_each(
    session_factory: sessionmaker[Session], synced_directory: None
) -> None:
    key = _import(session_factory, BEFORE).key
    _assign(session_factory, key, ASSIGNED)
    m2_lead = _task(session_factory, 2, HEALTH, date(2015, 12, 31))
    m1_support = _task(session_factory, 1, CIVIL, date(2015, 6, 30))
    for task, department in ((m2_lead, "市卫计局"), (m1_support, "市民政局")):
        lifecycle.acknowledge(task.id, department=department, now=at(2015, 3, 3),
                              session_factory=session_factory)
    lifecycle.report(m2_lead.id, department="市卫计局", note="已完成签约系统部署",
                     now=at(2015, 4, 1), session_factory=session_factory)

    with MailSink() as sink, Sender() as sender:
        mailbox = _contacts(session_factory, sink)
        replay(session_factory, start=ASSIGNED.date(), end=date(2015, 4, 10),
               tools=_tools(sender))
        before_change = len(sink.messages)
        # Friday evening, a coordinator urges: routed, to go out Monday morning.
        evening = datetime(2015, 4, 10, 19, 0, tzinfo=ZONE)
        assert urge_now([m2_lead.id], actor="督办科", now=evening,
                        session_factory=session_factory).urged == [m2_lead.id]
        tools = _tools(sender)
        assert route(session_factory, now=evening, send_time=tools.send_time).routed == 1

        # The re-import says what will happen, before anything is written.
        preview = _import(session_factory, AFTER, dry_run=True)
        fates = {(f.measure, f.department, f.deadline): f
                 for m in preview.task_fates for f in m.fates}
        social_lead = fates[(1, SOCIAL, date(2015, 6, 30))]
        assert social_lead.fate is Fate.REPLACED and social_lead.successor_department == CIVIL
        assert fates[(1, CIVIL, date(2015, 6, 30))].fate is Fate.REPLACED
        moved = fates[(2, HEALTH, date(2015, 12, 31))]
        assert moved.fate is Fate.REPLACED and moved.successor_deadline == date(2015, 9, 30)
        lines = "\n".join(fate_lines(preview.task_fates))
        assert "撤销,由新任务接替" in lines and f"新交办 {CIVIL}(牵头" in lines
        _import(session_factory, AFTER)

        results = _assign(session_factory, key, CHANGED)
        cancelled = {c.task_id: c for r in results for c in r.cancelled}
        assert len(cancelled) == 4  # m1: lead and support; m2: lead and support
        assert all(c.successor_id is not None for c in cancelled.values())
        assert cancelled[m2_lead.id].carried_reports == 1
        # Read back from the log as `duban assign --deployments` prints it.
        logged = cancelled_since(session_factory, plan=key, numbers=[1, 2],
                                 since=CHANGED.astimezone(UTC))
        assert {(c.task_id, c.successor_id, c.successor, c.reason) for c in logged} == {
            (c.task_id, c.successor_id, c.successor, c.reason) for c in cancelled.values()}
        again = _assign(session_factory, key, CHANGED)  # a rerun cancels nothing twice
        assert [c for r in again for c in r.cancelled] == []

        replay(session_factory, start=CHANGED.date(), end=date(2016, 1, 29),
               tools=_tools(sender))
        after = sink.messages[before_change:]

    with session_factory() as session:
        for task_id, item in cancelled.items():
            task = session.get(Task, task_id)
            assert task is not None and task.state == "cancelled"
            assert task.next_action_at is None and task.replaced_by_id == item.successor_id
            later = session.scalars(
                select(Notice).where(Notice.task_id == task_id,
                                     Notice.created_at >= CHANGED.astimezone(UTC))
            ).all()
            # Exactly one notice after the cancellation: the 任务撤销通知, delivered.
            assert [(n.step, n.status) for n in later] == [("task_cancelled", "sent")], task_id
            sent_after = session.scalars(
                select(Delivery.sent_at).join(DeliveryItem).join(Notice)
                .where(Notice.task_id == task_id, Notice.step != "task_cancelled",
                       Delivery.sent_at >= CHANGED.astimezone(UTC))
            ).all()
            assert sent_after == []  # nothing of the old ladder went out after it
        urge = session.scalars(
            select(Notice).where(Notice.task_id == m2_lead.id, Notice.step.startswith("manual"))
        ).one()
        assert (urge.status, urge.reason) == ("superseded", "任务已撤销")
    # Each department read why, once per cancelled task, by email.
    for department, count in ((SOCIAL, 1), (CIVIL, 1), (HEALTH, 1), (FINANCE, 1)):
        got = [m for m in after if str(m["To"]) == mailbox[department]]
        reasons = sum(text_of(m).count("撤销原因") for m in got)
        assert reasons == count, (department, [str(m["Subject"]) for m in got])
    social = [text_of(m) for m in after if str(m["To"]) == mailbox[SOCIAL]]
    assert len(social) == 1 and "改由珠海市民政局承担" in social[0]

    # The successor carries the department's progress; pages show the link.
    successor = get_task(session_factory, task_id=cancelled[m2_lead.id].successor_id or 0,
                         as_of=date(2015, 4, 13), calendar=CALENDAR)
    assert successor.state.value == "in_progress" and successor.replaces == [m2_lead.id]
    assert any(e.note == "已完成签约系统部署" for e in successor.events)
    old = get_task(session_factory, task_id=m2_lead.id, as_of=date(2015, 4, 13),
                   calendar=CALENDAR)
    assert old.state_label == "已撤销" and old.replaced_by == successor.id
    assert old.events[-1].action == "cancel" and "完成时限改为 2015-09-30" in old.events[-1].note

    # A subscribed calendar drops the old task's events.
    feed = department_ics(session_factory, department=HEALTH, calendar=CALENDAR,
                          now=datetime(2016, 1, 29, 9, tzinfo=ZONE)).replace("\r\n ", "")
    old_event = next(e for e in feed.split("BEGIN:VEVENT")
                     if f"UID:duban-task-{m2_lead.id}-due@" in e)
    assert "STATUS:CANCELLED" in old_event and "【已撤销】" in old_event

    # In the ledger as 已撤销; out of scores and lights.
    ledger = build_ledger(session_factory, as_of=date(2016, 1, 29), calendar=CALENDAR)
    states = {r.task_id: (r.state_label, r.light_label) for r in ledger.rows}
    assert {states[t] for t in cancelled} == {("已撤销", "")}
    summary = {row.name: row for row in ledger.by_department()}
    assert SOCIAL not in summary and summary[HEALTH].tasks == 1  # counted nowhere
    card = build_scorecard(session_factory, as_of=date(2016, 1, 29), calendar=CALENDAR)
    social_score = next(r for r in card.rows if r.department == SOCIAL)
    assert social_score.score is None and social_score.rank is None  # its only task withdrawn
    lights = measure_lights(session_factory, as_of=date(2016, 1, 29), calendar=CALENDAR)
    assert {m.number: m.task_count for m in lights} == {1: 1, 2: 2}


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=ZONE)
