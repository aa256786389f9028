"""Several workers at once on PostgreSQL: sweeps, routing, dispatch and
assignment never do a thing twice and never lose one.

Each worker is a thread with its own engine, as a separate process would have
(its own pool, its own connections). Where an interleaving matters, a worker
is paused right after a given statement (inside its open transaction) and the
test waits until the other worker is blocked on a row lock — or finished, when
nothing makes it wait — so the order is forced, not hoped for.

PostgreSQL only: SQLite serialises writers, so these interleavings cannot occur.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from datetime import time as time_of_day
from typing import Any, Generic, TypeVar

import pytest
from sqlalchemy import Engine, event, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from duban.db import engine_for_url, make_session_factory
from duban.domain.org import OfficeHours
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar
from duban.services.ladder import batch, sweep
from duban.services.outbox import sending
from duban.services.outbox.deliver import DispatchReport, dispatch
from duban.services.outbox.route import route
from duban.services.plans.assignment import assign_measure
from duban.services.plans.files import parse_plan_file
from duban.services.plans.importer import import_plan
from duban.services.plans.to_assign import planned_tasks
from duban.services.rounds.daily import RoundTools, run_round
from models import ContactChannel, Delivery, DeliveryItem, Department, Notice, Task, TaskEvent
from tests.db.conftest import HEALTH, World, at
from tests.db.outbox_world import (
    CLOCK,
    ZONE,
    RecordingSender,
    add_contacts,
    at_once,
    delivery_context,
    liaison_url,
    render_items,
)
from tests.paths import REFERENCE_PLAN

ASSIGNED = datetime(2015, 9, 1, 9, 0, tzinfo=ZONE)
LATER = datetime(2016, 1, 11, 10, 0, tzinfo=ZONE)  # a Monday: many steps due at once
WAIT = 10.0  # seconds: longest a forced interleaving may take before the test fails

T = TypeVar("T")


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Overrides tests/conftest.py's backend: these tests run on PostgreSQL only."""
    return str(request.param)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return build_work_calendar([])


@pytest.fixture
def contacts(session_factory: sessionmaker[Session], synced_directory: None) -> None:
    add_contacts(session_factory)


@pytest.fixture
def plan_key(session_factory: sessionmaker[Session], synced_directory: None) -> str:
    draft, source = parse_plan_file(REFERENCE_PLAN)
    return import_plan(draft, session_factory=session_factory, source_text=source).key


def assign_measures(
    session_factory: sessionmaker[Session],
    plan_key: str,
    calendar: WorkCalendar,
    numbers: set[int],
) -> list[int]:
    """Assign the measures ``numbers`` at ASSIGNED, one after another (their
    tasks are due for the sweep at once); returns the ids of all tasks."""
    for number in sorted(numbers):
        assign_measure(
            session_factory,
            plan=plan_key,
            measure=number,
            now=ASSIGNED.astimezone(UTC),
            calendar=calendar,
        )
    with session_factory() as session:
        return list(session.scalars(select(Task.id).order_by(Task.id)))


@pytest.fixture
def assigned(
    session_factory: sessionmaker[Session], plan_key: str, calendar: WorkCalendar
) -> list[int]:
    """Measures 4, 8 and 30 assigned: 52 tasks of 19 departments."""
    return assign_measures(session_factory, plan_key, calendar, {4, 8, 30})


# ------------------------------------------------------------------ workers


class Worker(Generic[T]):
    """Runs ``job(session_factory)`` in a thread on an engine of its own.

    With ``pause_after``, the worker stops right after the first statement
    starting with that text (its transaction still open) until resumed. With
    ``start_line``, it waits for the other workers at the line before its job.
    """

    def __init__(
        self,
        url: str,
        job: Callable[[sessionmaker[Session]], T],
        *,
        pause_after: str | None = None,
        start_line: threading.Barrier | None = None,
    ) -> None:
        self.engine = engine_for_url(url)
        self.job = job
        self.pause_after = pause_after
        self.start_line = start_line
        self.paused = threading.Event()
        self.resumed = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        if pause_after is not None:
            event.listen(self.engine, "after_cursor_execute", self._maybe_pause)

    def _maybe_pause(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        assert self.pause_after is not None
        if not self.paused.is_set() and statement.lstrip().startswith(self.pause_after):
            self.paused.set()
            if not self.resumed.wait(WAIT):
                raise TimeoutError("never resumed")

    def _run(self) -> None:
        try:
            with self.engine.connect():  # connect before the start line, not after
                pass
            if self.start_line is not None:
                self.start_line.wait(WAIT)
            self.result = self.job(make_session_factory(self.engine))
        except BaseException as err:
            self.error = err
        finally:
            self.engine.dispose()

    def start(self) -> Worker[T]:
        self.thread.start()
        return self

    def wait_paused(self) -> None:
        assert self.paused.wait(WAIT), f"never reached {self.pause_after!r}"

    def resume(self) -> None:
        self.resumed.set()

    def finish(self) -> T:
        self.thread.join(WAIT * 3)
        assert not self.thread.is_alive(), "worker hung"
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


def together(url: str, *jobs: Callable[[sessionmaker[Session]], T]) -> list[T]:
    """Run the jobs at once, each in its own worker; their results in order."""
    line = threading.Barrier(len(jobs))
    workers = [Worker(url, job, start_line=line).start() for job in jobs]
    return [worker.finish() for worker in workers]


def blocked_on_lock(engine: Engine) -> bool:
    """Whether some backend of the test database waits for a row (or
    transaction) lock another holds."""
    with engine.connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        )


def wait_until_blocked_or_done(engine: Engine, worker: Worker[Any]) -> bool:
    """True once ``worker`` waits for a lock; False if it finished without waiting."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if blocked_on_lock(engine):
            return True
        if not worker.thread.is_alive():
            return False
        time.sleep(0.01)
    raise AssertionError("the worker neither waited for a lock nor finished")


# ------------------------------------------------- routing against dispatch

STEP = "assigned@2015-03-02"
NAME = "assigned"  # what a message item names: the step without its date
T0 = at("2015-03-02", 10)


def add_notice(session_factory: sessionmaker[Session], task_id: int) -> int:
    with session_factory.begin() as session:
        notice = Notice(
            task_id=task_id, step=STEP, status="pending", level=0, due_at=T0, created_at=T0
        )
        session.add(notice)
        session.flush()
        return notice.id


def health_liaison(session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session:
        department = session.scalar(select(Department.id).where(Department.name == HEALTH))
        assert department is not None
        return liaison_url(department)


def route_now(factory: sessionmaker[Session]) -> Any:
    return route(factory, now=T0, send_time=at_once, clock=CLOCK)


def dispatcher(sender: RecordingSender, calendar: WorkCalendar) -> Callable[..., DispatchReport]:
    def run(factory: sessionmaker[Session]) -> DispatchReport:
        return dispatch(
            factory,
            now=T0,
            sender=sender,
            render=render_items,
            context=delivery_context(calendar),
            send_time=at_once,
            worker=f"w{threading.get_ident()}",
        )

    return run


def deliveries_of(session_factory: sessionmaker[Session]) -> list[tuple[int, str, list[int]]]:
    """(batch, status, task ids carried) of every delivery, by batch."""
    with session_factory() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.batch)).all()
        return [
            (
                d.batch,
                d.status,
                [session.get(Notice, i.notice_id).task_id for i in d.items],  # type: ignore[union-attr]
            )
            for d in rows
        ]


def test_a_delivery_being_routed_into_is_claimed_only_after_the_routing_commits(
    migrated_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    world: World,
    contacts: None,
    calendar: WorkCalendar,
) -> None:
    add_notice(session_factory, world.lead)
    route_now(session_factory)  # the day's delivery to 市卫计局's liaison, not yet sent
    add_notice(session_factory, world.later)
    sender = RecordingSender()

    # The router has put the second notice into that delivery and not committed …
    # (Before the fix, the dispatcher did not wait: it sent the first notice
    # alone and the second stayed pending inside a sent delivery for good.)
    router = Worker(migrated_url, route_now, pause_after="INSERT INTO delivery_items").start()
    router.wait_paused()
    # … when a dispatcher goes for the delivery: its claim must wait for the router.
    sending = Worker(migrated_url, dispatcher(sender, calendar)).start()
    try:
        waited = wait_until_blocked_or_done(engine, sending)
    finally:
        router.resume()
    router.finish()
    sending.finish()

    # One message carried both notices, and both are sent: none was marked sent
    # unsent, none left pending inside a sent delivery.
    carried = [m.carried for m in sender.to(health_liaison(session_factory))]
    assert carried == [((world.lead, NAME), (world.later, NAME))]
    assert deliveries_of(session_factory) == [(1, "sent", [world.lead, world.later])]
    with session_factory() as session:
        assert set(session.scalars(select(Notice.status))) == {"sent"}
    assert waited


def test_a_router_that_meets_a_claimed_delivery_uses_the_next_batch(
    migrated_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    world: World,
    contacts: None,
    calendar: WorkCalendar,
) -> None:
    add_notice(session_factory, world.lead)
    route_now(session_factory)
    add_notice(session_factory, world.later)
    sender = RecordingSender()

    # The dispatcher has claimed the delivery (the claim, one UPDATE, commits
    # with its statement) and is still busy with the batch …
    sending = Worker(
        migrated_url, dispatcher(sender, calendar), pause_after="UPDATE deliveries"
    ).start()
    sending.wait_paused()
    # … when a router wants to add to it: it sees the claim at once, without
    # waiting for the dispatcher, and opens the next batch. (A router that
    # locked the delivery first makes the claim wait: the test above.)
    router = Worker(migrated_url, route_now).start()
    try:
        waited = wait_until_blocked_or_done(engine, router)
    finally:
        sending.resume()
    sending.finish()
    router.finish()
    dispatcher(sender, calendar)(session_factory)  # the next dispatch sends batch 2

    assert not waited
    assert deliveries_of(session_factory) == [
        (1, "sent", [world.lead]),
        (2, "sent", [world.later]),
    ]
    carried = [m.carried for m in sender.to(health_liaison(session_factory))]
    assert carried == [((world.lead, NAME),), ((world.later, NAME),)]
    with session_factory() as session:
        assert set(session.scalars(select(Notice.status))) == {"sent"}


# ---------------------------------------------------------- workers at once


def test_two_sweeps_evaluate_each_due_task_once_and_create_each_notice_once(
    migrated_url: str,
    session_factory: sessionmaker[Session],
    assigned: list[int],
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sweep, "BATCH", 5)  # many small claims, so the sweeps interleave
    evaluated: Counter[int] = Counter()
    lock = threading.Lock()
    real = batch._evaluate

    def counted(task: Task, *args: Any, **kwargs: Any) -> Any:
        outcome = real(task, *args, **kwargs)
        with lock:
            evaluated[task.id] += 1
        return outcome

    monkeypatch.setattr(batch, "_evaluate", counted)

    def sweep_once(factory: sessionmaker[Session]) -> sweep.SweepReport:
        return sweep.advance(factory, now=LATER, calendar=calendar, clock=CLOCK)

    before = notice_count(session_factory)
    reports = together(migrated_url, sweep_once, sweep_once)

    assert [r.errors for r in reports] == [[], []]
    assert evaluated == Counter(dict.fromkeys(assigned, 1))
    assert sum(r.evaluated for r in reports) == len(assigned)
    created = notice_count(session_factory) - before
    assert created > len(assigned)
    assert sum(r.notices + r.superseded for r in reports) == created
    assert sweep.due_tasks(session_factory, now=LATER) == []
    # Nothing was missed: sweeping every task again from scratch adds nothing.
    with session_factory.begin() as session:
        session.execute(update(Task).values(next_action_at=ASSIGNED))
    again = sweep.advance(session_factory, now=LATER, calendar=calendar, clock=CLOCK)
    assert (again.evaluated, again.notices, again.superseded) == (len(assigned), 0, 0)


def notice_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(Notice)) or 0)


def test_two_dispatchers_send_each_delivery_once(
    migrated_url: str,
    session_factory: sessionmaker[Session],
    assigned: list[int],
    contacts: None,
    calendar: WorkCalendar,
) -> None:
    route(session_factory, now=ASSIGNED, send_time=at_once, clock=CLOCK)
    with session_factory() as session:
        urls = list(
            session.scalars(
                select(ContactChannel.url).join(Delivery, Delivery.channel_id == ContactChannel.id)
            )
        )
        departments = set(session.scalars(select(Task.department_id)))
    # The day's one delivery to each department's liaison.
    assert sorted(urls) == sorted(liaison_url(d) for d in departments)
    sender = RecordingSender(delay=0.002)

    def send(factory: sessionmaker[Session]) -> DispatchReport:
        return dispatch(
            factory,
            now=ASSIGNED,
            sender=sender,
            render=render_items,
            context=delivery_context(calendar),
            send_time=at_once,
        )

    reports = together(migrated_url, send, send)

    assert sender.per_url() == Counter(dict.fromkeys(urls, 1))
    assert sum(r.sent for r in reports) == len(urls)
    assert sum(r.failed + r.dead for r in reports) == 0
    with session_factory() as session:
        assert set(session.execute(select(Delivery.status, Delivery.attempts))) == {("sent", 1)}
        routed = select(DeliveryItem.notice_id)
        assert set(session.scalars(select(Notice.status).where(Notice.id.in_(routed)))) == {"sent"}


def test_two_assignments_of_one_measure_create_each_task_and_notice_once(
    migrated_url: str,
    session_factory: sessionmaker[Session],
    plan_key: str,
    calendar: WorkCalendar,
) -> None:
    measure = 8  # the measure with the most tasks (24)
    specs = planned_tasks(session_factory, plan=plan_key, measure=measure, calendar=calendar)[3]

    def assign(factory: sessionmaker[Session]) -> Any:
        return assign_measure(
            factory, plan=plan_key, measure=measure, now=ASSIGNED.astimezone(UTC), calendar=calendar
        )

    first, second = together(migrated_url, assign, assign)

    created = first.created + second.created
    assert len(created) == len(set(created)) == len(specs)
    assert set(first.created + first.existing) == set(second.created + second.existing)
    with session_factory() as session:
        tasks = set(session.scalars(select(Task.id)))
        assert tasks == set(created)
        events = Counter(
            session.scalars(select(TaskEvent.task_id).where(TaskEvent.action == "assign"))
        )
        notices = Counter(
            session.scalars(select(Notice.task_id).where(Notice.step.startswith("assigned@")))
        )
    assert events == notices == Counter(dict.fromkeys(tasks, 1))


def test_whole_rounds_at_once_deliver_every_item_exactly_once(
    migrated_url: str,
    session_factory: sessionmaker[Session],
    plan_key: str,
    contacts: None,
    calendar: WorkCalendar,
) -> None:
    """Two workers each sweep, route and dispatch the same morning; whatever
    the interleaving, each notice reaches each of its channels once, and a
    round afterwards finds nothing left to do."""
    assign_measures(session_factory, plan_key, calendar, {10, 22})  # 19 tasks
    sender = RecordingSender()
    tools = RoundTools(
        calendar=calendar,
        hours=OfficeHours(time_of_day(9), time_of_day(18)),
        clock=CLOCK,
        sender=sender,
        render=render_items,
        context=delivery_context(calendar),
    )

    def round_(factory: sessionmaker[Session]) -> Any:
        return run_round(factory, now=LATER, tools=tools)

    together(migrated_url, round_, round_)
    assert run_round(session_factory, now=LATER, tools=tools).quiet

    delivered = Counter((url, task, name) for url, m in sender.sent for task, name in m.carried)
    with session_factory() as session:
        items = session.execute(
            select(ContactChannel.url, Notice.task_id, Notice.step, Delivery.status)
            .join(DeliveryItem, DeliveryItem.channel_id == ContactChannel.id)
            .join(Notice, Notice.id == DeliveryItem.notice_id)
            .join(Delivery, Delivery.id == DeliveryItem.delivery_id)
        ).all()
        unsent = session.scalar(
            select(func.count())
            .select_from(Notice)
            .where(Notice.status == "pending", Notice.id.in_(select(DeliveryItem.notice_id)))
        )
    assert {status for *_, status in items} == {"sent"}
    assert delivered == Counter((url, task, step.partition("@")[0]) for url, task, step, _ in items)
    assert unsent == 0


# ------------------------------------------------- a notice on two channels


def test_a_notice_whose_two_deliveries_two_workers_record_at_once_is_marked_sent(
    session_factory: sessionmaker[Session],
    world: World,
    contacts: None,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lead's liaison has two channels, so the notice goes in two
    deliveries. Worker A records the first while worker B sends and records
    the second and commits in between: each transaction saw the other's
    delivery unsent (read committed). Whichever commits last still marks the
    notice sent — it is not left pending with both its deliveries sent."""
    liaison = health_liaison(session_factory)
    with session_factory.begin() as session:
        channel = session.scalars(select(ContactChannel).where(ContactChannel.url == liaison)).one()
        second = f"{liaison}-wecom"
        session.add(
            ContactChannel(
                contact_id=channel.contact_id, position=2, url=second, url_privacy=second,
                scheme="mailto", active=True,
            )
        )
    notice = add_notice(session_factory, world.lead)
    route(session_factory, now=T0, send_time=at_once, clock=CLOCK)
    with session_factory() as session:
        assert session.scalar(
            select(func.count(func.distinct(DeliveryItem.delivery_id)))
            .where(DeliveryItem.notice_id == notice)
        ) == 2

    def send_one(worker: str, sender: RecordingSender) -> DispatchReport:
        return dispatch(
            session_factory, now=T0, sender=sender, render=render_items,
            context=delivery_context(calendar), send_time=at_once, worker=worker, limit=1,
        )

    real = sending.mark_notices_sent
    b_sender = RecordingSender()
    interleaved: list[bool] = []

    def a_then_b(session: Session, notice_ids: list[int]) -> list[int]:
        left = real(session, notice_ids)
        if not interleaved:  # A's recording transaction, still open: B goes now
            interleaved.append(True)
            send_one("B", b_sender)
        return left

    monkeypatch.setattr(sending, "mark_notices_sent", a_then_b)
    a_sender = RecordingSender()
    send_one("A", a_sender)
    assert interleaved and len(a_sender.sent) == 1 and len(b_sender.sent) == 1
    with session_factory() as session:
        statuses = set(session.scalars(select(Delivery.status)))
        assert statuses == {"sent"}
        assert session.get(Notice, notice).status == "sent"  # type: ignore[union-attr]
