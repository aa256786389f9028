"""The scorecard counted in grouped SQL (duban.services.reports.scorecard_sql)
is the domain's rules applied task by task to the ledger's rows, on varied
histories, day after day, for several periods and roles, on SQLite and
PostgreSQL: any count that differs fails."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.scorecard import Period, ScoreWeights, parse_period
from duban.services.reports.dashboard import scorecard_of_ledger, scorecard_page
from duban.services.reports.ledger import build_ledger
from duban.services.reports.scorecard import (
    build_scorecard,
    scorecard_from_ledger,
    tallies_of_ledger,
)
from duban.services.reports.scorecard_sql import department_tallies
from duban.services.reports.summary_charts import departments_svg
from duban.services.tasks.facts import LOCAL_ZONE
from models import Department, ExtensionRequest, Notice, Task, TaskEvent
from tests.db.conftest import at
from tests.reports.conftest import History

# Report deadlines of 2015 (Q1 04-08, Q2 07-08, Q3 10-13, Q4 2016-01-08), the
# days around them, quarter ends, and every three weeks in between.
DAYS = sorted(
    {date(2015, 3, 1) + timedelta(days=21 * n) for n in range(22)}
    | {date(2015, 4, 8), date(2015, 4, 9), date(2015, 7, 8), date(2015, 10, 13),
       date(2015, 10, 14), date(2015, 12, 31), date(2016, 1, 8), date(2016, 1, 9)}
)
PERIODS = [
    Period(),
    Period(date(2015, 10, 1), date(2016, 1, 31)),
    parse_period("2015-Q3"),
    Period(date(2016, 1, 9), None),
]
ROLES = [ScoreWeights(), ScoreWeights(task_roles=("lead", "supporting"))]
STATES = ["assigned", "acknowledged", "in_progress", "submitted", "approved", "returned",
          "cancelled"]
# Days that sit on a rule's edge: quarter ends, report deadlines, the day after.
EDGES = [date(2015, 3, 31), date(2015, 4, 8), date(2015, 4, 9), date(2015, 6, 30),
         date(2015, 7, 8), date(2015, 7, 9), date(2015, 9, 30), date(2015, 10, 13),
         date(2015, 10, 14), date(2015, 12, 31), date(2016, 1, 8), date(2016, 1, 9)]


def _moment(rng: random.Random, day: date) -> datetime:
    """A moment of ``day``, often close to a local midnight."""
    hour, minute = rng.choice([(0, 0), (0, 30), (7, 59), (9, 0), (16, 0), (23, 59)])
    return at(day, hour, minute)


def _day(rng: random.Random, first: date, last: date) -> date:
    if rng.random() < 0.4:
        edges = [d for d in EDGES if first <= d <= last]
        if edges:
            return rng.choice(edges)
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def seed_varied(session_factory: sessionmaker[Session], seed: int, tasks: int = 120) -> None:
    """``tasks`` more tasks over the first departments and the world's
    measures: assigned on many days (some near midnight), due on and around
    the rules' edges, in every state, with reports (on the assignment day, on
    deadlines, late), 报结 before and after the due date, approved and other
    extensions, and ladder steps of every level, superseded or not."""
    rng = random.Random(seed)
    with session_factory.begin() as session:
        measures = sorted(set(session.scalars(select(Task.measure_id))))
        departments = list(session.scalars(select(Department.id).order_by(Department.id)))[:6]
        for n in range(tasks):
            assigned = _day(rng, date(2015, 3, 1), date(2015, 12, 31))
            due = _day(rng, assigned + timedelta(days=1), date(2016, 6, 30))
            state = rng.choice(STATES)
            submitted_at = None
            if state in ("submitted", "approved", "returned"):
                submitted_at = _moment(rng, _day(rng, assigned, due + timedelta(days=30)))
            task = Task(
                measure_id=rng.choice(measures), department_id=rng.choice(departments),
                named_as="单位", role=rng.choice(["lead", "supporting"]),
                deadline=date(2014, 1, 1) + timedelta(days=n), due=due, original_due=due,
                state=state, assigned_at=_moment(rng, assigned), submitted_at=submitted_at,
                version=1,
            )
            session.add(task)
            session.flush()
            session.add(TaskEvent(task_id=task.id, at=task.assigned_at, action="assign",
                                  actor_role="system", actor="系统"))
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                on = assigned if rng.random() < 0.2 else _day(rng, assigned, date(2016, 3, 31))
                session.add(TaskEvent(
                    task_id=task.id, at=_moment(rng, on), action="report",
                    actor_role="department", actor="联络员", note="报送"))
            if submitted_at is not None:
                session.add(TaskEvent(task_id=task.id, at=submitted_at, action="submit",
                                      actor_role="department", actor="联络员"))
            if rng.random() < 0.3:
                asked = _day(rng, assigned, due + timedelta(days=60))
                session.add(ExtensionRequest(
                    task_id=task.id, requested_at=_moment(rng, asked),
                    requested_by="联络员", reason="原因", current_due=due,
                    new_due=due + timedelta(days=10),
                    status=rng.choice(["approved", "approved", "refused"]),
                ))
            for _ in range(rng.choice([0, 1, 3])):
                day = _day(rng, assigned, date(2016, 3, 31))
                session.add(Notice(
                    task_id=task.id, step=f"step-{rng.random()}", due_at=_moment(rng, day),
                    created_at=_moment(rng, day), level=rng.choice([0, 1, 2, 3, 4]),
                    status=rng.choice(["sent", "sent", "pending", "superseded"]),
                ))


@pytest.mark.parametrize("seed", [1, 2])
def test_counts_in_sql_are_the_domains_rules_task_by_task(
    history: History, session_factory: sessionmaker[Session], seed: int
) -> None:
    seed_varied(session_factory, seed)
    calendar = history.calendar
    differences = []
    for day in DAYS:
        ledger = build_ledger(session_factory, as_of=day, calendar=calendar, all_plans=True)
        for period in PERIODS:
            for weights in ROLES:
                expected = tallies_of_ledger(
                    ledger, period=period, calendar=calendar, weights=weights
                )
                with session_factory() as session:
                    got = department_tallies(
                        session, where=[], period=period, as_of=day, calendar=calendar,
                        zone=LOCAL_ZONE, task_roles=weights.task_roles,
                    )
                assert got is not None
                for name in sorted(set(got) | set(expected)):
                    if got.get(name) != expected.get(name):
                        differences.append((day, period, weights.task_roles, name,
                                            got.get(name), expected.get(name)))
    assert differences == []


def test_the_scorecard_page_and_cli_numbers_are_the_ledgers(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    seed_varied(session_factory, 3)
    calendar = history.calendar
    for day in (date(2015, 10, 14), date(2016, 1, 29), date(2016, 4, 1)):
        ledger = build_ledger(session_factory, as_of=day, calendar=calendar, all_plans=True)
        for sort in ("score", "avg_days_late", "department"):
            page = scorecard_page(session_factory, as_of=day, calendar=calendar, sort=sort)
            assert page.rows == scorecard_of_ledger(ledger, calendar=calendar, sort=sort)
        assert departments_svg(page.chart) == departments_svg(ledger)
        for period in PERIODS:
            card = build_scorecard(session_factory, as_of=day, calendar=calendar,
                                   period=period, all_plans=True)
            assert card == scorecard_from_ledger(ledger, period=period, calendar=calendar)
            # The only plan named: its tasks picked through their measures.
            assert build_scorecard(session_factory, as_of=day, calendar=calendar,
                                   period=period) == card
    assert any(row.avg_days_late for row in page.rows)


def test_a_zone_sql_cannot_tell_days_in_is_counted_task_by_task(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    """New York changes its offset: SQLite cannot tell its local days, so the
    scorecard is counted from the tasks' lights there (PostgreSQL can)."""
    seed_varied(session_factory, 4)
    zone = ZoneInfo("America/New_York")
    day = date(2016, 1, 29)
    ledger = build_ledger(session_factory, as_of=day, calendar=history.calendar,
                          all_plans=True, zone=zone)
    card = build_scorecard(session_factory, as_of=day, calendar=history.calendar,
                           all_plans=True, zone=zone)
    assert card == scorecard_from_ledger(ledger, period=Period(), calendar=history.calendar)
    with session_factory() as session:
        sql = department_tallies(session, where=[], period=Period(), as_of=day,
                                 calendar=history.calendar, zone=zone)
    assert (sql is None) == (session_factory.kw["bind"].dialect.name == "sqlite")
