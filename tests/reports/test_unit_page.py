"""The staff page of one unit (duban.services.reports.unit_page) counted in
grouped SQL from the kept scorecard cells and lights, a page at a time, is the
old page's full computation (every task of the unit's ledger assessed and
counted in Python: unit_in_python): every filter's count is its rows across
the pages, in the same order, with the same charts, whether the cells and
lights are stored, stale or mixed, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import random
from datetime import date

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.scorecard import ScoreWeights
from duban.services.reports.ledger_model import LedgerRow
from duban.services.reports.scorecard_kept import kept_rule, refresh_scores
from duban.services.reports.summary_charts import ledger_charts
from duban.services.reports.unit_page import (
    UNIT_FILTERS,
    UnitDetail,
    counted,
    unit_detail,
    unit_in_python,
)
from duban.services.reports.unit_sql import unit_cells
from duban.services.rounds.daily import store_day_lights
from duban.services.tasks.facts import LOCAL_ZONE
from models import Department, Task, TaskScore
from tests.reports.conftest import History
from tests.reports.test_scorecard_sql import ROLES, seed_varied

# Days with tasks due, done late, after an extension and overdue; the
# first counted by the default roles (牵头), the second by both.
DAYS = [date(2015, 10, 14), date(2016, 1, 8)]
SHOWS = [None, *UNIT_FILTERS]
LIMIT = 3  # a small first page, so most lists go on after it


def _departments(session_factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    with session_factory() as session:
        return [(i, n) for i, n in session.execute(
            select(Department.id, Department.name).order_by(Department.id)
            .where(select(Task.id).where(Task.department_id == Department.id).exists()))]


def _shown(row: LedgerRow) -> LedgerRow:
    """The row as the page shows it (the page reads no next ladder step)."""
    return dataclasses.replace(row, next_step="")


def _every_page(
    session_factory: sessionmaker[Session], name: str, day: date, history: History,
    weights: ScoreWeights, show: str | None,
) -> tuple[UnitDetail, list[LedgerRow]]:
    """The first page, and the rows of the first page and of the pages after
    it (read as one)."""
    first = unit_detail(session_factory, name, as_of=day, calendar=history.calendar,
                        weights=weights, show=show, zone=LOCAL_ZONE, limit=LIMIT)
    rows = list(first.rows)
    if first.page.pages > 1:
        rows += unit_detail(session_factory, name, as_of=day, calendar=history.calendar,
                            weights=weights, show=show, zone=LOCAL_ZONE,
                            offset=LIMIT, limit=10_000).rows
    return first, rows


def _differences(
    session_factory: sessionmaker[Session], history: History, day: date, weights: ScoreWeights,
) -> list[object]:
    found: list[object] = []
    for department_id, name in _departments(session_factory):
        # Every task, in the old page's order; a filter's list keeps that order.
        old = unit_in_python(session_factory, name, department_id, as_of=day,
                             calendar=history.calendar, weights=weights, show=None,
                             zone=LOCAL_ZONE, limit=10_000)
        for show in SHOWS:
            expected = [r for r in old.rows if counted(r, show, weights, day)]
            new, rows = _every_page(session_factory, name, day, history, weights, show)
            where = (day, weights.task_roles, name, show)
            if (new.counts, new.total, new.page.total, new.plans) != (
                    old.counts, old.total, len(expected), old.plans):
                found.append((where, "counts", new.counts, old.counts, new.total, old.total))
            if len(rows) != new.page.total:
                found.append((where, "rows across the pages", len(rows), new.page.total))
            if [r.task_id for r in rows] != [r.task_id for r in expected]:
                found.append((where, "order", [r.task_id for r in rows],
                              [r.task_id for r in expected]))
            elif [_shown(r) for r in rows] != [_shown(r) for r in expected]:
                found.append((where, "rows"))
            if show is None and ledger_charts(new.chart, department=name, trend=new.trend) \
                    != ledger_charts(old.chart, department=name):
                found.append((where, "charts"))
    return found


def _store(engine: Engine, session_factory: sessionmaker[Session], history: History,
           day: date, weights: ScoreWeights) -> None:
    """The day's lights and cells stored, as the day's first round does."""
    store_day_lights(session_factory, day=day, calendar=history.calendar, zone=LOCAL_ZONE)
    with session_factory() as session:
        rule = kept_rule(session, as_of=day, calendar=history.calendar, zone=LOCAL_ZONE,
                         task_roles=weights.task_roles)
    assert rule is not None
    refresh_scores(engine, rule)


def test_the_units_pages_are_its_whole_ledger_counted_in_python(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    """Every filter of every unit, nothing stored for the day, stored, and
    with a third of the cells and lights stale again."""
    seed_varied(session_factory, 7)
    rng = random.Random(7)
    differences = []
    for day, weights in zip(DAYS, ROLES, strict=True):
        differences += _differences(session_factory, history, day, weights)
        _store(engine, session_factory, history, day, weights)
        differences += _differences(session_factory, history, day, weights)
        with engine.begin() as connection:
            ids = list(connection.scalars(select(Task.id)))
            connection.execute(update(TaskScore).where(
                TaskScore.task_id.in_(rng.sample(ids, len(ids) // 3))).values(score_key=None))
            connection.execute(update(Task).where(
                Task.id.in_(rng.sample(ids, len(ids) // 3))).values(light_key=None))
        differences += _differences(session_factory, history, day, weights)
    assert differences == []


def test_a_unit_with_many_stale_cells_counts_each_of_its_tasks(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    """Past the stale cells worked out one by one, every cell of the unit
    counted afresh: the same counts and lists."""
    seed_varied(session_factory, 8)
    day = date(2016, 1, 8)
    _store(engine, session_factory, history, day, ScoreWeights())
    with engine.begin() as connection:
        connection.execute(update(TaskScore).where(TaskScore.task_id % 2 == 0)
                           .values(score_key=None))
    differences = []
    with session_factory() as session:
        rule = kept_rule(session, as_of=day, calendar=history.calendar, zone=LOCAL_ZONE)
        assert rule is not None
        for department_id, name in _departments(session_factory):
            some = unit_cells(session, rule, department_id)
            every = unit_cells(session, rule, department_id, every_above=0)
            if some.worked_out:  # some stale: every cell of the unit worked out
                assert every.fresh == [] and len(every.worked_out) >= len(some.worked_out)
            for show in UNIT_FILTERS:
                picked = [
                    list(session.scalars(select(Task.id).where(
                        Task.department_id == department_id, cells.condition(show))
                        .order_by(Task.id)))
                    for cells in (some, every)
                ]
                if (some.count(show), picked[0]) != (every.count(show), picked[1]) \
                        or len(picked[0]) != some.count(show):
                    differences.append((name, show, some.count(show), every.count(show)))
    assert differences == []
