"""The sweep and the outbox on SQLite and PostgreSQL, with a recording sender.

The real senders (SMTP, WeCom) are tested in tests/notifications and end to
end in tests/e2e; here the seam is our own MessageSender, so these tests
show the ladder's logic: what is sent, to whom, once, and when.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.org import OfficeHours
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar
from duban.services.ladder.core import OrgClock
from duban.services.outbox.contract import DeliveryContext
from duban.services.plans.assignment import assign_measure
from duban.services.plans.files import parse_plan_file
from duban.services.plans.importer import import_plan
from duban.services.rounds.daily import RoundTools, replay, run_round
from duban.services.tasks import lifecycle
from models import Contact, ContactChannel, Delivery, DeliveryItem, Department, Notice, Task
from tests.paths import REFERENCE_PLAN

ZONE = ZoneInfo("Asia/Shanghai")
ASSIGNED = datetime(2015, 9, 1, 9, 0, tzinfo=ZONE)


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    template: str
    steps: tuple[str, ...]


def fake_render(template: str, context: Mapping[str, Any]) -> Message:
    steps = tuple(f"{i['step']}#{i['task_id']}" for i in context["items"])
    return Message(f"[{template}] {context['recipient_name']}", "\n".join(steps), template, steps)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    permanent: bool = False
    error: str | None = None


@dataclass
class RecordingSender:
    """Records every message; URLs in ``failing`` fail (permanently if listed so)."""

    sent: list[tuple[str, Message]] = field(default_factory=list)
    failing: dict[str, bool] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, url: str, message: Any) -> Outcome:
        if url in self.failing:
            permanent = self.failing[url]
            return Outcome(False, permanent, "拒绝" if permanent else "连接被拒绝")
        with self.lock:
            self.sent.append((url, message))
        return Outcome(True)

    def to(self, url: str) -> list[Message]:
        return [m for u, m in self.sent if u == url]


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return build_work_calendar([])


@pytest.fixture
def world(
    session_factory: sessionmaker[Session], synced_directory: None, calendar: WorkCalendar
) -> str:
    """The reference plan with measures 10 and 22 assigned on 2015-09-01 and
    contacts for 市民政局, 香洲区, the coordinators and the supervisors."""
    draft, text = parse_plan_file(REFERENCE_PLAN)
    key = import_plan(draft, session_factory=session_factory, source_text=text).key
    with session_factory.begin() as session:

        def dept(name: str) -> int:
            return session.scalar(select(Department.id).where(Department.name == name))  # type: ignore[return-value]

        for key_, department, role, name, url in [
            ("mz-l", dept("珠海市民政局"), "liaison", "民政联络员", "mailto://mz-liaison"),
            ("mz-h", dept("珠海市民政局"), "head", "民政负责人", "mailto://mz-head"),
            ("xz-l", dept("香洲区"), "liaison", "香洲联络员", "mailto://xz-liaison"),
            ("xz-h", dept("香洲区"), "head", "香洲负责人", "mailto://xz-head"),
            ("co", None, "coordinator", "督办科", "mailto://coordinator"),
            ("su", None, "supervisor", "督查室", "mailto://supervisor"),
        ]:
            contact = Contact(key=key_, department_id=department, role=role, name=name, active=True)
            contact.channels.append(
                ContactChannel(position=1, url=url, url_privacy=url, scheme="mailto", active=True)
            )
            session.add(contact)
    for number in (10, 22):
        assign_measure(
            session_factory,
            plan=key,
            measure=number,
            now=ASSIGNED.astimezone(UTC),
            calendar=calendar,
        )
    return key


def tools(calendar: WorkCalendar, sender: RecordingSender) -> RoundTools:
    return RoundTools(
        calendar=calendar,
        hours=OfficeHours(time(9), time(18)),
        clock=OrgClock(ZONE),
        sender=sender,
        render=fake_render,
        context=DeliveryContext(
            base_url="http://duban.test",
            sender_name="督办科",
            calendar=calendar,
            clock=OrgClock(ZONE),
        ),
    )


def task_id(session_factory: sessionmaker[Session], measure: int, department: str) -> int:
    with session_factory() as session:
        return session.scalar(  # type: ignore[return-value]
            select(Task.id)
            .join(Department)
            .where(Department.name == department, Task.measure.has(number=measure))
        )


def steps_to(sender: RecordingSender, url: str, task: int | None = None) -> list[str]:
    """Step names the channel received (for one task, if given)."""
    found = [s.split("#") for m in sender.to(url) for s in m.steps]
    return [step for step, tid in found if task is None or int(tid) == task]


def test_one_days_notices_to_a_department_come_as_one_digest(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar
) -> None:
    sender = RecordingSender()
    run_round(session_factory, now=ASSIGNED, tools=tools(calendar, sender))
    xz = sender.to("mailto://xz-liaison")
    assert len(xz) == 1 and xz[0].template == "digest" and len(xz[0].steps) == 2
    assert [m.template for m in sender.to("mailto://mz-liaison")] == ["assigned"]
    assert sender.to("mailto://mz-head") == []  # the head is not told of an assignment


def test_replay_sends_the_whole_ladder_once_on_working_days_in_office_hours(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar
) -> None:
    sender = RecordingSender()
    replay(
        session_factory,
        start=date(2015, 9, 1),
        end=date(2016, 3, 31),
        tools=tools(calendar, sender),
    )
    lead = task_id(session_factory, 10, "珠海市民政局")
    lead_steps = steps_to(sender, "mailto://mz-liaison", lead)
    assert Counter(lead_steps) == Counter(
        {
            "assigned": 1,
            "ack_reminder": 1,
            "report_due": 2,
            "report_missing": 2,
            "due_reminder_10": 1,
            "due_reminder_3": 1,
            "urge": 1,
        }
    )
    assert Counter(steps_to(sender, "mailto://mz-head")) == Counter(
        {"urge": 1, "escalate_yellow": 1}
    )
    # Measure 10's lead and its 8 districts reach level 3 (measure 22 is due in 2020).
    assert Counter(steps_to(sender, "mailto://supervisor")) == Counter({"escalate_red": 9})
    assert Counter(steps_to(sender, "mailto://coordinator")) == Counter({"escalate_yellow": 9})
    with session_factory() as session:
        sent = session.scalars(select(Delivery).where(Delivery.status == "sent")).all()
        for delivery in sent:
            local = delivery.sent_at.astimezone(ZONE)  # type: ignore[union-attr]
            assert calendar.is_workday(local.date()) and time(9) <= local.time() < time(18)
        steps = session.scalars(select(Notice.step).where(Notice.task_id == lead)).all()
        assert len(steps) == len(set(steps))
    # The supporting districts' yellow notices also reach the lead department.
    assert steps_to(sender, "mailto://mz-liaison").count("escalate_yellow") == 8


def test_rerunning_a_round_changes_nothing(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar
) -> None:
    sender = RecordingSender()
    t = tools(calendar, sender)
    run_round(session_factory, now=ASSIGNED, tools=t)
    count = len(sender.sent)
    with session_factory() as session:
        notices = session.scalar(select(func.count()).select_from(Notice))
    again = run_round(session_factory, now=ASSIGNED, tools=t)
    assert again.quiet and len(sender.sent) == count
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Notice)) == notices


def test_acknowledging_stops_the_ack_reminder_and_submitting_stops_everything(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar
) -> None:
    sender = RecordingSender()
    t = tools(calendar, sender)
    lead = task_id(session_factory, 10, "珠海市民政局")
    run_round(session_factory, now=ASSIGNED, tools=t)
    lifecycle.acknowledge(
        lead, department="市民政局", now=ASSIGNED.astimezone(UTC), session_factory=session_factory
    )
    lifecycle.submit(
        lead,
        department="市民政局",
        note="已完成",
        now=datetime(2015, 12, 1, 10, tzinfo=ZONE).astimezone(UTC),
        session_factory=session_factory,
    )
    replay(session_factory, start=date(2015, 9, 2), end=date(2016, 2, 1), tools=t)
    assert steps_to(sender, "mailto://mz-liaison").count("ack_reminder") == 0
    assert "urge" not in steps_to(sender, "mailto://mz-liaison")
    assert steps_to(sender, "mailto://mz-head") == []


def test_after_a_week_of_outage_stale_reminders_are_superseded_not_sent(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar
) -> None:
    sender = RecordingSender()
    t = tools(calendar, sender)
    replay(session_factory, start=date(2015, 9, 1), end=date(2015, 12, 15), tools=t)
    # Down from 12-16 to 2016-01-05: the 3-days-left reminder is never sent.
    replay(session_factory, start=date(2016, 1, 6), end=date(2016, 1, 6), tools=t)
    lead = task_id(session_factory, 10, "珠海市民政局")
    with session_factory() as session:
        status = dict(
            session.execute(select(Notice.step, Notice.status).where(Notice.task_id == lead)).all()
        )
    assert status["due_reminder_3@2015-12-31"] == "superseded"
    assert status["urge@2015-12-31"] == "sent"
    assert "due_reminder_3" not in steps_to(sender, "mailto://mz-liaison")


def test_outside_office_hours_a_step_waits_for_the_next_working_morning(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar
) -> None:
    sender = RecordingSender()
    t = tools(calendar, sender)
    evening = datetime(2015, 9, 30, 20, 0, tzinfo=ZONE)  # National Day week follows
    run_round(session_factory, now=evening, tools=t)
    assert sender.sent == []
    run_round(session_factory, now=datetime(2015, 10, 5, 10, tzinfo=ZONE), tools=t)
    assert sender.sent == []  # a holiday
    run_round(session_factory, now=datetime(2015, 10, 8, 9, tzinfo=ZONE), tools=t)
    assert sender.sent != []


def test_transient_failure_is_retried_and_permanent_failure_reported(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar
) -> None:
    sender = RecordingSender(failing={"mailto://xz-liaison": False, "mailto://mz-liaison": True})
    t = tools(calendar, sender)
    run_round(session_factory, now=ASSIGNED, tools=t)
    with session_factory() as session:
        states = dict(
            session.execute(
                select(ContactChannel.url, Delivery.status).join(Delivery.channel)
            ).all()
        )
    assert states["mailto://xz-liaison"] == "failed"
    assert states["mailto://mz-liaison"] == "dead"
    del sender.failing["mailto://xz-liaison"]
    replay(session_factory, start=date(2015, 9, 1), end=date(2015, 9, 1), tools=t)
    assert len(sender.to("mailto://xz-liaison")) == 1
    failed_report = sender.to("mailto://coordinator")
    assert [m.template for m in failed_report] == ["delivery_failed"]


def test_two_dispatchers_at_once_never_send_twice(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("concurrency is proven on PostgreSQL")
    sender = RecordingSender()
    t = tools(calendar, sender)
    errors: list[BaseException] = []

    def go() -> None:
        try:
            run_round(session_factory, now=ASSIGNED, tools=t)
        except BaseException as err:  # pragma: no cover
            errors.append(err)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_factory() as session:
        items = session.scalar(select(func.count()).select_from(DeliveryItem))
    delivered = sum(len(m.steps) for _u, m in sender.sent)
    assert delivered == items
    assert len({(u, m.steps) for u, m in sender.sent}) == len(sender.sent)


class Crash(BaseException):
    """A process dying: not an Exception, so nothing on the way catches it."""


def test_crash_mid_sweep_is_recovered_after_the_lease_without_doubles(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from duban.services.ladder import batch as batch_module
    from duban.services.ladder.core import LEASE

    real = batch_module._evaluate
    calls = {"n": 0}

    def crashing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash  # dies holding the claim of its batch, at the third task
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "_evaluate", crashing)
    sender = RecordingSender()
    t = tools(calendar, sender)
    with pytest.raises(Crash):
        run_round(session_factory, now=ASSIGNED, tools=t)
    monkeypatch.setattr(batch_module, "_evaluate", real)
    run_round(session_factory, now=ASSIGNED, tools=t)  # the crashed claim is still leased
    leased_later = ASSIGNED + LEASE + LEASE
    run_round(session_factory, now=leased_later, tools=t)
    with session_factory() as session:
        steps = session.execute(select(Notice.task_id, Notice.step)).all()
        assert len(steps) == len(set(steps))
        assert session.scalar(
            select(func.count()).select_from(Task).where(Task.next_action_at <= leased_later)
        ) == 0
    delivered = [s for _u, m in sender.sent for s in m.steps]
    assert len(delivered) == len(set(delivered))


def test_crash_between_send_and_record_resends_at_most_once(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar
) -> None:
    from duban.services.ladder.core import LEASE

    class DiesAfterSending(RecordingSender):
        def send(self, url: str, message: Any) -> Outcome:
            outcome = super().send(url, message)
            if url == "mailto://mz-liaison" and len(self.to(url)) == 1:
                raise Crash  # the channel accepted it; we die before recording
            return outcome

    sender = DiesAfterSending()
    t = tools(calendar, sender)
    with pytest.raises(Crash):
        run_round(session_factory, now=ASSIGNED, tools=t)
    run_round(session_factory, now=ASSIGNED + LEASE / 2, tools=t)  # still claimed: no resend
    assert len(sender.to("mailto://mz-liaison")) == 1
    run_round(session_factory, now=ASSIGNED + LEASE * 2, tools=t)  # lease expired: resent once
    run_round(session_factory, now=ASSIGNED + LEASE * 4, tools=t)
    assert len(sender.to("mailto://mz-liaison")) == 2
    with session_factory() as session:
        assert set(session.scalars(select(Delivery.status))) == {"sent"}


def test_a_task_that_cannot_be_evaluated_does_not_stop_the_others(
    session_factory: sessionmaker[Session], world: str, calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from duban.services.ladder import batch as batch_module
    from duban.services.ladder import sweep as sweep_module

    broken = task_id(session_factory, 10, "珠海市民政局")
    real = batch_module._evaluate

    def failing(task: Task, *args: Any, **kwargs: Any) -> Any:
        if task.id == broken:
            raise ValueError("corrupt task")
        return real(task, *args, **kwargs)

    monkeypatch.setattr(batch_module, "_evaluate", failing)
    report = sweep_module.advance(session_factory, now=ASSIGNED, calendar=calendar,
                                  clock=OrgClock(ZONE))
    assert report.errors == [broken]
    with session_factory() as session:
        stepped = set(session.scalars(select(Notice.task_id)))
        all_tasks = set(session.scalars(select(Task.id)))
    assert stepped == all_tasks  # the assignment notices exist for every task …
    assert report.evaluated == len(all_tasks) - 1  # … and every other task was evaluated
