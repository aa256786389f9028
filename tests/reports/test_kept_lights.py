"""Each measure's tasks counted by stored light and kept in measure_lights
(duban.services.tasks.kept_lights) are the counts of its tasks' lights: the
dashboard's pick read from kept rows is the domain's, task by task, through
refreshes for other days and random writes (stale tasks, new tasks, tasks
moved to another measure or deleted), on SQLite and PostgreSQL; a kept row
that drifts from its tasks shows on the page (so the comparison can fail)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import TaskState
from duban.domain.status import Light
from duban.services.reports.overview import measure_overview
from duban.services.reports.overview_pick import PickFilters
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import LightRule, light_rule, refresh_lights
from models import Department, MeasureLights, Task, TaskEvent
from tests.db.conftest import at
from tests.reports.conftest import History
from tests.reports.test_overview_pick import (
    DAYS,
    Expected,
    _due_soon,
    _expected,
    _filters,
    _more_measures,
)
from tests.reports.test_scorecard_sql import seed_varied


def _rule(session_factory: sessionmaker[Session], day: date, history: History) -> LightRule:
    with session_factory() as session:
        rule = light_rule(session, as_of=day, calendar=history.calendar, zone=LOCAL_ZONE,
                          refresh_at=None)
    assert rule is not None and rule.key is not None
    return rule


def _refresh(engine: Engine, session_factory: sessionmaker[Session], day: date,
             history: History) -> None:
    refresh_lights(engine, _rule(session_factory, day, history))


def _drift(session_factory: sessionmaker[Session], day: date, history: History) -> list:
    """Kept rows the page would read (of the stored generations, the measure
    without a stale task) whose counts are not their tasks' lights on ``day``."""
    rule = _rule(session_factory, day, history)
    if rule.stored is None:
        return []
    low, high = rule.stored
    with session_factory() as session:
        stale = set(session.scalars(select(Task.measure_id).where(rule.stale())))
        truth: dict[int, dict[str, int]] = {}
        for measure_id, light in session.execute(
            select(Task.measure_id, rule.light).where(Task.state != TaskState.CANCELLED.value)
        ):
            counts = truth.setdefault(measure_id, dict.fromkeys(["tasks", *Light], 0))
            counts["tasks"] += 1
            counts[Light(light)] += 1
        differences = []
        for row in session.scalars(select(MeasureLights)):
            if not low <= row.light_key <= high or row.measure_id in stale:
                continue
            kept = {"tasks": row.tasks, **{each: getattr(row, each.value) for each in Light}}
            expected = truth.get(row.measure_id, dict.fromkeys(["tasks", *Light], 0))
            if kept != expected:
                differences.append((day, row.measure_id, kept, expected))
    return differences


def _kept(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(MeasureLights)) or 0


def _picks(session_factory: sessionmaker[Session], plan_id: int, day: date, history: History,
           rng: random.Random, departments: list[str], n: int = 8) -> list:
    """Differences between the pages' picks and the domain's, for every
    measure and ``n`` random filters, with and without the charts."""
    differences = []
    for k in range(n):
        filters = PickFilters(limit=5) if k == 0 else _filters(rng, departments)
        expected = _expected(session_factory, plan_id, day, history, filters)
        for charts in (False, True):
            got = measure_overview(
                session_factory, as_of=day, calendar=history.calendar,
                section=filters.section, department=filters.department, light=filters.light,
                offset=filters.offset, limit=filters.limit, charts=charts,
            )
            mine = Expected([m.id for m in got.measures], got.total, got.counts)
            if mine != expected:
                differences.append((day, filters, charts, mine, expected))
    return differences


def _write(session_factory: sessionmaker[Session], rng: random.Random, day: date) -> str:
    """One random write: a read column, a report, a new task, a task moved
    to another measure, or one deleted."""
    kind = rng.choice(["due", "state", "report", "insert", "move", "delete"])
    with session_factory.begin() as session:
        ids = list(session.scalars(select(Task.id).order_by(Task.id)))
        measures = sorted(set(session.scalars(select(Task.measure_id))))
        task = session.get(Task, rng.choice(ids))
        assert task is not None
        if kind == "due":
            session.execute(update(Task).where(Task.id == task.id).values(
                due=day + timedelta(days=rng.randrange(-30, 30))))
        elif kind == "state":
            session.execute(update(Task).where(Task.id == task.id).values(
                state=rng.choice([s.value for s in TaskState])))
        elif kind == "report":
            session.add(TaskEvent(task_id=task.id, at=at(day - timedelta(days=3)),
                                  action="report", actor_role="department", actor="联络员"))
        elif kind == "insert":
            session.execute(insert(Task).values(
                measure_id=rng.choice(measures), department_id=task.department_id,
                named_as="新单位", role="supporting", deadline=day, due=day, original_due=day,
                state="assigned", assigned_at=at("2015-03-02"), version=1))
        elif kind == "move":
            session.execute(update(Task).where(Task.id == task.id).values(
                measure_id=rng.choice(measures)))
        else:  # a task without rows of its own (inserted by this test), if any
            mine = session.scalars(select(Task.id).where(
                Task.role == "supporting", Task.named_as == "新单位")).first()
            if mine is not None:
                session.execute(delete(Task).where(Task.id == mine))
    return kind


def test_the_dashboard_from_kept_rows_is_the_domains_through_refreshes_and_writes(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    plan_id = history.world.plan_id
    _more_measures(session_factory, plan_id, 6)
    seed_varied(session_factory, 6, tasks=150)
    _due_soon(session_factory, plan_id)
    rng = random.Random(6)
    with session_factory() as session:
        departments = sorted(set(session.scalars(
            select(Department.name).join(Task, Task.department_id == Department.id))))
    differences: list = []
    kinds = set()
    kept_seen = 0
    for day in [*DAYS, DAYS[2] + timedelta(days=1), DAYS[2] + timedelta(days=4)]:
        _refresh(engine, session_factory, day, history)
        kept_seen = max(kept_seen, _kept(session_factory))
        differences += _drift(session_factory, day, history)
        differences += _picks(session_factory, plan_id, day, history, rng, departments)
        for _step in range(6):
            kinds.add(_write(session_factory, rng, day))
            differences += _drift(session_factory, day, history)
            differences += _picks(session_factory, plan_id, day, history, rng, departments, 3)
            if rng.random() < 0.5:  # stored again, some measures kept again
                _refresh(engine, session_factory, day, history)
                differences += _drift(session_factory, day, history)
    assert differences == []
    assert kept_seen >= 10  # most measures were read from kept rows
    assert kinds >= {"due", "state", "report", "insert", "move"}


def test_a_kept_row_that_drifts_shows_on_the_page(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    """The page reads the kept rows: one made wrong by hand changes its pick,
    and a refresh for another day that rewrites one of the measure's lights
    replaces it."""
    plan_id = history.world.plan_id
    _more_measures(session_factory, plan_id, 7)
    seed_varied(session_factory, 7, tasks=60)
    day = DAYS[2]
    _refresh(engine, session_factory, day, history)
    assert _drift(session_factory, day, history) == []
    everything = PickFilters(light=Light.RED)
    expected = _expected(session_factory, plan_id, day, history, everything)
    with session_factory() as session:
        green = session.scalars(
            select(MeasureLights.measure_id)
            .where(MeasureLights.red == 0, MeasureLights.tasks > 0)
            .order_by(MeasureLights.measure_id)
        ).first()
    assert green is not None
    with engine.begin() as connection:
        connection.execute(text("UPDATE measure_lights SET red = 1 WHERE measure_id = :m"),
                           {"m": green})
    assert _drift(session_factory, day, history) != []
    got = measure_overview(session_factory, as_of=day, calendar=history.calendar,
                           light=Light.RED)
    assert green in [m.id for m in got.measures]
    assert green not in expected.ids
    # A task inserted: the measure is grouped from its tasks again.
    with session_factory.begin() as session:
        task = session.scalars(select(Task).where(Task.measure_id == green)).first()
        assert task is not None
        session.execute(insert(Task).values(
            measure_id=green, department_id=task.department_id, named_as="单位",
            role="supporting", deadline=day, due=day + timedelta(days=200),
            original_due=day, state="approved", assigned_at=at("2015-03-02"), version=1))
    got = measure_overview(session_factory, as_of=day, calendar=history.calendar,
                           light=Light.RED)
    assert green not in [m.id for m in got.measures]
    _refresh(engine, session_factory, day, history)
    assert _drift(session_factory, day, history) == []
    assert _kept(session_factory) > 0
