"""The lights the counting pages read (duban.services.tasks.lights) are the
domain's assessment of each task, whatever the day asked: the same status,
light, reasons and facts as the task list and the ledger, which build every
task's full facts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import TaskState
from duban.domain.scorecard import Period
from duban.domain.status import Light, TaskStatus, worst_light
from duban.services.reports.dashboard import scorecard_of_ledger
from duban.services.reports.ledger import build_ledger, end_of_day
from duban.services.reports.overview import measure_overview
from duban.services.reports.scorecard import scorecard_from_ledger, task_ledger
from duban.services.reports.summary_charts import ChartTasks, departments_svg, ledger_charts
from duban.services.tasks import lifecycle
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import light_rule
from duban.services.tasks.lights import light_tasks
from duban.services.tasks.queries import list_tasks, task_page
from duban.services.tasks.unit_list import STATE_ORDER, TABS, tab_of, unit_list
from models import Department, IndicatorReading, Task, TaskEvent
from tests.db.conftest import HEALTH, at
from tests.reports.conftest import COORDINATOR, History

# The days around the deadlines, report deadlines and the extension.
EDGE_DAYS = {date(2015, 12, 16), date(2015, 12, 17), date(2015, 12, 18), date(2015, 12, 31),
             date(2016, 1, 1), date(2016, 1, 8), date(2016, 1, 11), date(2016, 1, 15),
             date(2016, 1, 16), date(2015, 4, 8), date(2015, 4, 9), date(2015, 7, 8)}
# Every fortnight from before the assignment to past the last deadline but one,
# and those days.
DAYS = sorted({date(2015, 3, 1) + timedelta(days=14 * n) for n in range(40)} | EDGE_DAYS)
# Every four weeks over the same span, and the same days: for the tests that
# do much more per day (store lights, page through queues, write feeds).
SPARSER_DAYS = sorted({date(2015, 3, 1) + timedelta(days=28 * n) for n in range(20)} | EDGE_DAYS)


def _return_and_withdraw(history: History, session_factory: sessionmaker[Session]) -> None:
    """A returned 报结 on ``later`` and a withdrawn ``district`` task, besides
    the shared history."""
    world = history.world
    lifecycle.submit(world.later, department=HEALTH, note="提前完成", now=at("2016-02-01"),
                     session_factory=session_factory)
    lifecycle.return_(world.later, actor=COORDINATOR, reason="材料不全", now=at("2016-02-03"),
                      session_factory=session_factory)
    with session_factory.begin() as session:
        session.execute(update(Task).where(Task.id == world.district).values(state="cancelled"))


def _report(session: Session, task_id: int, when: datetime) -> TaskEvent:
    event = TaskEvent(task_id=task_id, at=when, action="report", actor_role="department",
                      actor="联络员", note="报送")
    session.add(event)
    session.flush()
    return event


def _same_day_report(history: History, session_factory: sessionmaker[Session]) -> None:
    """A report on ``district``'s assignment day: it does not count for its
    first period."""
    with session_factory.begin() as session:
        _report(session, history.world.district, at("2015-03-02", 20))


def _lagging_value(history: History, session_factory: sessionmaker[Session]) -> None:
    """``district`` reports every quarter on time, with values of its
    indicator that fall behind the straight line to its target."""
    district = history.world.district
    with session_factory.begin() as session:
        target = session.scalars(
            select(IndicatorReading.target_id).where(IndicatorReading.task_id == history.world.lead)
        ).first()
        assert target is not None
        for day, value in (("2015-04-01", 50.0), ("2015-07-01", 52.0), ("2015-10-08", 53.0)):
            event = _report(session, district, at(day))
            session.add(IndicatorReading(task_id=district, target_id=target, event_id=event.id,
                                         value=value, reported_on=date.fromisoformat(day)))


SCENARIOS = {
    "history": lambda history, session_factory: None,
    "returned-and-cancelled": _return_and_withdraw,
    "same-day-report": _same_day_report,
    "lagging-value": _lagging_value,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lights_are_the_domain_assessment_on_every_day(
    history: History, session_factory: sessionmaker[Session], scenario: str
) -> None:
    SCENARIOS[scenario](history, session_factory)
    calendar = history.calendar
    differences = []
    for day in DAYS:
        views = list_tasks(session_factory, as_of=day, calendar=calendar)
        with session_factory() as session:
            lit = light_tasks(session, where=[], as_of=day, calendar=calendar, zone=LOCAL_ZONE)
        assert [t.task_id for t in lit] == [v.id for v in views]
        for view, task in zip(views, lit, strict=True):
            mine = (task.status, task.light, list(task.reasons), task.due, task.state)
            theirs = (view.status, view.light, view.reasons, view.due, view.state)
            if mine != theirs:
                differences.append((day, view.id, mine, theirs))
    assert differences == []


def test_every_report_and_escalation_when_asked_as_the_ledger_has_them(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    calendar = history.calendar
    for day in (date(2015, 10, 1), date(2015, 12, 20), date(2016, 1, 29)):
        ledger = build_ledger(session_factory, as_of=day, calendar=calendar)
        with session_factory() as session:
            lit = light_tasks(session, where=[], as_of=day, calendar=calendar, zone=LOCAL_ZONE,
                              all_reports=True, history_until=end_of_day(day, LOCAL_ZONE))
        rows = {r.task_id: r for r in ledger.rows}
        assert sorted(rows) == sorted(t.task_id for t in lit)
        for task in lit:
            row = rows[task.task_id]
            # Without a reading, the indicator changes nothing: it is left out.
            expected = row.facts if row.facts.readings else replace(row.facts, indicator=None)
            assert task.facts == expected
            assert task.escalations == tuple((e.level, e.on) for e in row.escalations)
            assert (task.assigned_on, task.submitted_on, task.department, task.section) == (
                row.assigned_on, row.submitted_on, row.department, row.section)
    assert any(task.escalations for task in lit)
    assert any(task.facts.readings for task in lit)


def test_the_overview_pages_its_measures_and_counts_every_match(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    day = date(2016, 1, 29)
    whole = measure_overview(session_factory, as_of=day, calendar=history.calendar)
    assert whole.total == len(whole.measures) >= 2
    for offset in range(whole.total):
        page = measure_overview(session_factory, as_of=day, calendar=history.calendar,
                                offset=offset, limit=1)
        assert page.measures == whole.measures[offset:offset + 1]
        assert (page.total, page.counts) == (whole.total, whole.counts)
        assert (page.page.number, page.page.pages) == (offset + 1, whole.total)
    assert sum(whole.counts.values()) == sum(1 for m in whole.measures if m.task_count)


def test_the_scorecard_from_task_lights_is_the_ledgers(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    calendar = history.calendar
    for day in (date(2015, 10, 1), date(2015, 12, 31), date(2016, 1, 29)):
        ledger = build_ledger(session_factory, as_of=day, calendar=calendar, all_plans=True)
        lit = task_ledger(session_factory, as_of=day, calendar=calendar)
        assert scorecard_of_ledger(lit, calendar=calendar) == scorecard_of_ledger(
            ledger, calendar=calendar)
        assert scorecard_from_ledger(lit, period=Period(), calendar=calendar) == (
            scorecard_from_ledger(ledger, period=Period(), calendar=calendar))
        assert departments_svg(lit) == departments_svg(ledger)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_light_in_sql_is_the_domain_assessment_on_every_day(
    history: History, session_factory: sessionmaker[Session], scenario: str
) -> None:
    SCENARIOS[scenario](history, session_factory)
    calendar = history.calendar
    differences = []
    for day in DAYS:
        views = list_tasks(session_factory, as_of=day, calendar=calendar)
        with session_factory() as session:
            rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE)
            assert rule is not None
            lights = {i: x for i, x in session.execute(select(Task.id, rule.light))}
        for view in views:
            expected = "cancelled" if view.state is TaskState.CANCELLED else view.light.value
            if lights[view.id] != expected:
                differences.append((day, view.id, lights[view.id], expected, view.reasons))
    assert differences == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_sql_filter_of_each_light_picks_the_tasks_the_domain_gives_it(
    history: History, session_factory: sessionmaker[Session], scenario: str
) -> None:
    SCENARIOS[scenario](history, session_factory)
    calendar = history.calendar
    differences = []
    for day in DAYS:
        views = list_tasks(session_factory, as_of=day, calendar=calendar)
        with session_factory() as session:
            rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE)
            assert rule is not None
            for light in Light:
                picked = set(session.scalars(select(Task.id).where(rule.matches(light))))
                expected = {v.id for v in views
                            if v.light is light and v.state is not TaskState.CANCELLED}
                if picked != expected:
                    differences.append((day, light, sorted(picked ^ expected)))
    assert differences == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_overview_counted_in_sql_is_the_ledgers(
    history: History, session_factory: sessionmaker[Session], scenario: str
) -> None:
    SCENARIOS[scenario](history, session_factory)
    calendar = history.calendar
    for day in (date(2015, 4, 20), date(2015, 10, 26), date(2015, 12, 18), date(2016, 1, 29)):
        overview = measure_overview(session_factory, as_of=day, calendar=calendar, charts=True)
        ledger = build_ledger(session_factory, as_of=day, calendar=calendar)
        # Without the charts the lights are counted by another query: the same.
        plain = measure_overview(session_factory, as_of=day, calendar=calendar)
        assert (plain.measures, plain.counts, plain.departments) == (
            overview.measures, overview.counts, overview.departments)
        assert set(overview.departments) == {r.department for r in ledger.rows}
        lights: dict[int, list[Light]] = {}
        for row in ledger.rows:
            if not row.cancelled:
                lights.setdefault(row.measure_id, []).append(row.light)
        assert {m.id: (m.light, m.task_count) for m in overview.measures if m.task_count} == {
            measure: (worst_light(found), len(found)) for measure, found in lights.items()
        }
        mine = ChartTasks(day, overview.chart_rows, overview.department_order)
        assert ledger_charts(mine, measures_link="/d", trend=overview.trend,
                             department_rows=overview.department_rows) == ledger_charts(
            ledger, measures_link="/d")
        for name in {r.department for r in ledger.rows}:
            only = measure_overview(session_factory, as_of=day, calendar=calendar,
                                    department=name, charts=True)
            theirs = ChartTasks(day, only.chart_rows, only.department_order)
            assert ledger_charts(theirs, department=name, trend=only.trend) == ledger_charts(
                ledger, department=name)
            assert [m.id for m in only.measures] == sorted(
                {r.measure_id for r in ledger.rows if r.department == name and not r.cancelled},
                key=[m.id for m in overview.measures].index)


def test_a_page_of_tasks_by_light_is_filtered_in_sql_as_the_list_is(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    _same_day_report(history, session_factory)
    calendar = history.calendar
    seen = set()
    for day in (date(2015, 4, 20), date(2015, 12, 14), date(2015, 12, 18), date(2016, 1, 29)):
        for light in Light:
            listed = [v.id for v in list_tasks(session_factory, as_of=day, calendar=calendar,
                                               light=light)]
            page = task_page(session_factory, as_of=day, calendar=calendar, offset=0,
                             limit=100, light=light)
            assert ([v.id for v in page.entries], page.total) == (listed, len(listed))
            seen.update([light] if listed else [])
        overdue = task_page(session_factory, as_of=day, calendar=calendar, offset=1, limit=1,
                            overdue=True)
        listed = [v.id for v in list_tasks(session_factory, as_of=day, calendar=calendar,
                                           overdue=True)]
        assert ([v.id for v in overdue.entries], overdue.total) == (listed[1:2], len(listed))
    assert len(seen) >= 4


def test_a_units_list_pages_its_tabs_in_the_lists_order(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    _return_and_withdraw(history, session_factory)
    calendar = history.calendar
    day = date(2016, 2, 10)
    with session_factory() as session:
        units = session.execute(select(Task.department_id, Department.name).join(
            Department, Department.id == Task.department_id).distinct()).all()
    assert len(units) >= 3
    tabs_seen = set()
    for department_id, name in units:
        views = [v for v in list_tasks(session_factory, as_of=day, calendar=calendar)
                 if v.department == name]
        for tab in TABS:
            mine = [v for v in views if tab_of(v.state) == tab]
            if tab == "open":
                mine.sort(key=lambda v: (STATE_ORDER.get(v.state, 2),
                                         v.status is not TaskStatus.OVERDUE, v.due, v.id))
            else:
                mine.sort(key=lambda v: (v.due, v.id), reverse=True)
            for offset in range(max(len(mine), 1)):
                listed = unit_list(session_factory, department_id=department_id, as_of=day,
                                   calendar=calendar, zone=LOCAL_ZONE, tab=tab, offset=offset,
                                   limit=1)
                assert listed.page.entries == mine[offset:offset + 1]
                assert listed.page.total == len(mine)
            tabs_seen.update([tab] if mine else [])
    assert tabs_seen >= {"open", "approved", "cancelled"}
