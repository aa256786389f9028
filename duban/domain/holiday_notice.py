"""One year's official holiday arrangement (:class:`HolidayNotice`), checked on
construction, and the calendar's error and "not yet published" answer.

:mod:`duban.domain.workdays` builds its :class:`~duban.domain.workdays.WorkCalendar`
from these notices; the names here are importable from there too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from duban.domain.errors import DubanError

# A holiday that needs more days than this is a typing slip in a data file
# (the longest so far: Spring Festival 2020, extended to 10 days).
MAX_HOLIDAY_DAYS = 15

WEEKDAY_NAMES = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")

# How a date is shown when it needs a year whose holiday notice is not yet given.
UNPUBLISHED_LABEL = "待日历公布"


class CalendarError(DubanError):
    """The calendar cannot answer, or its data is invalid.

    ``year`` is set when the cause is a year the calendar does not cover.
    """

    def __init__(self, message: str, *, where: str | None = None, year: int | None = None):
        self.year = year
        super().__init__(message, where=where)


@dataclass(frozen=True)
class Unpublished:
    """An answer that needs ``year``'s holiday notice, which is not yet given.

    Returned by the ``maybe_*`` methods of :class:`WorkCalendar` instead of a
    date or a count; ``str()`` is :data:`UNPUBLISHED_LABEL` (待日历公布).
    """

    year: int

    def __str__(self) -> str:
        return UNPUBLISHED_LABEL

    @property
    def label(self) -> str:
        return UNPUBLISHED_LABEL


MaybeDate = date | Unpublished


@dataclass(frozen=True, eq=False)
class HolidayNotice:
    """One year's official holiday arrangement.

    ``holidays`` maps each day off to its holiday's name (a holiday may include
    weekend days); ``workdays`` maps each weekend day that is a working day
    (调休上班) to the holiday it makes up for ("" when not known). ``source``
    names where the data came from and is used in error messages.

    Dates must lie in ``year`` or in December of ``year - 1`` (the New Year
    holiday and its make-up day can fall there). Construction raises
    :class:`CalendarError` naming ``source`` and the entry when a date lies
    elsewhere, a make-up working day is not a Saturday or Sunday, a day is both a
    holiday and a working day, or a holiday has more than
    :data:`MAX_HOLIDAY_DAYS` days.
    """

    year: int
    holidays: Mapping[date, str]
    workdays: Mapping[date, str] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        # Freeze copies so a caller's later edits cannot change a built calendar.
        object.__setattr__(self, "holidays", MappingProxyType(dict(self.holidays)))
        object.__setattr__(self, "workdays", MappingProxyType(dict(self.workdays)))
        self._validate()

    def _error(self, message: str) -> CalendarError:
        return CalendarError(message, where=self.source or f"{self.year}年节假日安排")

    def _check_in_year(self, day: date, entry: str) -> None:
        if day.year == self.year or (day.year == self.year - 1 and day.month == 12):
            return
        raise self._error(
            f"{entry}的日期 {day.isoformat()} 不属于{self.year}年"
            f"(只允许{self.year}年内的日期,或元旦假期所跨的{self.year - 1}年12月)"
        )

    def _validate(self) -> None:
        if not 1 < self.year <= 9999:
            raise self._error(f"年份 {self.year} 无效")
        per_holiday: dict[str, int] = {}
        for day, name in sorted(self.holidays.items()):
            if isinstance(day, datetime) or not isinstance(day, date):
                raise self._error(f"节假日“{name}”的日期 {day!r} 不是日期")
            self._check_in_year(day, f"节假日“{name}”")
            if day in self.workdays:
                raise self._error(f"{day.isoformat()} 既列为节假日“{name}”又列为调休上班日")
            per_holiday[name] = per_holiday.get(name, 0) + 1
        for name, count in per_holiday.items():
            if count > MAX_HOLIDAY_DAYS:
                raise self._error(
                    f"节假日“{name}”共{count}天,超过{MAX_HOLIDAY_DAYS}天,请核对日期范围"
                )
        for day, name in sorted(self.workdays.items()):
            entry = f"调休上班日({name})" if name else "调休上班日"
            if isinstance(day, datetime) or not isinstance(day, date):
                raise self._error(f"{entry}的日期 {day!r} 不是日期")
            self._check_in_year(day, entry)
            if day.weekday() < 5:
                raise self._error(
                    f"{entry} {day.isoformat()} 是{WEEKDAY_NAMES[day.weekday()]},"
                    "本来就是工作日;调休上班日应为星期六或星期日,请核对"
                )
