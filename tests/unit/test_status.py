"""Derived status and lights, as of any day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from duban.domain.lifecycle import TaskState
from duban.domain.status import (
    Indicator,
    Light,
    Reading,
    StatusPolicy,
    TaskFacts,
    TaskStatus,
    assess,
    report_periods,
    worst_light,
)
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar

DUE = date(2015, 12, 31)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return build_work_calendar([])


def facts(**kw: object) -> TaskFacts:
    base = TaskFacts(state=TaskState.ACKNOWLEDGED, due=DUE, original_due=DUE,
                     assigned_on=date(2015, 9, 1),
                     report_dates=(date(2015, 10, 8), date(2016, 1, 5)))
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "as_of", "status", "light"),
    [
        ({}, date(2015, 11, 2), TaskStatus.NOT_YET_DUE, Light.GREEN),
        ({}, date(2015, 12, 21), TaskStatus.DUE_SOON, Light.BLUE),
        ({}, DUE, TaskStatus.DUE_SOON, Light.BLUE),
        ({"report_dates": (date(2015, 10, 8),)}, DUE, TaskStatus.DUE_SOON, Light.BLUE),
        ({}, date(2016, 1, 4), TaskStatus.OVERDUE, Light.RED),
        ({"state": TaskState.SUBMITTED, "submitted_on": date(2015, 12, 30)}, date(2016, 1, 20),
         TaskStatus.SUBMITTED, Light.GREEN),
        ({"state": TaskState.SUBMITTED, "submitted_on": date(2016, 1, 4)}, date(2016, 1, 20),
         TaskStatus.SUBMITTED, Light.LATE),
        ({"state": TaskState.APPROVED, "submitted_on": date(2015, 12, 30)}, date(2016, 2, 1),
         TaskStatus.DONE_ON_TIME, Light.GREEN),
        ({"state": TaskState.APPROVED, "submitted_on": date(2016, 1, 4)}, date(2016, 2, 1),
         TaskStatus.DONE_LATE, Light.LATE),
        ({"state": TaskState.APPROVED, "submitted_on": date(2016, 3, 1), "extended": True,
          "due": date(2016, 3, 31)}, date(2016, 4, 1), TaskStatus.DONE_AFTER_EXTENSION,
         Light.GREEN),
        ({"report_dates": ()}, date(2015, 11, 2), TaskStatus.NOT_YET_DUE, Light.YELLOW),
    ],
)
def test_status_and_light(cal: WorkCalendar, kw: dict[str, object], as_of: date,
                          status: TaskStatus, light: Light) -> None:
    result = assess(facts(**kw), as_of, cal)
    assert (result.status, result.light) == (status, light)


def test_quarterly_reports_due_fifth_working_day_after_quarter(cal: WorkCalendar) -> None:
    periods = report_periods(date(2015, 9, 1), date(2015, 12, 31), cal, StatusPolicy())
    # Q3 ends 2015-09-30; after the National Day holiday (10-01..07) the working days
    # are 10-08, 10-09, 10-10 (a make-up Saturday), 10-12 and 10-13.
    assert [(p.period_end, p.deadline) for p in periods] == [
        (date(2015, 9, 30), date(2015, 10, 13)), (date(2015, 12, 31), date(2016, 1, 8))]


def test_missing_report_is_named(cal: WorkCalendar) -> None:
    result = assess(facts(report_dates=()), date(2015, 10, 14), cal)
    assert result.light is Light.YELLOW and "缺报进度1次" in result.reasons
    assert assess(facts(report_dates=()), date(2015, 10, 13), cal).light is Light.GREEN


def test_indicator_behind_the_straight_line_is_yellow(cal: WorkCalendar) -> None:
    ind = Indicator(">=", 75.0, baseline=60.0)
    behind = facts(indicator=ind, readings=(Reading(date(2015, 10, 20), 61.0),))
    ahead = facts(indicator=ind, readings=(Reading(date(2015, 10, 20), 70.0),))
    assert "指标进度落后" in assess(behind, date(2015, 11, 2), cal).reasons
    assert assess(ahead, date(2015, 11, 2), cal).light is Light.GREEN


def test_measure_light_is_the_worst(cal: WorkCalendar) -> None:
    assert worst_light([Light.GREEN, Light.RED, Light.YELLOW]) is Light.RED
    assert worst_light([Light.GREEN, Light.LATE, Light.BLUE]) is Light.BLUE
    assert worst_light([Light.GREEN, Light.LATE]) is Light.LATE
    assert worst_light([]) is Light.GREEN


def test_approaching_is_blue_and_behind_schedule_is_yellow_even_when_approaching(
    cal: WorkCalendar,
) -> None:
    soon = assess(facts(), date(2015, 12, 21), cal)
    assert (soon.light, soon.reasons) == (Light.BLUE, ("距期限8个工作日",))
    # Q3's report missing (none in (09-30, 10-13]) and the deadline near: yellow.
    behind = assess(facts(report_dates=(date(2016, 1, 5),)), date(2015, 12, 21), cal)
    assert behind.light is Light.YELLOW
    assert behind.reasons == ("距期限8个工作日", "缺报进度1次")


def test_finished_late_is_its_own_mark_with_the_days_late(cal: WorkCalendar) -> None:
    late = assess(facts(state=TaskState.APPROVED, submitted_on=date(2016, 1, 6)),
                  date(2016, 2, 1), cal)
    # 2016-01-01 is a holiday: 01-04, 01-05, 01-06 are the working days late.
    assert (late.status, late.light, late.reasons) == (
        TaskStatus.DONE_LATE, Light.LATE, ("逾期3个工作日报结",))
