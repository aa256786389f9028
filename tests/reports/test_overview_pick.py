"""The measures the dashboard and /api/measures show, picked, paged and
counted in SQL (duban.services.reports.overview_pick), are the ones the
domain's lights pick task by task, on varied histories over many measures
(in sections or none, some without tasks), for every filter and page, with
and without the charts, on SQLite and PostgreSQL, with the rows the domain's
assessment of each of their tasks gives; the charts and the overdue
trend counted with them are the ledger's."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import TaskState
from duban.domain.status import Light, worst_light
from duban.services.reports.ledger import build_ledger
from duban.services.reports.overview import (
    MeasureRow,
    _in_full,
    _measure_row,
    _tasks_by_measure,
    measure_overview,
)
from duban.services.reports.overview_pick import PickFilters, PlanMeasure, pick_in_python
from duban.services.reports.summary_charts import ChartTasks, ledger_charts
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import light_rule, refresh_lights
from duban.services.tasks.lights import LitTask, light_tasks
from models import Department, Measure, Plan, Section, Task
from tests.db.conftest import at
from tests.reports.conftest import History
from tests.reports.test_lights import _lagging_value
from tests.reports.test_scorecard_sql import seed_varied

DAYS = [date(2015, 4, 20), date(2015, 10, 14), date(2015, 12, 18), date(2016, 1, 29),
        date(2016, 3, 31)]


def _more_measures(session_factory: sessionmaker[Session], plan_id: int, seed: int) -> None:
    """Three sections and 14 more measures of the plan, in a section or none,
    out of number order by id; all but two with a first task."""
    rng = random.Random(seed)
    with session_factory.begin() as session:
        departments = list(session.scalars(select(Department.id).order_by(Department.id)))[:6]
        sections = []
        for number in (1, 2, 3):
            section = Section(plan_id=plan_id, number=number, label=str(number),
                              title=f"第{number}部分", source_line=number)
            session.add(section)
            session.flush()
            sections.append(section.id)
        for n, number in enumerate(rng.sample(range(20, 60), 14)):
            measure = Measure(
                plan_id=plan_id, section_id=rng.choice([*sections, None]), number=number,
                label=str(number), title=f"措施{number}", text="", source_line=number,
                source_end_line=number,
            )
            session.add(measure)
            session.flush()
            if n < 12:
                due = date(2015, 6, 30) + timedelta(days=30 * rng.randrange(12))
                session.add(Task(
                    measure_id=measure.id, department_id=rng.choice(departments),
                    named_as="单位", role="lead", deadline=due, due=due, original_due=due,
                    state=rng.choice(["assigned", "submitted", "approved", "cancelled"]),
                    assigned_at=at("2015-03-02"), submitted_at=at("2015-11-20"), version=1,
                ))


def _due_soon(session_factory: sessionmaker[Session], plan_id: int) -> None:
    """A measure whose only task, assigned after the last quarter's end, is
    due a working day after 2016-01-29 (blue that day)."""
    with session_factory.begin() as session:
        department = session.scalars(select(Department.id).order_by(Department.id)).first()
        assert department is not None
        measure = Measure(plan_id=plan_id, number=99, label="99", title="措施99", text="",
                          source_line=99, source_end_line=99)
        session.add(measure)
        session.flush()
        due = date(2016, 2, 1)
        session.add(Task(
            measure_id=measure.id, department_id=department, named_as="单位", role="lead",
            deadline=due, due=due, original_due=due, state="assigned",
            assigned_at=at("2016-01-04"), version=1,
        ))


def _submitted_about_midnight(session_factory: sessionmaker[Session], plan_id: int) -> None:
    """Tasks of the plan due 2015-12-31 and submitted (done) at a local
    midnight that starts a day after one of the trend's days of 2016-01-29
    (a week apart from it), or a microsecond before: overdue on that day
    or not by a microsecond; and a cancelled one assigned before any other."""
    with session_factory.begin() as session:
        departments = list(session.scalars(select(Department.id).order_by(Department.id)))[:4]
        measure = Measure(plan_id=plan_id, number=98, label="98", title="措施98", text="",
                          source_line=98, source_end_line=98)
        session.add(measure)
        session.flush()
        due = date(2015, 12, 31)
        midnight = datetime.combine(date(2016, 1, 23), time.min, LOCAL_ZONE)
        for n, (department, state) in enumerate(itertools.product(
                departments, ["submitted", "approved"])):
            moment = midnight - timedelta(microseconds=1) if n % 3 else midnight
            session.add(Task(
                measure_id=measure.id, department_id=department, named_as="单位", role="lead",
                deadline=due + timedelta(days=n), due=due, original_due=due, state=state,
                assigned_at=at("2015-10-08"), submitted_at=moment, version=1,
            ))
        # Assigned before every other task, but cancelled: the trend starts later.
        session.add(Task(
            measure_id=measure.id, department_id=departments[0], named_as="单位", role="lead",
            deadline=date(2015, 3, 31), due=date(2015, 3, 31), original_due=date(2015, 3, 31),
            state="cancelled", assigned_at=at("2015-01-05"), version=1,
        ))


@dataclass(frozen=True)
class Expected:
    ids: list[int]
    total: int
    counts: dict[str, int]


def _expected(
    session_factory: sessionmaker[Session], plan_id: int, day: date, history: History,
    filters: PickFilters,
) -> Expected:
    """The pick worked out from the domain's light of every task."""
    with session_factory() as session:
        tasks = [t for t in light_tasks(session, where=[Measure.plan_id == plan_id], as_of=day,
                                        calendar=history.calendar, zone=LOCAL_ZONE)
                 if t.state is not TaskState.CANCELLED]
        measures = session.execute(
            select(Measure.id, Measure.number, Section.number)
            .outerjoin(Section, Measure.section_id == Section.id)
            .where(Measure.plan_id == plan_id)
        ).all()
    lights: dict[int, list[Light]] = {}
    for task in tasks:
        lights.setdefault(task.measure_id, []).append(task.light)
    chosen = [
        measure_id for measure_id, _number, section in sorted(measures, key=lambda m: (m[1], m[0]))
        if (filters.section is None or section == filters.section)
        and (filters.department is None or any(
            t.measure_id == measure_id and t.department == filters.department for t in tasks))
        and (filters.light is None or worst_light(lights.get(measure_id, [])) is filters.light)
    ]
    counts = {light.value: 0 for light in Light}
    for measure_id in chosen:
        if measure_id in lights:
            counts[worst_light(lights[measure_id]).value] += 1
    end = None if filters.limit is None else filters.offset + filters.limit
    return Expected(chosen[filters.offset:end], len(chosen), counts)


def _rows_in_python(
    session_factory: sessionmaker[Session], ids: list[int], day: date, history: History
) -> list[MeasureRow]:
    """The dashboard's rows of the measures ``ids`` from every task of theirs
    assessed in Python (the page reads those its lights tell green as columns)."""
    with session_factory() as session:
        shown = _in_full(session, ids)
        tasks = _tasks_by_measure(session, shown, None, as_of=day, calendar=history.calendar,
                                  zone=LOCAL_ZONE)
    return [_measure_row(m, tasks.get(m.id, [])) for m in shown]


def _filters(rng: random.Random, departments: list[str]) -> PickFilters:
    limit = rng.choice([None, 1, 3, 5, 50])
    return PickFilters(
        section=rng.choice([None, None, 1, 2, 3, 4]),
        department=rng.choice([None, None, *departments, "无此单位"]),
        light=rng.choice([None, None, *Light]),
        offset=rng.choice([0, 0, 2, 7]) if limit is not None else 0,
        limit=limit,
    )


@pytest.mark.parametrize("seed", [3, 4])
def test_the_measures_picked_in_sql_are_the_domains_task_by_task(
    history: History, session_factory: sessionmaker[Session], seed: int
) -> None:
    plan_id = history.world.plan_id
    _more_measures(session_factory, plan_id, seed)
    seed_varied(session_factory, seed, tasks=150)
    _due_soon(session_factory, plan_id)
    rng = random.Random(seed)
    with session_factory() as session:
        departments = sorted(set(session.scalars(
            select(Department.name).join(Task, Task.department_id == Department.id))))
    differences = []
    seen = {"page": 0, "empty": 0, "light": set()}
    for day in DAYS:
        for n in range(24):
            filters = _filters(rng, departments)
            if n == 0:  # every measure, and each light on one of the days
                filters = PickFilters(limit=5)
            elif n == 1:
                filters = PickFilters(light=list(Light)[DAYS.index(day)], limit=5)
            expected = _expected(session_factory, plan_id, day, history, filters)
            for charts in (False, True):
                got = measure_overview(
                    session_factory, as_of=day, calendar=history.calendar,
                    section=filters.section, department=filters.department,
                    light=filters.light, offset=filters.offset, limit=filters.limit,
                    charts=charts,
                )
                mine = Expected([m.id for m in got.measures], got.total, got.counts)
                if mine != expected:
                    differences.append((day, filters, charts, mine, expected))
                if not charts and got.measures != _rows_in_python(
                        session_factory, expected.ids, day, history):
                    differences.append((day, filters, "rows"))
            seen["page"] += bool(expected.ids)
            seen["empty"] += not expected.ids
            seen["light"].update(light for light, n in expected.counts.items() if n)
    assert differences == []
    # The data reach every case: pages with and without measures, every light.
    assert seen["page"] > 20 and seen["empty"] > 5
    assert seen["light"] == {light.value for light in Light}


def _as_shown(task: Any) -> tuple[Any, ...]:
    """What a measure's row reads of a task shown."""
    return (task.department, task.role, task.due, task.state, task.light, task.reasons)


@pytest.mark.parametrize("seed", [7])
def test_the_shown_tasks_lights_and_reasons_told_from_their_columns_are_the_domains(
    history: History, session_factory: sessionmaker[Session], engine: Engine, seed: int
) -> None:
    """Every task of every measure as the page reads it (with the rule: the
    reasons worded from its columns where they tell them) is, in the same
    order, the one assessed in Python, word for word, with the lights stored
    for the day or not; red, blue, late and (stored) yellow ones are told
    from their columns, with 距期限 and 缺报进度 both; a task behind its
    indicator is assessed in Python."""
    plan_id = history.world.plan_id
    _more_measures(session_factory, plan_id, seed)
    seed_varied(session_factory, seed, tasks=150)
    _due_soon(session_factory, plan_id)
    _lagging_value(history, session_factory)
    calendar = history.calendar
    with session_factory() as session:
        ids = list(session.scalars(select(Measure.id).where(Measure.plan_id == plan_id)))
    differences = []
    told: Counter[tuple[Light, bool]] = Counter()
    words: set[tuple[str, ...]] = set()
    behind_in_python = 0
    for day in DAYS:
        for stored in (False, True):
            with session_factory() as session:
                rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE,
                                  refresh_at=None)
                assert rule is not None
            if stored:
                refresh_lights(engine, rule)
            with session_factory() as session:
                rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE,
                                  refresh_at=None)
                assert rule is not None and (rule.stored is not None) == stored
                shown = _in_full(session, ids)
                mine = _tasks_by_measure(session, shown, rule, as_of=day, calendar=calendar,
                                         zone=LOCAL_ZONE)
                theirs = _tasks_by_measure(session, shown, None, as_of=day, calendar=calendar,
                                           zone=LOCAL_ZONE)
            for measure_id in ids:
                got = [_as_shown(t) for t in mine.get(measure_id, [])]
                expected = [_as_shown(t) for t in theirs.get(measure_id, [])]
                if got != expected:
                    differences.append((day, stored, measure_id, got, expected))
                for task in mine.get(measure_id, []):
                    if not isinstance(task, LitTask) and task.light is not Light.GREEN:
                        told[task.light, stored] += 1
                        words.add(task.reasons)
                    behind_in_python += isinstance(task, LitTask) and (
                        "指标进度落后" in task.reasons)
    assert differences == []
    # Every light but green told from the columns, yellow where stored only.
    assert {light for light, _stored in told} == {Light.RED, Light.YELLOW, Light.BLUE, Light.LATE}
    assert told[Light.YELLOW, False] == 0 and told[Light.YELLOW, True] > 0
    assert any(len(w) == 2 for w in words) and behind_in_python > 0


@pytest.mark.parametrize("seed", [5])
def test_the_charts_and_trend_counted_with_the_pick_are_the_ledgers(
    history: History, session_factory: sessionmaker[Session], seed: int
) -> None:
    plan_id = history.world.plan_id
    _more_measures(session_factory, plan_id, seed)
    seed_varied(session_factory, seed, tasks=150)
    _submitted_about_midnight(session_factory, plan_id)
    calendar = history.calendar
    nonzero = 0
    for day in DAYS:
        ledger = build_ledger(session_factory, as_of=day, calendar=calendar)
        overview = measure_overview(session_factory, as_of=day, calendar=calendar, charts=True,
                                    limit=5)
        mine = ChartTasks(day, overview.chart_rows, overview.department_order)
        assert ledger_charts(mine, measures_link="/d", trend=overview.trend,
                             department_rows=overview.department_rows) == ledger_charts(
            ledger, measures_link="/d")
        nonzero += sum(1 for _day, n in overview.trend or [] if n)
        for name in sorted({r.department for r in ledger.rows}):
            only = measure_overview(session_factory, as_of=day, calendar=calendar,
                                    department=name, charts=True, limit=5)
            theirs = ChartTasks(day, only.chart_rows, only.department_order)
            assert ledger_charts(theirs, department=name, trend=only.trend) == ledger_charts(
                ledger, department=name)
    assert nonzero > 10


def test_the_python_pick_filters_pages_and_counts_as_the_domain() -> None:
    measures = [PlanMeasure(id=i, number=10 - i, section_number=i % 2 or None)
                for i in range(1, 8)]
    lights = {1: (Light.RED, 2), 2: (Light.GREEN, 1), 4: (Light.RED, 1), 6: (Light.LATE, 3)}
    whole = pick_in_python(measures, lights, None, PickFilters())
    assert whole.ids == [7, 6, 5, 4, 3, 2, 1]
    assert (whole.total, whole.counts) == (7, {"red": 2, "yellow": 0, "blue": 0, "late": 1,
                                               "green": 1})
    # Green picks the measures without tasks too, but counts only those with.
    green = pick_in_python(measures, lights, None, PickFilters(light=Light.GREEN))
    assert (green.ids, green.total, green.counts["green"]) == ([7, 5, 3, 2], 4, 1)
    page = pick_in_python(measures, lights, {1, 2, 3, 6}, PickFilters(section=1, offset=1,
                                                                         limit=1))
    assert (page.ids, page.total) == ([1], 2)


def _other_plan(session_factory: sessionmaker[Session], seed: int) -> None:
    """A second plan, imported before the first, whose tasks (in the same
    departments, open and past due, submitted late, cancelled) must not be
    counted in the first one's charts."""
    rng = random.Random(seed)
    with session_factory.begin() as session:
        departments = list(session.scalars(select(Department.id).order_by(Department.id)))[:5]
        plan = Plan(key="另一方案", title="另一方案", doc_number="另一方案", fingerprint="1" * 64,
                    imported_at=at("2015-01-05"), updated_at=at("2015-01-05"))
        session.add(plan)
        session.flush()
        for number in range(1, 9):
            measure = Measure(plan_id=plan.id, number=number, label=str(number),
                              title=f"另{number}", text="", source_line=number,
                              source_end_line=number)
            session.add(measure)
            session.flush()
            for department in rng.sample(departments, 3):
                due = date(2015, 6, 30) + timedelta(days=45 * rng.randrange(8))
                state = rng.choice(["assigned", "in_progress", "submitted", "approved",
                                    "cancelled"])
                session.add(Task(
                    measure_id=measure.id, department_id=department, named_as="单位",
                    role="lead", deadline=due, due=due, original_due=due, state=state,
                    assigned_at=at("2015-02-02"),
                    submitted_at=at("2016-01-20") if state in ("submitted", "approved") else None,
                    version=1,
                ))


def test_the_charts_of_a_plan_leave_out_another_plans_tasks(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    plan_id = history.world.plan_id
    _more_measures(session_factory, plan_id, 6)
    seed_varied(session_factory, 6, tasks=80)
    _other_plan(session_factory, 6)
    calendar = history.calendar
    key = history.world.plan_key
    for day in DAYS:
        ledger = build_ledger(session_factory, as_of=day, calendar=calendar, plan=key)
        overview = measure_overview(session_factory, as_of=day, calendar=calendar, plan=key,
                                    charts=True, limit=5)
        assert overview.departments == sorted({r.department for r in ledger.rows})
        mine = ChartTasks(day, overview.chart_rows, overview.department_order)
        assert ledger_charts(mine, measures_link="/d", trend=overview.trend,
                             department_rows=overview.department_rows) == ledger_charts(
            ledger, measures_link="/d")
        for name in sorted({r.department for r in ledger.rows}):
            only = measure_overview(session_factory, as_of=day, calendar=calendar, plan=key,
                                    department=name, charts=True, limit=5)
            theirs = ChartTasks(day, only.chart_rows, only.department_order)
            assert ledger_charts(theirs, department=name, trend=only.trend) == ledger_charts(
                ledger, department=name)
