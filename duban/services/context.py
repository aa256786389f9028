"""What every entry point (CLI, flows, web) needs to call services: settings,
the one session factory, the working-day calendar and the policies."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings, get_settings
from duban.db import open_session_factory
from duban.domain.assignment import AssignmentPolicy
from duban.domain.workdays import WorkCalendar
from duban.services.calendar_data import load_work_calendar


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
        )


def open_context(settings: Settings | None = None) -> AppContext:
    return AppContext(settings or get_settings())
