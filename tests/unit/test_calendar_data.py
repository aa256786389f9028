"""The calendar built from the chinesecalendar package and operator notice files."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from duban.config import Settings
from duban.domain.workdays import CalendarError, WorkCalendar
from duban.services.calendar.data import (
    SHIPPED_CALENDAR_DIR,
    build_work_calendar,
    load_work_calendar,
    package_notices,
    read_notice_dir,
    read_notice_file,
)
from tests.unit.test_workdays import KNOWN_DAYS

D = date.fromisoformat

# A made-up arrangement for a year no package covers; test data only.
NOTICE_2035 = """\
year: 2035
notice: 测试用虚构安排
holidays:
  - name: 元旦
    days: [2035-01-01]
  - name: 春节
    days: ["2035-02-07..2035-02-13"]
workdays:
  - 2035-02-04
  - {name: 春节, days: ["2035-02-17"]}
"""


@pytest.fixture(scope="module")
def package_calendar() -> WorkCalendar:
    return build_work_calendar([])


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("day", "expected", "why"), KNOWN_DAYS)
def test_package_data_has_the_known_days(
    package_calendar: WorkCalendar, day: str, expected: bool, why: str
) -> None:
    assert package_calendar.is_workday(D(day)) is expected, why


def test_package_covers_2004_through_2026(package_calendar: WorkCalendar) -> None:
    years = package_calendar.years
    assert years[0] == 2004
    assert years[-1] >= 2026
    assert years == tuple(range(years[0], years[-1] + 1))


def test_package_calendar_agrees_with_the_package_every_day(
    package_calendar: WorkCalendar,
) -> None:
    day, last = date(package_calendar.years[0], 1, 1), date(package_calendar.years[-1], 12, 31)
    while day <= last:
        assert package_calendar.is_workday(day) is chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_package_new_year_in_december_goes_to_next_notice() -> None:
    notices = {notice.year: notice for notice in package_notices()}
    assert D("2018-12-29") in notices[2019].workdays
    assert notices[2019].holidays[D("2018-12-30")] == "元旦"
    assert D("2018-12-30") not in notices[2018].holidays
    assert "chinesecalendar" in notices[2019].source


def test_package_names_holidays_in_chinese(package_calendar: WorkCalendar) -> None:
    assert package_calendar.holiday_name(D("2015-10-01")) == "国庆节"
    assert package_calendar.holiday_name(D("2015-10-10")) is None


def test_add_and_count_over_national_day_2015(package_calendar: WorkCalendar) -> None:
    assert package_calendar.add_workdays(D("2015-09-30"), 1) == D("2015-10-08")
    assert package_calendar.add_workdays(D("2015-09-30"), 3) == D("2015-10-10")
    assert package_calendar.count_workdays(D("2015-09-30"), D("2015-10-12")) == 4
    assert package_calendar.workday_on_or_before(D("2015-10-04")) == D("2015-09-30")


def test_year_after_coverage_is_an_error_naming_it(package_calendar: WorkCalendar) -> None:
    year = package_calendar.years[-1] + 1
    with pytest.raises(CalendarError, match=f"日历不含{year}年的节假日安排") as caught:
        package_calendar.is_workday(date(year, 3, 1))
    assert caught.value.year == year
    with pytest.raises(CalendarError, match="日历不含2003年"):
        package_calendar.add_workdays(D("2004-01-05"), -10)


def test_weekend_fallback_opt_in() -> None:
    calendar = build_work_calendar([], weekend_fallback=True)
    assert calendar.is_workday(D("2035-02-08"))  # a Thursday, no data: weekday
    assert not calendar.is_workday(D("2035-02-04"))  # a Sunday


def test_operator_file_makes_a_future_year_known(tmp_path: Path) -> None:
    write(tmp_path, "2035.yaml", NOTICE_2035)
    with pytest.raises(CalendarError, match="2035"):
        build_work_calendar([]).is_workday(D("2035-02-08"))
    calendar = build_work_calendar([tmp_path])
    assert calendar.covers(2035)
    assert not calendar.is_workday(D("2035-02-08"))  # 春节, a Thursday
    assert calendar.is_workday(D("2035-02-04"))  # 调休 Sunday
    assert calendar.is_workday(D("2035-02-17"))  # 调休 Saturday
    assert calendar.holiday_name(D("2035-02-13")) == "春节"
    assert calendar.add_workdays(D("2035-02-06"), 1) == D("2035-02-14")
    assert "测试用虚构安排" in calendar.notice(2035).source  # type: ignore[union-attr]
    with pytest.raises(CalendarError, match="2036") as caught:
        calendar.is_workday(D("2036-01-02"))
    assert str(tmp_path) in str(caught.value)  # the hint names the operator's directory


def test_operator_file_replaces_the_package_year_whole(tmp_path: Path) -> None:
    write(tmp_path, "2015.yaml", "year: 2015\nholidays:\n  - {name: 元旦, days: [2015-01-01]}\n")
    calendar = build_work_calendar([tmp_path])
    assert calendar.is_workday(D("2015-10-01"))  # no longer a holiday
    assert not calendar.is_workday(D("2015-10-10"))  # no longer a make-up day
    assert calendar.is_workday(D("2014-09-28"))  # other years untouched
    assert str(tmp_path / "2015.yaml") in calendar.notice(2015).source  # type: ignore[union-attr]


def test_later_directory_wins(tmp_path: Path) -> None:
    write(tmp_path / "a", "2035.yaml", NOTICE_2035)
    write(
        tmp_path / "b", "2035.yaml", "year: 2035\nholidays:\n  - {name: 元旦, days: [2035-01-01]}\n"
    )
    calendar = build_work_calendar([tmp_path / "a", tmp_path / "b"])
    assert calendar.is_workday(D("2035-02-08"))


def test_non_yaml_files_and_missing_dirs_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "not data")
    assert read_notice_dir(tmp_path) == []
    assert read_notice_dir(tmp_path / "absent") == []
    assert read_notice_dir(SHIPPED_CALENDAR_DIR) is not None  # the shipped dir loads


def test_two_files_for_one_year_in_a_directory(tmp_path: Path) -> None:
    write(tmp_path, "2035.yaml", NOTICE_2035)
    write(tmp_path, "chunjie.yml", NOTICE_2035)
    with pytest.raises(CalendarError, match="2035年的节假日安排重复") as caught:
        read_notice_dir(tmp_path)
    assert "2035.yaml" in str(caught.value) and "chunjie.yml" in str(caught.value)


HEAD = "year: 2035\nholidays:\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (HEAD + "  - {name: 春节, days: [2035-02-07]}\nworkdays: [2035-02-05]\n", "是星期一"),
        (HEAD + "  - {name: 春节, days: [2034-02-07]}\n", "2034-02-07 不属于2035年"),
        (HEAD + "  - {name: 春节, days: [2035-02-07]}\nworkdays: [2036-01-05]\n", "不属于2035年"),
        (HEAD + "  - {name: 春节, days: [2035-02-30]}\n", "“2035-02-30”不是有效日期"),
        (HEAD + "  - {name: 春节, days: [2035/02/07]}\n", "“2035/02/07”不是有效日期"),
        (HEAD + "  - {name: 春节, days: ['2035-2-7']}\n", "“2035-2-7”不是有效日期"),
        (HEAD + "  - {name: 春节, days: ['2035-02-13..2035-02-07']}\n", "结束早于开始"),
        (HEAD + "  - {name: 春节, days: ['2035-02-07..2035-03-07']}\n", "共29天"),
        (HEAD + "  - {name: 春节, days: ['2035-02-07..2035-02-07x']}\n", "不是有效日期"),
        (HEAD + "  - {name: 春节, days: [2035-02-07, 2035-02-07]}\n", "重复列出"),
        (HEAD + "  - {name: 春节}\n", "holidays 第1项应为只含 name 与 days"),
        (HEAD + "  - {name: '', days: [2035-02-07]}\n", "name 应为节日名称"),
        (HEAD + "  - {name: 春节, days: []}\n", "days 应为非空日期列表"),
        (
            HEAD + "  - {name: 春节, days: [2035-02-07]}\nworkdays: [{days: [2035-02-04]}]\n",
            "workdays 第1项",
        ),
        (
            HEAD + "  - {name: 春节, days: [2035-02-07]}\nworkday: [2035-02-04]\n",
            "未知的键 workday",
        ),
        ("year: 2035\n", "holidays 应为非空列表"),
        ("year: '2035'\nholidays: []\n", "year 应为四位年份整数"),
        ("year: 2036\nholidays:\n  - {name: 元旦, days: [2036-01-01]}\n", "文件名表示2035年"),
        ("- 2035-01-01\n", "文件内容应为"),
        ("year: 2035\nholidays: [\n", "不是有效的 YAML"),
    ],
)
def test_bad_operator_files_name_file_and_entry(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, "2035.yaml", text)
    with pytest.raises(CalendarError) as caught:
        read_notice_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert fragment in message
    with pytest.raises(CalendarError):  # the whole load fails too, never half a calendar
        build_work_calendar([tmp_path])


def test_same_day_under_two_holidays_names_the_second(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "2035.yaml",
        HEAD + "  - {name: 春节, days: [2035-02-07]}\n  - {name: 国庆节, days: [2035-02-07]}\n",
    )
    with pytest.raises(CalendarError, match="holidays 第2项“国庆节”的日期 2035-02-07 重复列出"):
        read_notice_file(path)


def test_settings_default_dir_is_data_dir_calendar(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(CalendarError) as caught:
        load_work_calendar(settings).is_workday(D("2035-02-08"))
    assert str(tmp_path / "calendar") in str(caught.value)  # where to add the year
    write(tmp_path / "calendar", "2035.yaml", NOTICE_2035)
    assert not load_work_calendar(settings).is_workday(D("2035-02-08"))


def test_settings_calendar_dir(tmp_path: Path) -> None:
    write(tmp_path / "notices", "2035.yaml", NOTICE_2035)
    settings = Settings(data_dir=tmp_path / "data", calendar_dir=tmp_path / "notices")
    calendar = load_work_calendar(settings)
    assert calendar.covers(2035)
    assert calendar.covers(2015)
    fallback = load_work_calendar(settings, weekend_fallback=True)
    assert fallback.is_workday(D("2040-03-01"))  # a Thursday


def test_settings_calendar_dir_must_exist(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, calendar_dir=tmp_path / "missing")
    with pytest.raises(CalendarError, match="DUBAN_CALENDAR_DIR") as caught:
        load_work_calendar(settings)
    assert str(tmp_path / "missing") in str(caught.value)


def test_a_running_process_reads_a_year_added_to_the_calendar_directory(
    tmp_path: Path,
) -> None:
    import shutil

    from duban.wiring import AppContext
    from tests.paths import FIXTURES

    operator = tmp_path / "calendar"
    operator.mkdir()
    context = AppContext(Settings(data_dir=tmp_path / "data", calendar_dir=operator))
    context.calendar_recheck_seconds = 0
    assert not context.calendar.covers(2027)
    shutil.copy(FIXTURES / "calendar" / "2027.yaml", operator / "2027.yaml")
    assert context.calendar.covers(2027)
    # A broken file dropped in later does not take the calendar away.
    (operator / "2028.yaml").write_text("year: 2028\nholidays: nonsense\n", encoding="utf-8")
    assert context.calendar.covers(2027) and not context.calendar.covers(2028)
