"""The lights the counting pages read (duban.services.tasks.lights) are the
domain's assessment of each task, whatever the day asked: the same status,
light, reasons and facts as the task list and the ledger, which build every
task's full facts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.scorecard import Period
from duban.services.reports.dashboard import measure_overview, scorecard_of_ledger
from duban.services.reports.ledger import build_ledger, end_of_day
from duban.services.reports.scorecard import scorecard_from_ledger, task_ledger
from duban.services.reports.summary_charts import departments_svg
from duban.services.tasks import lifecycle
from duban.services.tasks.lights import light_tasks
from duban.services.tasks.queries import LOCAL_ZONE, list_tasks
from models import Task
from tests.db.conftest import HEALTH, at
from tests.reports.conftest import COORDINATOR, History

# Every fortnight from before the assignment to past the last deadline but one,
# and the days around the deadlines, report deadlines and the extension.
DAYS = sorted(
    {date(2015, 3, 1) + timedelta(days=14 * n) for n in range(40)}
    | {date(2015, 12, 16), date(2015, 12, 17), date(2015, 12, 18), date(2015, 12, 31),
       date(2016, 1, 1), date(2016, 1, 8), date(2016, 1, 11), date(2016, 1, 15),
       date(2016, 1, 16), date(2015, 4, 8), date(2015, 4, 9), date(2015, 7, 8)}
)


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


@pytest.mark.parametrize("more", [False, True], ids=["history", "returned-and-cancelled"])
def test_lights_are_the_domain_assessment_on_every_day(
    history: History, session_factory: sessionmaker[Session], more: bool
) -> None:
    if more:
        _return_and_withdraw(history, session_factory)
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
