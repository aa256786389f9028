"""Reporting periods: a span of days, read from ``FROM..TO``, ``YYYY``, ``YYYY-Qn``
or ``YYYY-MM`` (the scorecard's, the ledger's and the issued documents' 考核期间)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from duban.domain.errors import DubanError


@dataclass(frozen=True)
class Period:
    """Days ``start``..``end`` inclusive; None is open-ended on that side."""

    start: date | None = None
    end: date | None = None

    def contains(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def clipped(self, as_of: date) -> Period:
        """The period up to ``as_of`` at most."""
        return Period(self.start, as_of if self.end is None else min(self.end, as_of))

    @property
    def label(self) -> str:
        if self.start is None and self.end is None:
            return "全部"
        return f"{self.start or '开始'} 至 {self.end or '今'}"


_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.I)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_YEAR = re.compile(r"^(\d{4})$")


def parse_period(text: str | None) -> Period:
    """A period from ``FROM..TO`` (either side may be empty), ``YYYY``,
    ``YYYY-Qn`` or ``YYYY-MM``; None or empty means all time.

    Raises DubanError (Chinese, quoting the text) for anything else, or a
    period whose end is before its start.
    """
    raw = (text or "").strip()
    if not raw:
        return Period()
    if ".." in raw:
        left, _, right = raw.partition("..")
        period = Period(_day(left, raw), _day(right, raw))
    elif match := _QUARTER.match(raw):
        year, quarter = int(match.group(1)), int(match.group(2))
        period = Period(date(year, 3 * quarter - 2, 1), month_end(year, 3 * quarter))
    elif match := _MONTH.match(raw):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise DubanError(f"考核期间“{raw}”的月份无效")
        period = Period(date(year, month, 1), month_end(year, month))
    elif match := _YEAR.match(raw):
        year = int(match.group(1))
        period = Period(date(year, 1, 1), date(year, 12, 31))
    else:
        raise DubanError(
            f"考核期间“{raw}”无效,应为 起..止(YYYY-MM-DD..YYYY-MM-DD)、YYYY、YYYY-Qn 或 YYYY-MM"
        )
    if period.start and period.end and period.end < period.start:
        raise DubanError(f"考核期间“{raw}”的结束日期早于开始日期")
    return period


def _day(text: str, whole: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DubanError(f"考核期间“{whole}”中的日期“{text}”无效,应为 YYYY-MM-DD") from None


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])
