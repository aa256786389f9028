"""What every entry point (CLI, flows, web) needs to call services: settings,
the one session factory, the working-day calendar and the policies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import cached_property
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings, get_settings
from duban.db import open_session_factory
from duban.domain.assignment import AssignmentPolicy
from duban.domain.workdays import CalendarError, WorkCalendar
from duban.ops.faults import FaultHooks, fault_hooks
from duban.ops.heap import settle_heap
from duban.services.accounts.links import LinkSigner
from duban.services.accounts.org import org_settings
from duban.services.calendar.data import calendar_signature, load_work_calendar
from duban.services.outbox.contract import DeliveryContext, MessageSender
from duban.services.rounds.daily import RoundTools
from duban.timeutil import Clock, system_now
from notifications.render import RenderedMessage, render
from notifications.send import Sender

LOG = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        """Raises SchemaNotReadyError (with the command to run) if the schema is missing."""
        return open_session_factory(self.settings)

    # How often a long-running process (duban serve) looks for new calendar
    # files and reads the organisation's zone and office hours again.
    calendar_recheck_seconds: float = 5.0
    # The clock's reading of the current time (tests and `serve --as-of` set their own).
    read_clock: Callable[[], datetime] = field(default=system_now, repr=False)
    _org_time: tuple[ZoneInfo, time] | None = field(default=None, init=False, repr=False)
    _org_time_checked: float = field(default=0.0, init=False, repr=False)
    _calendar: WorkCalendar | None = field(default=None, init=False, repr=False)
    _calendar_signature: tuple[tuple[str, int, int], ...] = field(
        default=(), init=False, repr=False
    )
    _calendar_checked: float = field(default=0.0, init=False, repr=False)

    @property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar, read again when a file in the calendar
        directories changed (``duban calendar import`` while ``duban serve``
        runs). A broken new file keeps the calendar in use, logged; at the
        first read it raises CalendarError naming the file."""
        moment = monotonic()
        if self._calendar is not None and moment - self._calendar_checked < (
            self.calendar_recheck_seconds
        ):
            return self._calendar
        self._calendar_checked = moment
        signature = calendar_signature(self.settings)
        if self._calendar is None or signature != self._calendar_signature:
            try:
                self._calendar = load_work_calendar(
                    self.settings, weekend_fallback=self.settings.calendar_weekend_fallback
                )
            except CalendarError:
                if self._calendar is None:
                    raise
                LOG.exception("calendar files changed but cannot be read; the old calendar stays")
            self._calendar_signature = signature
        return self._calendar

    @cached_property
    def assignment_policy(self) -> AssignmentPolicy:
        return AssignmentPolicy(
            support_lead_workdays=self.settings.support_lead_workdays,
            default_horizon=self.settings.default_horizon,
            grace_workdays=self.settings.past_due_grace_workdays,
        )

    @cached_property
    def faults(self) -> FaultHooks:
        """Test-only fault injection points, handed to flows (no-ops unless
        the ``DUBAN_FAULT_*`` settings ask for one)."""
        return fault_hooks(self.settings)

    def clock(self) -> Clock:
        """The one clock: the organisation's zone and office start (the org
        settings, the one zone source; read again after
        ``calendar_recheck_seconds``) and ``read_clock`` for the time."""
        moment = monotonic()
        if self._org_time is None or moment - self._org_time_checked >= (
            self.calendar_recheck_seconds
        ):
            with self.session_factory() as session:
                org = org_settings(session)
            self._org_time = (ZoneInfo(org.timezone), org.office_hours.start)
            self._org_time_checked = moment
        zone, office_start = self._org_time
        return Clock(zone=zone, office_start=office_start, read=self.read_clock)

    def now(self) -> datetime:
        """The current business time (aware, UTC)."""
        return self.clock().now()

    def round_tools(self, *, sender: MessageSender, worker: str = "local") -> RoundTools:
        """Calendar, office hours and zone from the org settings, the templates,
        and ``sender`` (normally ``notifications.send.Sender``).

        Every process that runs rounds (``duban sweep``, ``replay``, ``demo``,
        the ``serve`` scheduler, the Prefect flows) asks for its tools here
        before its first round, once start-up is done: the first call freezes
        the objects start-up left (:func:`duban.ops.heap.settle_heap`), so the
        rounds' garbage collections do not walk the imported libraries."""
        settle_heap()
        with self.session_factory() as session:
            org = org_settings(session)
        clock = self.clock()
        templates = self.settings.templates_dir

        def render_message(template: str, context: Mapping[str, Any]) -> RenderedMessage:
            return render(template, context, templates_dir=templates)

        return RoundTools(
            calendar=self.calendar,
            hours=org.office_hours,
            clock=clock,
            sender=sender,
            render=render_message,
            context=DeliveryContext(
                base_url=org.base_url or self.settings.base_url,
                sender_name=self.settings.sender_name,
                calendar=self.calendar,
                clock=clock,
                link_signer=LinkSigner.from_settings(self.settings),
            ),
            worker=worker,
            assignment=self.assignment_policy,
        )

    def sender(self) -> Sender:
        """The real sender (Apprise); close it when done."""
        return Sender(wecom_api_base=self.settings.wecom_api_base, timezone=str(self.clock().zone))


def open_context(settings: Settings | None = None) -> AppContext:
    return AppContext(settings or get_settings())
