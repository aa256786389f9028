"""The working-day calendar as last seen: one row per covered year.

Each round compares the calendar it loaded (package, shipped and operator
files) with these rows; a year added or changed since makes the due dates
that follow from the calendar be recomputed once
(``duban.services.calendar.changes.sync_calendar``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class CalendarYear(Base):
    """A year's holiday arrangement as last applied: its content fingerprint
    (SHA-256 of its days) and where it came from."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    recorded_at: Mapped[datetime]
