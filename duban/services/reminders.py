"""One reminder round (sweep → route → deliver), and a replay of many days.

``run_round`` is what the scheduled sweep does each working morning; the
Prefect sweep flow and ``duban sweep`` call it, ``duban replay`` calls it for
every working day of a range in one process, as if each office morning had
come — retries due later that day are tried on the hour until office hours end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.org import OfficeHours, next_send_time
from duban.domain.workdays import WorkCalendar
from duban.services.outbox import (
    DeliveryContext,
    DispatchReport,
    MessageSender,
    RenderFn,
    RouteReport,
    dispatch,
    route,
)
from duban.services.sweep import SweepClock, SweepReport, advance
from models import Delivery


@dataclass(frozen=True)
class RoundTools:
    """What a round needs besides the database: calendar, office hours, a way
    to render and a way to send."""

    calendar: WorkCalendar
    hours: OfficeHours
    clock: SweepClock
    sender: MessageSender
    render: RenderFn
    context: DeliveryContext
    worker: str = "local"

    def send_time(self, moment: datetime) -> datetime:
        return next_send_time(moment, hours=self.hours, calendar=self.calendar, tz=self.clock.zone)


@dataclass
class RoundReport:
    at: datetime
    sweep: SweepReport = field(default_factory=SweepReport)
    routing: RouteReport = field(default_factory=RouteReport)
    delivery: DispatchReport = field(default_factory=DispatchReport)

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
) -> RoundReport:
    """Advance due tasks (optionally only of some measures), route the notices
    that are due, and send what may go out now."""
    report = RoundReport(at=now)
    if sweep:
        report.sweep = advance(
            session_factory,
            now=now,
            calendar=tools.calendar,
            clock=tools.clock,
            measure_ids=measure_ids,
        )
    for _pass in range(2):
        routing = route(session_factory, now=now, send_time=tools.send_time, clock=tools.clock)
        delivery = dispatch(
            session_factory,
            now=now,
            sender=tools.sender,
            render=tools.render,
            context=tools.context,
            send_time=tools.send_time,
            worker=tools.worker,
        )
        report.routing.routed += routing.routed
        report.routing.items += routing.items
        report.routing.unroutable += routing.unroutable
        report.delivery.sent += delivery.sent
        report.delivery.failed += delivery.failed
        report.delivery.dead += delivery.dead
        report.delivery.claimed_elsewhere += delivery.claimed_elsewhere
        if not delivery.dead:
            break
        # A delivery given up on queued a report to the coordinators (once per
        # delivery): route and send it in the same round.
    return report


def next_delivery_time(session_factory: sessionmaker[Session]) -> datetime | None:
    """When the next unsent delivery may be tried (None if there is none)."""
    with session_factory() as session:
        return session.scalar(
            select(Delivery.next_attempt_at)
            .where(Delivery.status.in_(("pending", "failed")))
            .order_by(Delivery.next_attempt_at)
            .limit(1)
        )


def working_days(calendar: WorkCalendar, start: date, end: date) -> list[date]:
    days: list[date] = []
    day = start
    while day <= end:
        if calendar.is_workday(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def replay(
    session_factory: sessionmaker[Session],
    *,
    start: date,
    end: date,
    tools: RoundTools,
) -> list[RoundReport]:
    """Run the morning round of every working day in [start, end], then hourly
    delivery retries until that day's office hours end. Returns non-quiet rounds."""
    rounds: list[RoundReport] = []
    for day in working_days(tools.calendar, start, end):
        morning = datetime.combine(day, tools.hours.start, tzinfo=tools.clock.zone)
        closing = datetime.combine(day, tools.hours.end, tzinfo=tools.clock.zone)
        report = run_round(session_factory, now=morning, tools=tools)
        if not report.quiet:
            rounds.append(report)
        moment = next_delivery_time(session_factory)
        while moment is not None and morning < moment < closing:
            retry = run_round(session_factory, now=moment, tools=tools, sweep=False)
            if not retry.quiet:
                rounds.append(retry)
            later = next_delivery_time(session_factory)
            moment = later if later is not None and later > moment else None
    return rounds
