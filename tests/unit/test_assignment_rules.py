"""Assignment rules: milestones, supporting lead time, 各区 expansion, working days."""

from __future__ import annotations

from datetime import date

import pytest

from duban.domain.assignment import (
    AssignmentPolicy,
    MeasureToAssign,
    Responsible,
    TaskIdentity,
    TaskSpec,
    Withdrawn,
    late_at_assignment,
    plan_tasks,
    successors,
    with_grace,
)
from duban.domain.errors import DubanError
from duban.domain.plan_draft import Role
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar

DISTRICTS = ("香洲区", "斗门区", "金湾区")


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return build_work_calendar([])


def measure(*dates: date) -> MeasureToAssign:
    return MeasureToAssign(
        number=8,
        title="推进城乡社会保障体系建设",
        responsible=(
            Responsible("市委社管部", Role.LEAD, ("中共珠海市委社会工作部",)),
            Responsible("市人社局", Role.SUPPORTING, ("珠海市人力资源和社会保障局",)),
            Responsible("各区", Role.SUPPORTING, DISTRICTS),
        ),
        target_dates=dates,
    )


def test_one_task_per_department_per_deadline(calendar: WorkCalendar) -> None:
    specs = plan_tasks(measure(date(2015, 12, 31), date(2017, 12, 31), date(2015, 12, 31)),
                       calendar=calendar, horizon=date(2020, 12, 31))
    assert len(specs) == 2 * (1 + 1 + 3)
    assert {s.deadline for s in specs} == {date(2015, 12, 31), date(2017, 12, 31)}
    districts = [s for s in specs if s.named_as == "各区"]
    assert sorted({s.department for s in districts}) == sorted(DISTRICTS)
    assert len({s.key for s in specs}) == len(specs)


def test_supporting_due_ten_working_days_before_lead(calendar: WorkCalendar) -> None:
    specs = plan_tasks(measure(date(2015, 12, 31)), calendar=calendar, horizon=None)
    lead = next(s for s in specs if s.role is Role.LEAD)
    support = next(s for s in specs if s.role is Role.SUPPORTING)
    assert lead.due == date(2015, 12, 31)
    assert calendar.count_workdays(support.due, lead.due) == 10
    assert support.due == date(2015, 12, 17)


def test_due_on_a_holiday_moves_to_previous_working_day(calendar: WorkCalendar) -> None:
    # 2015-10-01..07 were the National Day holidays; 2015-09-30 was a working day.
    specs = plan_tasks(measure(date(2015, 10, 5)), calendar=calendar, horizon=None)
    lead = next(s for s in specs if s.role is Role.LEAD)
    assert lead.due == date(2015, 9, 30)
    assert all(calendar.is_workday(s.due) for s in specs)


def test_no_date_uses_the_horizon(calendar: WorkCalendar) -> None:
    specs = plan_tasks(measure(), calendar=calendar, horizon=date(2016, 12, 31))
    assert {s.deadline for s in specs} == {date(2016, 12, 31)}
    assert next(s for s in specs if s.role is Role.LEAD).due == date(2016, 12, 30)


def test_configurable_supporting_lead_time(calendar: WorkCalendar) -> None:
    specs = plan_tasks(measure(date(2015, 12, 31)), calendar=calendar, horizon=None,
                       policy=AssignmentPolicy(support_lead_workdays=3))
    support = next(s for s in specs if s.role is Role.SUPPORTING)
    assert calendar.count_workdays(support.due, date(2015, 12, 31)) == 3


def test_lead_also_listed_as_supporting_stays_lead(calendar: WorkCalendar) -> None:
    m = MeasureToAssign(1, "x", (
        Responsible("香洲区", Role.LEAD, ("香洲区",)),
        Responsible("各区", Role.SUPPORTING, DISTRICTS),
    ), (date(2015, 12, 31),))
    specs = plan_tasks(m, calendar=calendar, horizon=None)
    assert [(s.department, s.role) for s in specs] == [
        ("香洲区", Role.LEAD), ("斗门区", Role.SUPPORTING), ("金湾区", Role.SUPPORTING)]


def test_measure_without_lead_is_refused(calendar: WorkCalendar) -> None:
    m = MeasureToAssign(3, "x", (Responsible("各区", Role.SUPPORTING, DISTRICTS),))
    with pytest.raises(DubanError, match="措施3没有牵头单位"):
        plan_tasks(m, calendar=calendar, horizon=None)


# --- a changed plan: who takes over from a withdrawn task -----------------------

D1, D2 = date(2027, 6, 30), date(2027, 9, 30)


def _new(deadline: date, role: Role, department: str) -> TaskIdentity:
    return TaskIdentity(deadline, role, department, department)


@pytest.mark.parametrize(
    ("withdrawn", "new", "expected"),
    [
        pytest.param(
            Withdrawn(1, "社管部", Role.LEAD, D1), [_new(D2, Role.LEAD, "社管部")],
            _new(D2, Role.LEAD, "社管部"), id="a moved date: the same unit at the new date",
        ),
        pytest.param(
            Withdrawn(1, "社管部", Role.LEAD, D1), [_new(D1, Role.LEAD, "民政局")],
            _new(D1, Role.LEAD, "民政局"), id="a changed lead: the new lead",
        ),
        pytest.param(
            Withdrawn(1, "民政局", Role.SUPPORTING, D1),
            [_new(D1, Role.LEAD, "民政局"), _new(D1, Role.SUPPORTING, "财政局")],
            _new(D1, Role.LEAD, "民政局"), id="a supporting unit made lead: its own new task",
        ),
        pytest.param(
            Withdrawn(1, "社管部", Role.LEAD, D1), [_new(D2, Role.LEAD, "民政局")],
            _new(D2, Role.LEAD, "民政局"), id="a new lead and a new date: the only lead",
        ),
        pytest.param(
            Withdrawn(1, "财政局", Role.SUPPORTING, D1),
            [_new(D1, Role.SUPPORTING, "香洲区"), _new(D1, Role.SUPPORTING, "斗门区")],
            None, id="a supporting unit dropped among several: nobody takes over",
        ),
    ],
)
def test_successors(withdrawn: Withdrawn, new: list[TaskIdentity],
                    expected: TaskIdentity | None) -> None:
    assert successors([withdrawn], new) == {withdrawn.key: expected}


# --- past targets at assignment ------------------------------------------------


@pytest.mark.parametrize(
    ("due", "late", "passed", "gets"),
    [
        pytest.param(date(2015, 6, 30), True, True, date(2015, 9, 23), id="passed: grace"),
        pytest.param(date(2015, 9, 1), True, False, date(2015, 9, 1),
                     id="due on the day of assignment: near, kept"),
        pytest.param(date(2015, 9, 15), True, False, date(2015, 9, 15),
                     id="within the 10-day lead: late, kept"),
        pytest.param(date(2015, 9, 16), False, False, date(2015, 9, 16),
                     id="its first reminder on the day of assignment: on time"),
    ],
)
def test_late_at_assignment(
    calendar: WorkCalendar, due: date, late: bool, passed: bool, gets: date
) -> None:
    spec = TaskSpec(measure=1, deadline=due, role=Role.LEAD, department="民政局",
                    named_as="民政局", due=due)
    found = late_at_assignment([spec], assigned_on=date(2015, 9, 1), calendar=calendar)
    assert bool(found) is late
    if found:
        assert (found[0].passed, found[0].grace_due) == (passed, gets)
        assert with_grace([spec], found)[0].due == gets
