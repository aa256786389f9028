"""What every entry point (CLI, flows, web) needs to call services: settings,
the one session factory, the working-day calendar and the policies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings, get_settings
from duban.db import open_session_factory
from duban.domain.assignment import AssignmentPolicy
from duban.domain.workdays import WorkCalendar
from duban.services.calendar_data import load_work_calendar
from duban.services.links import LinkSigner
from duban.services.org import org_settings
from duban.services.outbox import DeliveryContext, MessageSender
from duban.services.reminders import RoundTools
from duban.services.sweep import SweepClock
from notifications.render import RenderedMessage, render
from notifications.send import Sender


@dataclass
class AppContext:
    settings: Settings

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        """Raises SchemaNotReadyError (with the command to run) if the schema is missing."""
        return open_session_factory(self.settings)

    @cached_property
    def calendar(self) -> WorkCalendar:
        return load_work_calendar(
            self.settings, weekend_fallback=self.settings.calendar_weekend_fallback
        )

    @cached_property
    def assignment_policy(self) -> AssignmentPolicy:
        return AssignmentPolicy(
            support_lead_workdays=self.settings.support_lead_workdays,
            default_horizon=self.settings.default_horizon,
            grace_workdays=self.settings.past_due_grace_workdays,
        )

    def clock(self) -> SweepClock:
        """Time zone and office start from the org settings."""
        with self.session_factory() as session:
            org = org_settings(session)
        return SweepClock(zone=ZoneInfo(org.timezone), office_start=org.office_hours.start)

    def round_tools(self, *, sender: MessageSender, worker: str = "local") -> RoundTools:
        """Calendar, office hours and zone from the org settings, the templates,
        and ``sender`` (normally ``notifications.send.Sender``)."""
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
        )

    def sender(self) -> Sender:
        """The real sender (Apprise); close it when done."""
        return Sender(wecom_api_base=self.settings.wecom_api_base, timezone=self.settings.timezone)


def open_context(settings: Settings | None = None) -> AppContext:
    return AppContext(settings or get_settings())
