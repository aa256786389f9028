"""WorkCalendar on hand-written notices: known days, arithmetic, coverage, validation."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from duban.domain import workdays as workdays_module
from duban.domain.errors import DubanError
from duban.domain.workdays import (
    CalendarError,
    HolidayNotice,
    Unpublished,
    WorkCalendar,
    likely_workday,
)

D = date.fromisoformat
ANTI_FASCIST = "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日"


def days(*specs: str) -> list[date]:
    """Dates from "YYYY-MM-DD" or "first..last" (both ends included)."""
    out: list[date] = []
    for spec in specs:
        first, _, last = spec.partition("..")
        start, end = D(first), D(last or first)
        out.extend(start + timedelta(days=n) for n in range((end - start).days + 1))
    return out


def notice(year: int, holidays: dict[str, list[date]], workdays: list[date]) -> HolidayNotice:
    return HolidayNotice(
        year=year,
        holidays={day: name for name, dates in holidays.items() for day in dates},
        workdays=dict.fromkeys(workdays, ""),
        source=f"测试{year}",
    )


# The State Council notices for 2014 and 2015 (国办发明电〔2013〕28号, 〔2014〕28号
# and the 2015 anti-fascist victory day notice), as published.
NOTICE_2014 = notice(
    2014,
    {
        "元旦": days("2014-01-01"),
        "春节": days("2014-01-31..2014-02-06"),
        "清明节": days("2014-04-05..2014-04-07"),
        "劳动节": days("2014-05-01..2014-05-03"),
        "端午节": days("2014-05-31..2014-06-02"),
        "中秋节": days("2014-09-06..2014-09-08"),
        "国庆节": days("2014-10-01..2014-10-07"),
    },
    days("2014-01-26", "2014-02-08", "2014-05-04", "2014-09-28", "2014-10-11"),
)
NOTICE_2015 = notice(
    2015,
    {
        "元旦": days("2015-01-01..2015-01-03"),
        "春节": days("2015-02-18..2015-02-24"),
        "清明节": days("2015-04-04..2015-04-06"),
        "劳动节": days("2015-05-01..2015-05-03"),
        "端午节": days("2015-06-20..2015-06-22"),
        ANTI_FASCIST: days("2015-09-03..2015-09-05"),
        "中秋节": days("2015-09-26..2015-09-27"),
        "国庆节": days("2015-10-01..2015-10-07"),
    },
    days("2015-01-04", "2015-02-15", "2015-02-28", "2015-09-06", "2015-10-10"),
)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar([NOTICE_2014, NOTICE_2015], missing_year_hint="/srv/duban/calendar")


# (date, is a working day, why). Shared with test_calendar_data, which checks the
# same facts against the chinesecalendar package's data.
KNOWN_DAYS: list[tuple[str, bool, str]] = [
    ("2015-10-10", True, "Saturday, 调休 for National Day"),
    *((day.isoformat(), False, "National Day") for day in days("2015-10-01..2015-10-07")),
    ("2015-10-08", True, "Thursday after National Day"),
    ("2015-10-09", True, "Friday"),
    ("2015-10-11", False, "ordinary Sunday"),
    ("2014-09-28", True, "Sunday, 调休 for National Day 2014"),
    ("2014-10-11", True, "Saturday, 调休 for National Day 2014"),
    ("2014-10-12", False, "ordinary Sunday"),
    ("2015-09-03", False, "anti-fascist victory day"),
    ("2015-09-04", False, "anti-fascist victory day, a Friday"),
    ("2015-09-06", True, "Sunday, 调休 for the victory day"),
    ("2015-09-07", True, "Monday"),
    ("2015-01-04", True, "Sunday, 调休 for New Year"),
    ("2015-02-24", False, "Spring Festival, a Tuesday"),
    ("2014-12-31", True, "Wednesday"),
]


@pytest.mark.parametrize(("day", "expected", "why"), KNOWN_DAYS)
def test_known_days(calendar: WorkCalendar, day: str, expected: bool, why: str) -> None:
    assert calendar.is_workday(D(day)) is expected, why


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2015-10-01", "国庆节"),
        ("2015-09-04", ANTI_FASCIST),
        ("2015-10-10", None),
        ("2015-10-11", None),
    ],
)
def test_holiday_name(calendar: WorkCalendar, day: str, expected: str | None) -> None:
    assert calendar.holiday_name(D(day)) == expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2015-09-30", 1, "2015-10-08"),  # straight over the National Day week
        ("2015-09-30", 3, "2015-10-10"),  # the working Saturday counts
        ("2015-09-30", 4, "2015-10-12"),
        ("2015-10-01", 1, "2015-10-08"),  # from inside the holiday
        ("2015-10-03", 0, "2015-10-03"),  # 0 leaves a non-working day unchanged
        ("2015-09-30", 0, "2015-09-30"),
        ("2015-10-08", -1, "2015-09-30"),
        ("2015-10-12", -1, "2015-10-10"),
        ("2015-10-12", -2, "2015-10-09"),
        ("2015-10-03", -1, "2015-09-30"),
        ("2015-09-02", 1, "2015-09-06"),  # over the victory days to the working Sunday
        ("2014-12-31", 1, "2015-01-04"),  # across the year boundary
        ("2015-01-05", -2, "2014-12-31"),
        ("2014-01-02", 249, "2014-12-31"),  # 2014 had 250 working days, 01-02 the first
        ("2014-01-02", 250, "2015-01-04"),
        ("2015-12-31", -248, "2015-01-04"),  # 2015 had 249, 12-31 the last
        ("2015-12-31", -498, "2014-01-02"),
    ],
)
def test_add_workdays(calendar: WorkCalendar, start: str, n: int, expected: str) -> None:
    assert calendar.add_workdays(D(start), n) == D(expected)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2015-09-30", "2015-10-08", 1),
        ("2015-09-30", "2015-10-12", 4),  # 10-08, 10-09, 10-10, 10-12
        ("2015-10-01", "2015-10-07", 0),
        ("2015-10-07", "2015-10-08", 1),  # end included
        ("2015-10-08", "2015-10-09", 1),  # start excluded
        ("2015-10-08", "2015-10-08", 0),
        ("2015-10-12", "2015-09-30", -4),  # backwards: 10-10, 10-09, 10-08, 09-30
        ("2015-10-07", "2015-09-30", -1),
        ("2014-12-31", "2015-01-05", 2),  # 01-04 (working Sunday), 01-05
        ("2014-01-01", "2014-12-31", 250),
        ("2014-01-01", "2015-12-31", 250 + 249),
    ],
)
def test_count_workdays(calendar: WorkCalendar, start: str, end: str, expected: int) -> None:
    assert calendar.count_workdays(D(start), D(end)) == expected


def brute_count(calendar: WorkCalendar, start: date, end: date) -> int:
    if start <= end:
        span = days(f"{start + timedelta(days=1)}..{end}") if start < end else []
        return sum(calendar.is_workday(d) for d in span)
    return -sum(calendar.is_workday(d) for d in days(f"{end}..{start - timedelta(days=1)}"))


def test_arithmetic_agrees_with_day_by_day_counting(calendar: WorkCalendar) -> None:
    samples = days("2014-12-20..2015-01-10", "2015-09-25..2015-10-15")
    for start in samples:
        for end in samples[::3]:
            assert calendar.count_workdays(start, end) == brute_count(calendar, start, end)
        for n in range(-12, 13):
            result = calendar.add_workdays(start, n)
            assert calendar.count_workdays(start, result) == n, (start, n)
            if n:
                assert calendar.is_workday(result), (start, n)


@pytest.mark.parametrize(
    ("day", "before", "after"),
    [
        ("2015-10-03", "2015-09-30", "2015-10-08"),
        ("2015-10-10", "2015-10-10", "2015-10-10"),  # a working Saturday stays put
        ("2014-09-28", "2014-09-28", "2014-09-28"),
        ("2015-09-05", "2015-09-02", "2015-09-06"),
        ("2015-01-01", "2014-12-31", "2015-01-04"),
        ("2015-10-11", "2015-10-10", "2015-10-12"),
    ],
)
def test_roll_to_working_day(calendar: WorkCalendar, day: str, before: str, after: str) -> None:
    assert calendar.workday_on_or_before(D(day)) == D(before)
    assert calendar.workday_on_or_after(D(day)) == D(after)


@pytest.mark.parametrize(
    ("call", "year"),
    [
        (lambda c: c.is_workday(D("2031-03-03")), 2031),
        (lambda c: c.holiday_name(D("2031-03-03")), 2031),
        (lambda c: c.add_workdays(D("2031-03-03"), 0), 2031),
        (lambda c: c.add_workdays(D("2015-12-30"), 5), 2016),
        (lambda c: c.add_workdays(D("2014-01-03"), -5), 2013),
        (lambda c: c.count_workdays(D("2015-06-01"), D("2016-01-05")), 2016),
        (lambda c: c.count_workdays(D("2016-01-05"), D("2015-06-01")), 2016),
        (lambda c: c.workday_on_or_after(D("2015-12-31") + timedelta(days=1)), 2016),
        (lambda c: c.workday_on_or_before(D("2014-01-01")), 2013),  # 2014-01-01 is a holiday
    ],
)
def test_uncovered_year_is_an_error_naming_it(
    calendar: WorkCalendar, call: Callable[[WorkCalendar], object], year: int
) -> None:
    with pytest.raises(CalendarError) as caught:
        call(calendar)
    assert caught.value.year == year
    assert f"日历不含{year}年的节假日安排" in str(caught.value)
    assert "/srv/duban/calendar" in str(caught.value)
    assert f"{year}.yaml" in str(caught.value)
    assert isinstance(caught.value, DubanError)


def test_weekend_fallback_is_opt_in() -> None:
    fallback = WorkCalendar([NOTICE_2015], weekend_fallback=True)
    assert not fallback.covers(2031)
    assert fallback.is_workday(D("2031-03-03"))  # Monday
    assert not fallback.is_workday(D("2031-03-01"))  # Saturday
    assert fallback.add_workdays(D("2015-12-31"), 1) == D("2016-01-01")  # unknown: a Friday
    assert fallback.count_workdays(D("2014-12-31"), D("2015-01-05")) == 2
    assert fallback.is_workday(D("2015-10-10"))  # covered years still use the notice
    with pytest.raises(CalendarError):
        WorkCalendar([NOTICE_2015]).is_workday(D("2031-03-03"))


def test_years_and_coverage(calendar: WorkCalendar) -> None:
    assert calendar.years == (2014, 2015)
    assert calendar.covers(2015) and not calendar.covers(2016)
    assert calendar.notice(2015) is NOTICE_2015


def test_datetime_is_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(TypeError):
        calendar.is_workday(datetime(2015, 10, 10, 12, 0))


def test_december_new_year_spillover_belongs_to_next_notice() -> None:
    # The 2019 notice: 2018-12-29 (Saturday) worked, 12-30..01-01 off.
    notice_2019 = notice(2019, {"元旦": days("2018-12-30..2019-01-01")}, days("2018-12-29"))
    cal = WorkCalendar([notice(2018, {"元旦": days("2018-01-01")}, []), notice_2019])
    assert cal.is_workday(D("2018-12-29"))
    assert not cal.is_workday(D("2018-12-31"))  # a Monday
    assert cal.add_workdays(D("2018-12-28"), 1) == D("2018-12-29")
    assert cal.add_workdays(D("2018-12-29"), 1) == D("2019-01-02")


@pytest.mark.parametrize(
    ("holidays", "workdays", "fragment"),
    [
        ({"春节": days("2027-02-05")}, days("2027-02-15"), "2027-02-15 是星期一"),
        ({"春节": days("2026-02-05")}, [], "2026-02-05 不属于2027年"),
        ({"元旦": days("2027-01-01")}, days("2028-01-01"), "2028-01-01 不属于2027年"),
        ({"元旦": days("2026-11-30")}, [], "不属于2027年"),
        ({"春节": days("2027-02-06")}, days("2027-02-06"), "既列为节假日“春节”又列为调休上班日"),
        ({"春节": days("2027-02-01..2027-02-28")}, [], "节假日“春节”共28天"),
    ],
)
def test_notice_validation_names_source_and_entry(
    holidays: dict[str, list[date]], workdays: list[date], fragment: str
) -> None:
    with pytest.raises(CalendarError) as caught:
        HolidayNotice(
            year=2027,
            holidays={day: name for name, dates in holidays.items() for day in dates},
            workdays=dict.fromkeys(workdays, ""),
            source="/srv/duban/calendar/2027.yaml",
        )
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("/srv/duban/calendar/2027.yaml")


def test_notice_allows_new_year_in_previous_december() -> None:
    made = notice(2027, {"元旦": days("2026-12-31..2027-01-02")}, days("2026-12-27"))
    assert D("2026-12-31") in made.holidays


def test_notice_copies_its_input() -> None:
    holidays = {D("2027-01-01"): "元旦"}
    made = HolidayNotice(year=2027, holidays=holidays, source="x")
    holidays[D("2027-01-04")] = "元旦"
    assert D("2027-01-04") not in made.holidays


def test_two_notices_for_one_year_are_an_error() -> None:
    with pytest.raises(CalendarError, match="2015年的节假日安排重复"):
        WorkCalendar([NOTICE_2015, notice(2015, {"元旦": days("2015-01-01")}, [])])


def test_contradicting_notices_are_an_error() -> None:
    # A 2016 notice claiming 2015-12-27 (Sunday) as a working day is fine...
    WorkCalendar([NOTICE_2015, notice(2016, {"元旦": days("2016-01-01")}, days("2015-12-27"))])
    # ...but not one that works a day the 2015 notice gives off.
    clash = notice(2016, {"元旦": days("2016-01-01")}, [])
    clash_2015 = notice(2015, {"元旦": days("2015-12-27")}, [])
    with pytest.raises(CalendarError, match="相互矛盾"):
        WorkCalendar(
            [clash_2015, HolidayNotice(2016, clash.holidays, {D("2015-12-27"): ""}, "测试2016")]
        )


def test_domain_module_imports_only_stdlib_and_domain() -> None:
    tree = ast.parse(Path(workdays_module.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    outside = {
        name
        for name in imported
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("duban.domain")
    }
    assert outside == set()


def test_maybe_answers_name_the_unpublished_year_instead_of_raising(
    calendar: WorkCalendar,
) -> None:
    assert calendar.maybe_add_workdays(D("2015-12-30"), 1) == D("2015-12-31")
    waiting = calendar.maybe_add_workdays(D("2015-12-30"), 5)
    assert waiting == Unpublished(2016) and str(waiting) == "待日历公布"
    assert calendar.maybe_count_workdays(D("2015-06-01"), D("2016-01-05")) == Unpublished(2016)
    assert calendar.maybe_workday_on_or_after(D("2016-01-01")) == Unpublished(2016)
    assert calendar.maybe_is_workday(D("2031-03-03")) == Unpublished(2031)
    assert calendar.maybe_is_workday(D("2015-10-10")) is True
    # Only an uncovered year becomes a value; a wrong argument still raises.
    with pytest.raises(TypeError):
        calendar.maybe_add_workdays(datetime(2015, 1, 5, 9), 1)  # type: ignore[arg-type]


def test_likely_workday_guesses_monday_to_friday_only_for_unpublished_years(
    calendar: WorkCalendar,
) -> None:
    assert not likely_workday(calendar, D("2015-10-01"))  # National Day, known
    assert likely_workday(calendar, D("2015-10-10"))  # a make-up Saturday, known
    assert likely_workday(calendar, D("2031-03-03"))  # Monday of an unpublished year
    assert not likely_workday(calendar, D("2031-03-01"))  # Saturday
