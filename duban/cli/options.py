"""Options several commands share, parsed once by the command line.

``--as-of`` is parsed here, before a command runs (so before any database or
Prefect work): a mistyped time is a usage error naming the option and the
value (exit 2), never a flow run that fails and retries. Commands receive a
``datetime`` (naive: wall-clock time in the organisation's zone) and place it
with ``context.clock().resolve(as_of)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session, sessionmaker

from duban.cli.usage import BadValue
from duban.domain.errors import DubanError
from duban.domain.workdays import WorkCalendar
from duban.timeutil import Clock, parse_local
from duban.wiring import AppContext, open_context

AS_OF_FORMS = "应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM"


def parse_as_of_option(value: str) -> datetime:
    """``--as-of``'s value as a datetime (see :func:`duban.timeutil.parse_local`)."""
    try:
        return parse_local(value)
    except DubanError:
        raise typer.BadParameter(AS_OF_FORMS) from BadValue(value, f"无效,{AS_OF_FORMS}")


def as_of_option(help: str) -> Any:
    """The ``--as-of`` option with this command's help text."""
    return typer.Option("--as-of", help=help, parser=parse_as_of_option)


@dataclass
class CommandEnv:
    """One command's context, its clock and its moment (aware, UTC)."""

    context: AppContext
    clock: Clock
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        return self.clock.zone

    @property
    def today(self) -> date:
        """The day of ``now`` in the organisation's zone: what status is computed as of."""
        return self.clock.today(self.now)

    @property
    def calendar(self) -> WorkCalendar:
        return self.context.calendar

    @property
    def session_factory(self) -> sessionmaker[Session]:
        return self.context.session_factory


def command_env(as_of: datetime | None, context: AppContext | None = None) -> CommandEnv:
    """The command's context and its moment: ``as_of`` (a parsed ``--as-of``)
    placed in the organisation's zone, or now. Raises SchemaNotReadyError when
    the database is not set up."""
    context = context or open_context()
    clock = context.clock()
    return CommandEnv(context, clock, clock.resolve(as_of))
