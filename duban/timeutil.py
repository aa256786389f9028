"""Turning user-given times into aware datetimes (stored as UTC, shown in Asia/Shanghai)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from duban.domain.errors import DubanError

# Office morning: a date given without a time means 09:00 local on that day.
DEFAULT_TIME = time(9, 0)


def parse_as_of(value: str | None, timezone: str, *, now: datetime | None = None) -> datetime:
    """``value`` (YYYY-MM-DD or ISO datetime, local if naive) as an aware UTC
    datetime; None means ``now`` (or the current time). Raises DubanError."""
    if value is None or value == "":
        return (now or datetime.now(UTC)).astimezone(UTC)
    zone = ZoneInfo(timezone)
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), DEFAULT_TIME)
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DubanError(f"时间“{value}”无效,应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar day of an aware ``moment`` in ``timezone``."""
    return moment.astimezone(ZoneInfo(timezone)).date()
