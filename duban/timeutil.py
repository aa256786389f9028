"""Business time: the one clock, the organisation's zone, and user-given times.

- **One zone source.** The organisation file's ``timezone`` (stored with its
  office hours by ``duban org load``; default :data:`DEFAULT_TIMEZONE`) is the
  zone every process uses: CLI, flows on any worker and the web read the same
  stored value (``AppContext.clock()``), so they cannot disagree.
- **One clock.** :class:`Clock` says where "today" and the office morning are
  (zone, office start) and what time it is (``now()``, from an injectable
  ``read``; tests and ``duban serve --as-of`` pass their own). Nothing else
  reads the system clock for business time.
- **One parse.** ``--as-of`` is parsed once, by the CLI's option type
  (:func:`parse_local`), into a wall-clock datetime; :meth:`Clock.resolve`
  places it in the zone. Flows take datetimes, never strings.

Times are stored as UTC and shown in the organisation's zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from duban.domain.errors import DubanError
from duban.domain.org import DEFAULT_TIMEZONE

# Office morning: a date given without a time means 09:00 local on that day.
DEFAULT_TIME = time(9, 0)
DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)
DEFAULT_OFFICE_START = time(9, 0)


def system_now() -> datetime:
    """The system clock as an aware UTC datetime (the default ``Clock.read``)."""
    return datetime.now(UTC)


def running_from(
    start: datetime, read: Callable[[], datetime] = system_now
) -> Callable[[], datetime]:
    """A clock reading that starts at ``start`` now and runs on in real time
    (``duban serve --as-of``: a replayed plan served as of its day)."""
    origin = read()
    return lambda: start + (read() - origin)


@dataclass(frozen=True)
class Clock:
    """Where "today" and "office morning" are (a time zone and office start),
    and what time it is (``read``, the system clock unless injected)."""

    zone: ZoneInfo = DEFAULT_ZONE
    office_start: time = DEFAULT_OFFICE_START
    read: Callable[[], datetime] = field(default=system_now, compare=False, repr=False)

    def now(self) -> datetime:
        """The current business time, aware, in UTC."""
        return self.read().astimezone(UTC)

    def today(self, now: datetime | None = None) -> date:
        """The calendar day of ``now`` (default: the current time) in the zone."""
        return self.local(now or self.now()).date()

    def local(self, moment: datetime) -> datetime:
        """An aware ``moment`` in the zone."""
        return moment.astimezone(self.zone)

    def morning(self, day: date) -> datetime:
        """The office start of ``day``, as an aware datetime."""
        return datetime.combine(day, self.office_start, tzinfo=self.zone)

    def resolve(self, as_of: datetime | None) -> datetime:
        """``as_of`` as an aware UTC datetime: None is now; a naive datetime
        (a parsed ``--as-of`` without offset) is wall-clock time in the zone."""
        if as_of is None:
            return self.now()
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=self.zone)
        return as_of.astimezone(UTC)


def parse_local(value: str) -> datetime:
    """A user-given time: ``YYYY-MM-DD`` (09:00 that day) or an ISO datetime,
    naive (wall-clock time in the organisation's zone) unless it names an
    offset. Raises DubanError naming the value."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), DEFAULT_TIME)
        return datetime.fromisoformat(value)
    except ValueError:
        raise DubanError(f"时间“{value}”无效,应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM") from None


def parse_as_of(value: str | None, timezone: str, *, now: datetime | None = None) -> datetime:
    """``value`` (YYYY-MM-DD or ISO datetime, local if naive) as an aware UTC
    datetime; None means ``now`` (or the current time). Raises DubanError."""
    read = (lambda: now) if now is not None else system_now
    clock = Clock(zone=ZoneInfo(timezone), read=read)
    return clock.resolve(parse_local(value) if value else None)


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar day of an aware ``moment`` in ``timezone``."""
    return moment.astimezone(ZoneInfo(timezone)).date()
