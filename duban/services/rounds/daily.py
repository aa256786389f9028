"""One reminder round (sweep → route → deliver), and a replay of many days.

``run_round`` is what the scheduled sweep does each working morning; the
Prefect sweep flow and ``duban sweep`` call it, ``duban replay`` calls it for
every working day of a range in one process, as if each office morning had
come — retries due later that day are tried on the hour until office hours end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import Engine, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.assignment import AssignmentPolicy
from duban.domain.org import OfficeHours, next_send_time
from duban.domain.outbox import DELIVERY_WAITING, DeliveryStatus, NoticeStatus
from duban.domain.workdays import WorkCalendar, likely_workday
from duban.services.calendar.changes import sync_calendar
from duban.services.ladder.core import LEASE, OrgClock
from duban.services.ladder.sweep import SweepReport, advance, release_waiting
from duban.services.outbox.contract import (
    Builders,
    DeliveryContext,
    DeliveryKind,
    MessageSender,
    RenderFn,
    delivery_due,
    notice_due,
)
from duban.services.outbox.deliver import DispatchReport, dispatch
from duban.services.outbox.message import notice_message
from duban.services.outbox.route import RouteReport, route
from duban.services.reports.digest import report_message
from duban.services.reports.scorecard_kept import kept_rule, refresh_scores
from duban.services.tasks.light_sql import light_rule, refresh_lights
from models import Delivery, DeliveryItem, Notice, Task

LOG = logging.getLogger(__name__)
STANDARD_BUILDERS: Builders = {
    DeliveryKind.NOTICES: notice_message,
    DeliveryKind.REPORT: report_message,
}


@dataclass(frozen=True)
class RoundTools:
    """What a round needs besides the database: calendar, office hours, a way
    to render and a way to send."""

    calendar: WorkCalendar
    hours: OfficeHours
    clock: OrgClock
    sender: MessageSender
    render: RenderFn
    context: DeliveryContext
    worker: str = "local"
    # The assignment rules due dates follow (recomputed when the calendar changes).
    assignment: AssignmentPolicy = field(default_factory=AssignmentPolicy)
    # How the outbox writes each kind of delivery's message.
    builders: Builders = field(default_factory=lambda: dict(STANDARD_BUILDERS))

    def send_time(self, moment: datetime) -> datetime:
        return next_send_time(moment, hours=self.hours, calendar=self.calendar, tz=self.clock.zone)


@dataclass
class RoundReport:
    at: datetime
    sweep: SweepReport = field(default_factory=SweepReport)
    routing: RouteReport = field(default_factory=RouteReport)
    delivery: DispatchReport = field(default_factory=DispatchReport)
    lights: int = 0  # tasks whose light of the day was stored
    scores: int = 0  # tasks whose scorecard cell of the day was stored

    @property
    def quiet(self) -> bool:
        return not (
            self.sweep.notices
            or self.sweep.superseded
            or self.routing.routed
            or self.delivery.sent
            or self.delivery.failed
            or self.delivery.dead
        )


def run_round(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    tools: RoundTools,
    measure_ids: Iterable[int] | None = None,
    sweep: bool = True,
    settle: float | None = None,
    store_lights: bool = False,
) -> RoundReport:
    """Advance due tasks (optionally only of some measures), route the notices
    that are due, and send what may go out now.

    With ``settle`` (seconds), the round waits after each phase until no work
    of that phase is left at ``now`` — also work other processes took — so
    rounds run at once by several workers group the day's notices exactly as
    one process would (see :func:`outstanding`). With ``store_lights`` (the
    day's first round), each task's light and scorecard cell of ``now``'s day
    are stored once the round's messages are sent, so the day's pages read
    them (:func:`store_day_lights`, :func:`store_day_scores`)."""
    report = RoundReport(at=now)
    if sweep:
        # A year added or changed since the last round moves the due dates it
        # governs (once); then tasks waiting for a year now covered are due.
        sync_calendar(session_factory, calendar=tools.calendar, now=now, policy=tools.assignment)
        release_waiting(session_factory, now=now, calendar=tools.calendar)
        report.sweep = advance(
            session_factory,
            now=now,
            calendar=tools.calendar,
            clock=tools.clock,
            measure_ids=measure_ids,
        )
    if settle is not None:
        wait_settled(session_factory, now=now, phase="tasks", timeout=settle)
    for _pass in range(2):
        routing = route(session_factory, now=now, send_time=tools.send_time, clock=tools.clock)
        if settle is not None:
            wait_settled(session_factory, now=now, phase="notices", timeout=settle)
        delivery = dispatch(
            session_factory,
            now=now,
            sender=tools.sender,
            render=tools.render,
            context=tools.context,
            send_time=tools.send_time,
            worker=tools.worker,
            builders=tools.builders,
        )
        if settle is not None:
            wait_settled(session_factory, now=now, phase="deliveries", timeout=settle)
        report.routing.routed += routing.routed
        report.routing.items += routing.items
        report.routing.unroutable += routing.unroutable
        report.delivery.sent += delivery.sent
        report.delivery.failed += delivery.failed
        report.delivery.dead += delivery.dead
        report.delivery.claimed_elsewhere += delivery.claimed_elsewhere
        if not delivery.dead and not (settle is not None and _unrouted(session_factory, now)):
            break
        # A delivery given up on queued a report to the coordinators (once per
        # delivery): route and send it in the same round.
    if store_lights:
        # After the messages: the morning's notices do not wait for the pages'
        # stored lights (seconds at 100k tasks), and the pages are exact
        # without them meanwhile.
        day = now.astimezone(tools.clock.zone).date()
        report.lights = store_day_lights(session_factory, day=day, calendar=tools.calendar,
                                         zone=tools.clock.zone)
        report.scores = store_day_scores(session_factory, day=day, calendar=tools.calendar,
                                         zone=tools.clock.zone)
    return report


def store_day_lights(
    session_factory: sessionmaker[Session], *, day: date, calendar: WorkCalendar, zone: tzinfo
) -> int:
    """Stores every task's light of ``day`` in ``zone`` (as the pages ask
    it: the default status policy) where it is stale; returns how many were
    stored (0 where SQL cannot tell the lights). Waits for other writers; a
    lock it cannot get is left for the pages (their lights stay exact)."""
    with session_factory() as session:
        rule = light_rule(session, as_of=day, calendar=calendar, zone=zone, refresh_at=None)
        bind = session.get_bind()
    if rule is None or not isinstance(bind, Engine):
        return 0
    return refresh_lights(bind, rule)


def store_day_scores(
    session_factory: sessionmaker[Session], *, day: date, calendar: WorkCalendar, zone: tzinfo
) -> int:
    """Stores every task's scorecard cell of ``day`` in ``zone`` (as the
    scorecard page asks it with the default policy and weights' roles) where
    it is stale; returns how many were stored (0 where SQL cannot tell local
    days). Waits for other writers; what is left stale the page works out."""
    with session_factory() as session:
        rule = kept_rule(session, as_of=day, calendar=calendar, zone=zone)
        bind = session.get_bind()
    if rule is None or not isinstance(bind, Engine):
        return 0
    return refresh_scores(bind, rule)


@dataclass(frozen=True)
class Outstanding:
    """Work of the round at ``now`` not finished yet, by phase."""

    tasks: int  # due, or being evaluated by a sweep whose batch has not committed
    notices: int  # pending, due and not yet routed to any delivery
    deliveries: int  # due to be sent, or being sent in this round

    def of(self, phase: str) -> int:
        return int(getattr(self, phase))

    @property
    def idle(self) -> bool:
        """Nothing at all to do: a round at this moment would change nothing."""
        return not (self.tasks or self.notices or self.deliveries)


def outstanding(session_factory: sessionmaker[Session], *, now: datetime) -> Outstanding:
    """What is left of the round at ``now``, whoever is doing it.

    A sweep's claim and evaluation of a batch are one transaction, so a task
    another process is evaluating still reads as due until that batch commits."""
    with session_factory() as session:
        tasks = session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.next_action_at <= now)
        )
        notices = session.scalar(select(func.count()).select_from(Notice).where(notice_due(now)))
        # Being sent in this round, or claimed so long ago that this round's
        # dispatch takes it over; not a claim of another round.
        deliveries = session.scalar(
            select(func.count()).select_from(Delivery).where(delivery_due(now, this_round=True))
        )
    return Outstanding(tasks=tasks or 0, notices=notices or 0, deliveries=deliveries or 0)


def _unrouted(session_factory: sessionmaker[Session], now: datetime) -> bool:
    return outstanding(session_factory, now=now).notices > 0


def wait_settled(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    phase: str,
    timeout: float,
    poll: float = 0.05,
) -> bool:
    """Wait (up to ``timeout`` seconds) until no work of ``phase`` ("tasks",
    "notices" or "deliveries") is left for the round at ``now``; False on
    timeout, which is logged — the work left is then picked up by a later
    round once its lease expires."""
    deadline = time.monotonic() + timeout
    while True:
        left = outstanding(session_factory, now=now).of(phase)
        if not left:
            return True
        if time.monotonic() >= deadline:
            LOG.warning(
                "round %s: %d %s still unfinished after %.0f s; going on without them",
                now.isoformat(),
                left,
                phase,
                timeout,
            )
            return False
        time.sleep(poll)


def next_delivery_time(session_factory: sessionmaker[Session]) -> datetime | None:
    """When the next unsent delivery may be tried (None if there is none): a
    pending or failed one's next attempt, or the end of the lease of one
    claimed by a process that never finished it (killed while sending)."""
    with session_factory() as session:
        due = session.scalar(
            select(func.min(Delivery.next_attempt_at)).where(
                Delivery.status.in_(DELIVERY_WAITING)
            )
        )
        stuck = _lease_end(session)
    known = [m for m in (due, stuck) if m is not None]
    return min(known) if known else None


def _lease_end(session: Session) -> datetime | None:
    """The first moment a dispatcher takes over a claim left behind (see
    ``outbox.deliver.dispatch``: claimed before ``now - LEASE``)."""
    claimed = session.scalar(
        select(func.min(Delivery.claimed_at)).where(Delivery.status == DeliveryStatus.SENDING)
    )
    return claimed + LEASE + timedelta(seconds=1) if claimed is not None else None


def working_days(calendar: WorkCalendar, start: date, end: date) -> list[date]:
    """The days of [start, end] with a round: working days, and Monday to Friday
    in a year whose holiday notice is not yet published (see ``likely_workday``)."""
    days: list[date] = []
    day = start
    while day <= end:
        if likely_workday(calendar, day):
            days.append(day)
        day += timedelta(days=1)
    return days


MorningFn = Callable[[datetime], RoundReport]


def replay(
    session_factory: sessionmaker[Session],
    *,
    start: date,
    end: date,
    tools: RoundTools,
    morning: MorningFn | None = None,
    settle: float | None = None,
) -> list[RoundReport]:
    """Run the morning round of every working day in [start, end], then hourly
    delivery retries until that day's office hours end. Returns non-quiet rounds.

    ``morning(now)`` runs a day's morning round (default: :func:`run_round`;
    the replay flow passes the sweep flow). With ``settle``, every round waits
    for its phases' work to be finished everywhere (see :func:`run_round`), so
    several replays of one range can run at once, in step, on several workers."""

    def default_morning(now: datetime) -> RoundReport:
        return run_round(session_factory, now=now, tools=tools, settle=settle)

    run_morning = morning or default_morning
    rounds: list[RoundReport] = []
    # Once, not per day: idle days are skipped, and tasks that only wait for a
    # year's calendar have no next action time of their own.
    release_waiting(session_factory, now=_opening(start, tools), calendar=tools.calendar)
    # Without a morning of its own (which decides for itself), days before the
    # next moment anything is due are skipped without a query each.
    wake = next_wake(session_factory) if morning is None else None
    for day in working_days(tools.calendar, start, end):
        opening = datetime.combine(day, tools.hours.start, tzinfo=tools.clock.zone)
        closing = datetime.combine(day, tools.hours.end, tzinfo=tools.clock.zone)
        if morning is None and (wake is None or wake >= closing):
            continue  # no round that day would find anything to do
        if morning is not None or (wake is not None and wake <= opening):
            report = run_morning(opening)
            if not report.quiet:
                rounds.append(report)
        moment = next_delivery_time(session_factory)
        while moment is not None and opening < moment < closing:
            retry = run_round(session_factory, now=moment, tools=tools, sweep=False, settle=settle)
            if not retry.quiet:
                rounds.append(retry)
            later = next_delivery_time(session_factory)
            moment = later if later is not None and later > moment else None
        if morning is None:
            wake = next_wake(session_factory)
    return rounds


def next_wake(session_factory: sessionmaker[Session]) -> datetime | None:
    """The earliest moment a round would find work: a task's next action, an
    unrouted pending notice, or a delivery to try (None: nothing at all)."""
    with session_factory() as session:
        moments = [
            session.scalar(select(func.min(Task.next_action_at))),
            session.scalar(
                select(func.min(Notice.due_at)).where(
                    Notice.status == NoticeStatus.PENDING,
                    ~exists().where(DeliveryItem.notice_id == Notice.id),
                )
            ),
            # A delivery's next attempt is never before its not_before.
            session.scalar(
                select(func.min(Delivery.next_attempt_at)).where(
                    Delivery.status.in_(DELIVERY_WAITING)
                )
            ),
            _lease_end(session),
        ]
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _opening(day: date, tools: RoundTools) -> datetime:
    return datetime.combine(day, tools.hours.start, tzinfo=tools.clock.zone)
