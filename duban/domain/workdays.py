"""Working days in mainland China: statutory holidays and 调休 make-up working days.

A date is a working day when it is listed as a make-up working day (调休上班), or
when it is Monday to Friday and not listed as a holiday. The lists come from the
State Council's yearly notice (国务院办公厅关于某年部分节假日安排的通知), one
:class:`HolidayNotice` per year; this module holds no data of its own and imports
nothing outside the standard library and :mod:`duban.domain`.

A year is *covered* when its notice was given. Asking about a date in a year that
is not covered raises :class:`CalendarError` naming the year, unless the calendar
was built with ``weekend_fallback=True``, in which case such a year counts
Monday to Friday as working days (plus any days a neighbouring notice names).

A question whose answer needs a year not yet published can also be asked
without an exception: the ``maybe_*`` methods return an :class:`Unpublished`
value naming the first year they need (shown as 待日历公布), so a caller
can keep going with everything that *is* computable and come back once the
year's data exists. :func:`likely_workday` answers "is there a round / may a
message go out" for such a day by Monday–Friday; it is never used for a
deadline.

Known limit: a notice for year Y may place the New Year (元旦) holiday and its
make-up day in the last days of December of year Y-1 (the 2019 notice made
2018-12-29 a working Saturday and 2018-12-30/31 holidays). Until year Y+1's
notice is given, the last days of December of a covered year Y are answered
from year Y's notice alone.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

from duban.domain.holiday_notice import (
    MAX_HOLIDAY_DAYS,
    UNPUBLISHED_LABEL,
    WEEKDAY_NAMES,
    CalendarError,
    HolidayNotice,
    MaybeDate,
    Unpublished,
)

__all__ = [
    "DEFAULT_MISSING_YEAR_HINT",
    "MAX_HOLIDAY_DAYS",
    "UNPUBLISHED_LABEL",
    "WEEKDAY_NAMES",
    "CalendarError",
    "HolidayNotice",
    "MaybeDate",
    "Unpublished",
    "WorkCalendar",
    "likely_workday",
]

DEFAULT_MISSING_YEAR_HINT = "日历数据目录"

# bisect_left or bisect_right: how a date ranks among a year's working days.
_Rank = Callable[[Sequence[int], int], int]


class WorkCalendar:
    """Answers working-day questions from a set of yearly notices.

    All methods take and return :class:`datetime.date` (a ``datetime`` raises
    TypeError: convert to the Asia/Shanghai calendar day first). Every date a
    method must look at has to lie in a covered year, else :class:`CalendarError`
    names the first such year; with ``weekend_fallback=True`` uncovered years
    count Monday to Friday as working days instead.

    Per calendar year the sorted ordinals of its working days are precomputed
    (lazily for fallback years), so each operation costs a bisection per
    calendar year it spans.
    """

    def __init__(
        self,
        notices: Iterable[HolidayNotice],
        *,
        weekend_fallback: bool = False,
        missing_year_hint: str = DEFAULT_MISSING_YEAR_HINT,
    ) -> None:
        """Merge ``notices`` into one calendar.

        Raises CalendarError when two notices are for the same year, or when two
        notices classify the same date differently (naming both sources).
        ``missing_year_hint`` says where to add a missing year's data; it is
        quoted in the error for an uncovered year.
        """
        self.weekend_fallback = weekend_fallback
        self.missing_year_hint = missing_year_hint
        self._notices: dict[int, HolidayNotice] = {}
        self._holidays: dict[date, str] = {}
        self._workdays: dict[date, str] = {}
        origin: dict[date, HolidayNotice] = {}
        for notice in notices:
            other = self._notices.get(notice.year)
            if other is not None:
                raise CalendarError(
                    f"{notice.year}年的节假日安排重复:{other.source} 与 {notice.source}"
                )
            self._notices[notice.year] = notice
            for kinds, mine, theirs in (
                ((notice.holidays, self._holidays, self._workdays)),
                ((notice.workdays, self._workdays, self._holidays)),
            ):
                for day, name in kinds.items():
                    if day in theirs:
                        raise CalendarError(
                            f"{day.isoformat()} 在 {origin[day].source} 与 {notice.source} "
                            "中的安排相互矛盾(一处放假,一处上班)"
                        )
                    mine[day] = name
                    origin.setdefault(day, notice)
        self._years: dict[int, tuple[int, ...]] = {
            year: self._working_ordinals(year) for year in self._notices
        }

    @property
    def years(self) -> tuple[int, ...]:
        """The covered years, ascending."""
        return tuple(sorted(self._notices))

    def covers(self, year: int) -> bool:
        """Whether ``year``'s official notice is known (fallback not considered)."""
        return year in self._notices

    def notice(self, year: int) -> HolidayNotice | None:
        """The notice ``year`` was built from, or None."""
        return self._notices.get(year)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day. Raises CalendarError for an uncovered year."""
        _check_date(day)
        self._year_days(day.year)
        return self._rule(day)

    def holiday_name(self, day: date) -> str | None:
        """The name of the statutory holiday ``day`` belongs to, else None.

        Ordinary weekends give None. Raises CalendarError for an uncovered year.
        """
        _check_date(day)
        self._year_days(day.year)
        return self._holidays.get(day)

    def workday_on_or_after(self, day: date) -> date:
        """``day`` if it is a working day, else the first working day after it."""
        _check_date(day)
        days = self._year_days(day.year)
        index = bisect_left(days, day.toordinal())
        year = day.year
        while index >= len(days):
            year += 1
            days, index = self._year_days(year), 0
        return date.fromordinal(days[index])

    def workday_on_or_before(self, day: date) -> date:
        """``day`` if it is a working day, else the last working day before it.

        This is where a due date that falls on a non-working day moves to.
        """
        _check_date(day)
        days = self._year_days(day.year)
        index = bisect_right(days, day.toordinal()) - 1
        year = day.year
        while index < 0:
            year -= 1
            days = self._year_days(year)
            index = len(days) - 1
        return date.fromordinal(days[index])

    def add_workdays(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (before it when ``n`` < 0).

        ``day`` itself is never counted: ``add_workdays(d, 1)`` is the first
        working day strictly after ``d`` and ``add_workdays(d, -1)`` the last
        one strictly before ``d``, whether or not ``d`` is a working day. For
        ``n`` != 0 the result is always a working day. ``add_workdays(d, 0)``
        returns ``d`` unchanged even when ``d`` is not a working day (after
        checking its year is covered); roll it with :meth:`workday_on_or_after`
        or :meth:`workday_on_or_before` when a working day is needed.

        Guarantee: ``count_workdays(d, add_workdays(d, n)) == n`` for every
        ``d`` and ``n``.
        """
        _check_date(day)
        days = self._year_days(day.year)
        if n == 0:
            return day
        year = day.year
        if n > 0:
            index = bisect_right(days, day.toordinal())  # first working day after day
            while index + n > len(days):
                n -= len(days) - index
                year += 1
                days, index = self._year_days(year), 0
            return date.fromordinal(days[index + n - 1])
        back = -n
        index = bisect_left(days, day.toordinal())  # working days before day, this year
        while back > index:
            back -= index
            year -= 1
            days = self._year_days(year)
            index = len(days)
        return date.fromordinal(days[index - back])

    def count_workdays(self, start: date, end: date) -> int:
        """Signed number of working days passed going from ``start`` to ``end``.

        ``start`` is excluded and ``end`` included, in either direction:
        for ``start <= end`` it is the number of working days ``d`` with
        ``start < d <= end``; for ``end < start`` it is minus the number with
        ``end <= d < start``. So it is the inverse of :meth:`add_workdays`
        (``count_workdays(d, add_workdays(d, n)) == n``), and
        ``count_workdays(due, today)`` is how many working days a task is
        overdue (0 on the due date itself). Every year from the earlier to the
        later date must be covered.
        """
        _check_date(start)
        _check_date(end)
        if start == end:
            self._year_days(start.year)
            return 0
        if start < end:
            return self._span(start, end, bisect_right)
        return -self._span(end, start, bisect_left)

    def maybe_add_workdays(self, day: date, n: int) -> date | Unpublished:
        """:meth:`add_workdays`, or :class:`Unpublished` naming the first year it
        needs that is not covered (never with ``weekend_fallback``)."""
        try:
            return self.add_workdays(day, n)
        except CalendarError as err:
            return _unpublished(err)

    def maybe_count_workdays(self, start: date, end: date) -> int | Unpublished:
        """:meth:`count_workdays`, or :class:`Unpublished` (see :meth:`maybe_add_workdays`)."""
        try:
            return self.count_workdays(start, end)
        except CalendarError as err:
            return _unpublished(err)

    def maybe_workday_on_or_after(self, day: date) -> date | Unpublished:
        """:meth:`workday_on_or_after`, or :class:`Unpublished`."""
        try:
            return self.workday_on_or_after(day)
        except CalendarError as err:
            return _unpublished(err)

    def maybe_is_workday(self, day: date) -> bool | Unpublished:
        """:meth:`is_workday`, or :class:`Unpublished` for a year not covered."""
        try:
            return self.is_workday(day)
        except CalendarError as err:
            return _unpublished(err)

    def _span(self, low: date, high: date, rank: _Rank) -> int:
        """Working days between ``low`` < ``high``, each end ranked by ``rank``."""
        low_days = self._year_days(low.year)
        total = -rank(low_days, low.toordinal())
        for year in range(low.year, high.year):
            total += len(self._year_days(year))
        total += rank(self._year_days(high.year), high.toordinal())
        return total

    def _rule(self, day: date) -> bool:
        if day in self._workdays:
            return True
        return day.weekday() < 5 and day not in self._holidays

    def _working_ordinals(self, year: int) -> tuple[int, ...]:
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        return tuple(
            ordinal for ordinal in range(first, last + 1) if self._rule(date.fromordinal(ordinal))
        )

    def _year_days(self, year: int) -> tuple[int, ...]:
        """Sorted working-day ordinals of ``year``; raises for an uncovered year."""
        days = self._years.get(year)
        if days is not None:
            return days
        if not self.weekend_fallback:
            raise CalendarError(
                f"日历不含{year}年的节假日安排,无法计算工作日。请在 {self.missing_year_hint} "
                f"添加该年的国务院办公厅节假日安排通知数据文件({year}.yaml)",
                year=year,
            )
        if not 1 <= year <= 9999:
            raise CalendarError(f"日期超出可计算范围(第{year}年)", year=year)
        days = self._working_ordinals(year)
        self._years[year] = days
        return days


def likely_workday(calendar: WorkCalendar, day: date) -> bool:
    """Whether ``day`` is a working day, guessing Monday to Friday when its year
    is not covered yet.

    For *when things happen* only — whether a round runs, when a message may go
    out — where waiting for the notice would stop everything; never for a
    deadline or a count of working days.
    """
    answer = calendar.maybe_is_workday(day)
    if isinstance(answer, Unpublished):
        return day.weekday() < 5
    return answer


def _unpublished(err: CalendarError) -> Unpublished:
    """The value for an uncovered year; any other calendar error is re-raised."""
    if err.year is None or not 1 <= err.year <= 9999:
        raise err
    return Unpublished(err.year)


def _check_date(day: object) -> None:
    # A datetime is a date subclass; its day depends on the time zone, so make
    # the caller choose the Asia/Shanghai day explicitly.
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a datetime.date, got {type(day).__name__}")
