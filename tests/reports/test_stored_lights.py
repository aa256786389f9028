"""Stored lights (tasks.light, for the rule lights_stored names, of a
generation tasks.light_key names) are the lights worked out from the task's
rows and the domain's assessment, a refresh for another day writes only the
tasks whose light changed, and every write of what a light reads marks them
stale, on both databases."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import TaskState
from duban.domain.org import OfficeHours
from duban.domain.status import Light, StatusPolicy
from duban.domain.workdays import WorkCalendar
from duban.services.rounds.daily import RoundTools, run_round
from duban.services.tasks import extensions, lifecycle, light_sql
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import (
    LightRule,
    generation_key,
    light_rule,
    refresh_lights,
)
from duban.services.tasks.queries import list_tasks
from models import IndicatorReading, LightsStored, Task, TaskEvent
from tests.db.conftest import HEALTH, XIANGZHOU, at
from tests.db.outbox_world import (
    CLOCK,
    RecordingSender,
    add_contacts,
    delivery_context,
    render_items,
)
from tests.reports.conftest import COORDINATOR, History
from tests.reports.test_lights import SCENARIOS, SPARSER_DAYS


def _rule(session: Session, day: date, calendar: WorkCalendar, **kw: object) -> LightRule:
    rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE, refresh_at=None,
                      **kw)  # type: ignore[arg-type]
    assert rule is not None and rule.key is not None and rule.computed is not None
    return rule


def _expected(session_factory: sessionmaker[Session], day: date, calendar: WorkCalendar,
              policy: StatusPolicy | None = None) -> dict[int, str]:
    return {
        v.id: "cancelled" if v.state is TaskState.CANCELLED else v.light.value
        for v in list_tasks(session_factory, as_of=day, calendar=calendar, policy=policy)
    }


@dataclass(frozen=True)
class Seen:
    light: dict[int, str]
    computed: dict[int, str]
    stored: dict[int, str | None]
    matches: dict[Light, set[int]]


def _seen(session_factory: sessionmaker[Session], day: date, calendar: WorkCalendar,
          policy: StatusPolicy | None = None) -> Seen:
    with session_factory() as session:
        rule = _rule(session, day, calendar, policy=policy)
        rows = session.execute(
            select(Task.id, rule.light, rule.computed, Task.light, rule.fresh())).all()
        matches = {light: set(session.scalars(select(Task.id).where(rule.matches(light))))
                   for light in Light}
    return Seen(
        light={r[0]: r[1] for r in rows},
        computed={r[0]: r[2] for r in rows},
        stored={r[0]: r[3] for r in rows if r[4]},
        matches=matches,
    )


def _check(session_factory: sessionmaker[Session], day: date, calendar: WorkCalendar,
           policy: StatusPolicy | None = None) -> list:
    """Differences on ``day`` between the domain and the rule's light, its
    computed light, the stored lights of its key and each light's filter."""
    expected = _expected(session_factory, day, calendar, policy)
    seen = _seen(session_factory, day, calendar, policy)
    differences: list = []
    for task_id, light in expected.items():
        for what, got in (("light", seen.light[task_id]), ("computed", seen.computed[task_id]),
                          ("stored", seen.stored.get(task_id, light))):
            if got != light:
                differences.append((day, task_id, what, got, light))
    for light, picked in seen.matches.items():
        if picked != {i for i, x in expected.items() if x == light.value}:
            differences.append((day, light, sorted(picked)))
    return differences


def _refresh(engine: Engine, session_factory: sessionmaker[Session], day: date,
             calendar: WorkCalendar) -> tuple[LightRule, int]:
    with session_factory() as session:
        rule = _rule(session, day, calendar)
    return rule, refresh_lights(engine, rule)


def _with_readings(session_factory: sessionmaker[Session]) -> set[int]:
    with session_factory() as session:
        return set(session.scalars(select(IndicatorReading.task_id).distinct()))


def _rows(session_factory: sessionmaker[Session]) -> dict[int, tuple[Any, ...]]:
    """Each task's stored light, its key, and the missed report periods
    stored with it (count, first deadline)."""
    with session_factory() as session:
        return {i: (light, key, count, since) for i, light, key, count, since in session.execute(
            select(Task.id, Task.light, Task.light_key, Task.missed_count, Task.missed_since))}


def _written(engine: Engine, session_factory: sessionmaker[Session], day: date,
             calendar: WorkCalendar, policy: StatusPolicy | None = None) -> list:
    """Refreshes the lights for ``day``; the differences between what it wrote
    and what it should have: every task but those with readings stored, and
    written only where it was stale or its light (or the missed report
    periods stored with it) changed; a second refresh
    writes nothing."""
    with session_factory() as session:
        state = session.execute(select(LightsStored.base, LightsStored.generation)).first()
    before = _rows(session_factory)
    rule = _rule_for(session_factory, day, calendar, policy)
    stored = refresh_lights(engine, rule)
    after = _rows(session_factory)
    seen = _seen(session_factory, day, calendar, policy)
    written = {i for i in after if after[i] != before[i]}
    differences: list = []
    if set(seen.stored) != set(seen.light) - _with_readings(session_factory):
        differences.append((day, "not stored", set(seen.light) - set(seen.stored)))
    if stored != len(written):
        differences.append((day, "count", stored, len(written)))
    low, high = ("", "") if state is None else (
        generation_key(state.base), generation_key(state.generation))
    stale_before = {i for i, (_light, key, *_missed) in before.items()
                    if key is None or not low <= key <= high}
    for task_id in written:
        unchanged = before[task_id][:1] + before[task_id][2:] == after[task_id][:1] + after[
            task_id][2:]
        if unchanged and task_id not in stale_before:
            differences.append((day, task_id, "written, light unchanged", before[task_id]))
    if refresh_lights(engine, rule) != 0:
        differences.append((day, "stored again"))
    return differences


def _rule_for(session_factory: sessionmaker[Session], day: date, calendar: WorkCalendar,
              policy: StatusPolicy | None = None) -> LightRule:
    with session_factory() as session:
        return _rule(session, day, calendar, policy=policy)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_stored_lights_are_the_computed_and_the_domains_on_every_day(
    history: History, session_factory: sessionmaker[Session], engine: Engine, scenario: str
) -> None:
    SCENARIOS[scenario](history, session_factory)
    calendar = history.calendar
    differences = []
    for day in SPARSER_DAYS:
        differences += _written(engine, session_factory, day, calendar)
        differences += _check(session_factory, day, calendar)
    assert differences == []


def test_stored_lights_stay_right_through_random_writes(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    """Random Core writes of every column and row a light reads, each after a
    refresh: the pages' lights stay the domain's, and the task written is
    stale (but where the write changed nothing the light reads)."""
    calendar = history.calendar
    generator = random.Random(17)
    with session_factory() as session:
        ids = list(session.scalars(select(Task.id).order_by(Task.id)))
    day = date(2015, 4, 1)
    differences = []
    for _step in range(60):
        day += timedelta(days=generator.randrange(1, 25))
        _refresh(engine, session_factory, day, calendar)
        task_id = generator.choice(ids)
        kind = generator.choice(["due", "state", "submitted", "report", "unreport", "assigned"])
        moment = at(day - timedelta(days=generator.randrange(0, 60)), generator.randrange(24))
        before = _read_columns(session_factory, task_id)
        reports = _reports(session_factory, task_id)
        with session_factory.begin() as session:
            if kind == "due":
                session.execute(update(Task).where(Task.id == task_id).values(
                    due=day + timedelta(days=generator.randrange(-30, 30))))
            elif kind == "state":
                state = generator.choice([s.value for s in TaskState])
                session.execute(update(Task).where(Task.id == task_id).values(state=state))
            elif kind == "submitted":
                session.execute(update(Task).where(Task.id == task_id).values(submitted_at=moment))
            elif kind == "assigned":
                session.execute(update(Task).where(Task.id == task_id).values(
                    assigned_at=moment - timedelta(days=90)))
            elif kind == "report":
                session.add(TaskEvent(task_id=task_id, at=moment, action="report",
                                      actor_role="department", actor="联络员"))
            else:
                first = session.scalars(select(TaskEvent.id).where(
                    TaskEvent.task_id == task_id, TaskEvent.action == "report")).first()
                if first is not None:
                    session.execute(delete(TaskEvent).where(TaskEvent.id == first))
        changed = (_read_columns(session_factory, task_id) != before
                   or _reports(session_factory, task_id) != reports)
        if changed and _key_of(session_factory, task_id) is not None:
            differences.append((day, task_id, kind, "still stored"))
        differences += _check(session_factory, day, calendar)
    assert differences == []


def _read_columns(session_factory: sessionmaker[Session], task_id: int) -> tuple:
    with session_factory() as session:
        return tuple(session.execute(select(
            Task.state, Task.due, Task.submitted_at, Task.assigned_at).where(Task.id == task_id)
        ).one())


def _reports(session_factory: sessionmaker[Session], task_id: int) -> list[int]:
    with session_factory() as session:
        return list(session.scalars(select(TaskEvent.id).where(
            TaskEvent.task_id == task_id, TaskEvent.action == "report").order_by(TaskEvent.id)))


def _key_of(session_factory: sessionmaker[Session], task_id: int) -> str | None:
    with session_factory() as session:
        return session.scalar(select(Task.light_key).where(Task.id == task_id))


def _generation(session_factory: sessionmaker[Session], day: date,
                calendar: WorkCalendar) -> str:
    """The light key of the lights the rule of ``day`` stores now."""
    with session_factory() as session:
        stored = _rule(session, day, calendar).stored
    assert stored is not None
    return stored[1]


def test_each_write_path_marks_the_light_stale_and_nothing_else_does(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    world = history.world
    calendar = history.calendar
    day = date(2015, 12, 20)
    sf = session_factory

    def refreshed() -> str:
        _refresh(engine, sf, day, calendar)
        key = _generation(sf, day, calendar)
        for task_id in (world.later, world.district, world.support):
            assert _key_of(sf, task_id) == key
        return key

    def move_due() -> None:
        with sf.begin() as session:
            session.execute(update(Task).where(Task.id == world.support).values(
                due=date(2016, 3, 1)))

    writes = {
        "a lifecycle action": (world.district, lambda: lifecycle.acknowledge(
            world.district, department=XIANGZHOU, now=at(day), session_factory=sf)),
        "a report event": (world.later, lambda: lifecycle.report(
            world.later, department=HEALTH, note="报送", now=at(day), session_factory=sf)),
        "a due date changed by a Core UPDATE": (world.support, move_due),
    }
    for what, (touched, write) in writes.items():
        key = refreshed()
        write()
        assert _key_of(sf, touched) is None, what
        others = {world.later, world.district, world.support} - {touched}
        assert {_key_of(sf, t) for t in others} == {key}, what

    # An extension approved moves the due date.
    key = refreshed()
    asked = extensions.request_extension(
        world.later, department=HEALTH, new_due=date(2018, 3, 1), reason="需要更多时间",
        now=at(day), calendar=calendar, session_factory=sf)
    assert _key_of(sf, world.later) == key  # asking changes nothing a light reads
    extensions.approve_extension(asked.extension_id, actor=COORDINATOR,  # type: ignore[arg-type]
                                 now=at(day), session_factory=sf)
    assert _key_of(sf, world.later) is None

    # A new reading: the task is stale, and is never stored again.
    key = refreshed()
    with sf.begin() as session:
        reading = session.scalars(select(IndicatorReading)).first()
        assert reading is not None
        event = TaskEvent(task_id=world.district, at=at(day), action="urge",
                          actor_role="system", actor="系统")
        session.add(event)
        session.flush()
        session.add(IndicatorReading(task_id=world.district, target_id=reading.target_id,
                                     event_id=event.id, value=1.0, reported_on=day))
    assert _key_of(sf, world.district) is None
    _refresh(engine, sf, day, calendar)
    assert _generation(sf, day, calendar) == key and _key_of(sf, world.district) is None

    # Writes of what no light reads leave every key.
    with sf.begin() as session:
        session.execute(update(Task).values(next_action_at=at(day), version=Task.version + 1,
                                            due=Task.due, state=Task.state))
        session.add(TaskEvent(task_id=world.support, at=at(day), action="urge",
                              actor_role="system", actor="系统"))
    assert {_key_of(sf, t) for t in (world.later, world.support)} == {key}
    assert _check(sf, day, calendar) == []


def test_a_calendar_or_policy_change_is_a_new_key_and_the_lights_follow_it(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    calendar = history.calendar
    # ``later`` reported for the first two quarters only; without the 2015
    # notice the National Day week counts as working days: the third
    # quarter's report deadline has passed by the 12th of October.
    with session_factory.begin() as session:
        session.add(TaskEvent(task_id=history.world.later, at=at("2015-04-05"), action="report",
                              actor_role="department", actor="联络员"))
    plain = WorkCalendar([n for y in calendar.years if y != 2015
                          if (n := calendar.notice(y)) is not None], weekend_fallback=True)
    day = date(2015, 10, 12)
    rule, stored = _refresh(engine, session_factory, day, calendar)
    assert stored
    with session_factory() as session:
        assert _rule(session, day, plain).key != rule.key
        assert _rule(session, day, calendar,
                     policy=StatusPolicy(due_soon_workdays=3)).key != rule.key
        assert _rule(session, day + timedelta(days=1), calendar).key != rule.key
        assert _rule(session, day, calendar).key == rule.key
    # The lights stored under the old key are not read under the new.
    assert _expected(session_factory, day, plain)[history.world.later] == "yellow"
    assert _expected(session_factory, day, calendar)[history.world.later] == "green"
    assert _check(session_factory, day, plain) == []
    assert _check(session_factory, day, calendar) == []
    # Stored for each in turn (the calendar moves a deadline, the policy the
    # "due soon" window): each refresh writes the lights that differ, and only them.
    soon = StatusPolicy(due_soon_workdays=3)
    differences = []
    for step_day, step_calendar, policy in (
        (day, plain, None), (day, calendar, None), (day, calendar, soon),
        (day + timedelta(days=60), plain, soon), (day + timedelta(days=60), calendar, None),
        (day, plain, None),
    ):
        differences += _written(engine, session_factory, step_day, step_calendar, policy)
        differences += _check(session_factory, step_day, step_calendar, policy)
    assert differences == []
    with session_factory() as session:
        assert _rule(session, day, plain).stored is not None


# Every task open, due on days spread over the autumn: from day to day each
# turns blue, then red, and yellow after a report deadline it missed.
SPREAD_DUES = (date(2015, 10, 8), date(2015, 11, 2), date(2015, 11, 20), date(2015, 12, 17),
               date(2016, 1, 6))
CONSECUTIVE = [date(2015, 10, 5) + timedelta(days=n) for n in range(49)] + [
    date(2015, 12, 12) + timedelta(days=n) for n in range(28)]


def _spread(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        ids = session.scalars(select(Task.id).order_by(Task.id)).all()
        assert len(ids) == len(SPREAD_DUES)
        for n, (task_id, due) in enumerate(zip(ids, SPREAD_DUES, strict=True)):
            session.execute(update(Task).where(Task.id == task_id).values(
                due=due, state=TaskState.ACKNOWLEDGED.value, submitted_at=None))
            # Every report owed up to the third quarter's, which the first and third miss.
            missing = n in (0, 2)
            for when in ("2015-04-03", "2015-06-20") if missing else ("2015-04-03", "2015-10-05"):
                session.add(TaskEvent(task_id=task_id, at=at(when), action="report",
                                      actor_role="department", actor="联络员"))


def test_day_after_day_a_refresh_writes_only_the_lights_that_changed(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    _spread(session_factory)
    calendar = history.calendar
    differences = []
    changed = 0
    previous: dict[int, str] = {}
    for day in CONSECUTIVE:
        differences += _written(engine, session_factory, day, calendar)
        differences += _check(session_factory, day, calendar)
        lights = _expected(session_factory, day, calendar)
        changed += sum(1 for i, light in lights.items() if previous.get(i, light) != light)
        previous = lights
    assert differences == []
    assert changed >= 8  # the days saw lights change: blue, red, yellow


def test_a_reader_of_one_day_keeps_its_lights_through_a_refresh_for_another(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    """A page that read which lights are stored for its day, then meets a
    refresh for another day committed before its next statement, still reads
    its own day's lights: the lights written for the other day are of a
    generation it did not know."""
    _spread(session_factory)
    calendar = history.calendar
    before, after = date(2015, 12, 15), date(2015, 12, 18)
    _refresh(engine, session_factory, before, calendar)
    expected = _expected(session_factory, before, calendar)
    assert expected != _expected(session_factory, after, calendar)
    with session_factory() as session:
        rule = _rule(session, before, calendar)
        assert rule.stored is not None
        assert _refresh(engine, session_factory, after, calendar)[1] > 0
        lights = {i: light for i, light in session.execute(select(Task.id, rule.light))}
        picked = {light: set(session.scalars(select(Task.id).where(rule.matches(light))))
                  for light in Light}
    assert lights == expected
    assert picked == {light: {i for i, x in expected.items() if x == light.value}
                      for light in Light}
    assert _check(session_factory, after, calendar) == []


def test_a_page_stores_the_days_lights_unless_a_writer_holds_the_database(
    history: History, session_factory: sessionmaker[Session], engine: Engine, backend: str
) -> None:
    calendar = history.calendar
    day = date(2015, 12, 20)
    if backend == "sqlite":
        # Another writer holds SQLite's write lock: the page neither waits nor fails.
        with engine.connect() as writer:
            writer.exec_driver_sql("BEGIN IMMEDIATE")
            with session_factory() as session:
                rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE,
                                  refresh_at=1)
                assert rule is not None
                assert session.scalar(select(Task.id).where(rule.fresh()).limit(1)) is None
            writer.rollback()
    else:
        # Another transaction holds a task's row: the others are stored.
        with engine.connect() as writer:
            writer.execute(text("SELECT id FROM tasks WHERE id = :id FOR UPDATE"),
                           {"id": history.world.district})
            with session_factory() as session:
                rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE,
                                  refresh_at=1)
                assert rule is not None
                fresh = set(session.scalars(select(Task.id).where(rule.fresh())))
            assert history.world.district not in fresh and history.world.later in fresh
            writer.rollback()
    assert _check(session_factory, day, calendar) == []
    with session_factory() as session:
        rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE, refresh_at=1)
        assert rule is not None
        stored = set(session.scalars(select(Task.id).where(rule.fresh())))
        everyone = set(session.scalars(select(Task.id)))
    assert stored == everyone - _with_readings(session_factory)
    assert _check(session_factory, day, calendar) == []



def test_the_days_first_round_stores_its_lights(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    calendar = history.calendar
    now = at("2016-01-11", 9)
    tools = RoundTools(calendar=calendar, hours=OfficeHours(), clock=CLOCK,
                       sender=RecordingSender(), render=render_items,
                       context=delivery_context(calendar))
    report = run_round(session_factory, now=now, tools=tools, store_lights=True)
    with session_factory() as session:
        rule = _rule(session, now.date(), calendar)
        stored = set(session.scalars(select(Task.id).where(rule.fresh())))
        everyone = set(session.scalars(select(Task.id)))
    assert stored == everyone - _with_readings(session_factory) and report.lights == len(stored)
    assert _check(session_factory, now.date(), calendar) == []
    # A later round of the day stores nothing again; one not asked to stores nothing.
    assert run_round(session_factory, now=at("2016-01-11", 11), tools=tools,
                     store_lights=True).lights == 0
    assert run_round(session_factory, now=at("2016-01-12", 9), tools=tools).lights == 0


def test_the_days_first_round_sends_before_it_stores_the_lights(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    """The morning's messages do not wait for the pages' stored lights and
    scorecard cells (seconds at 100k tasks): they are stored after them."""
    calendar = history.calendar
    now = at("2016-01-11", 9)
    fresh_at_send: list[int] = []
    add_contacts(session_factory)  # someone to send the day's notices to

    class Watching(RecordingSender):
        def send(self, url: str, message: Any, **kw: Any) -> Any:
            with session_factory() as session:
                rule = _rule(session, now.date(), calendar)
                fresh_at_send.append(len(session.scalars(select(Task.id).where(rule.fresh()))
                                         .all()))
            return super().send(url, message, **kw)

    tools = RoundTools(calendar=calendar, hours=OfficeHours(), clock=CLOCK, sender=Watching(),
                       render=render_items, context=delivery_context(calendar))
    report = run_round(session_factory, now=now, tools=tools, store_lights=True)
    assert report.delivery.sent and fresh_at_send and set(fresh_at_send) == {0}
    assert report.lights and report.lights == len(_stored(session_factory, now.date(), calendar))


def _stored(session_factory: sessionmaker[Session], day: date, calendar: WorkCalendar) -> set[int]:
    with session_factory() as session:
        return set(session.scalars(select(Task.id).where(_rule(session, day, calendar).fresh())))


def test_a_refresh_of_many_lights_on_postgresql_leaves_fresh_statistics_and_visibility(
    history: History, session_factory: sessionmaker[Session], engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The day's first refresh rewrites every task: on PostgreSQL the tasks are
    vacuumed and analysed after it (the planner's statistics would say every
    light_key is NULL, and index-only scans would visit every row's page,
    until autovacuum ran, if it runs); a refresh of a few is not."""
    if engine.dialect.name != "postgresql":
        pytest.skip("ANALYZE after a refresh is PostgreSQL's")
    SCENARIOS[next(iter(SCENARIOS))](history, session_factory)

    def analysed() -> tuple[int, int]:
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT analyze_count, vacuum_count FROM pg_stat_user_tables"
                " WHERE relname = 'tasks'"
            )).one()
            return int(row[0] or 0), int(row[1] or 0)

    def stats_seen() -> None:  # statistics reach pg_stat_* at the next snapshot
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_stat_clear_snapshot()"))

    monkeypatch.setattr(light_sql, "ANALYZE_BASE", 0)  # the scenario's few tasks are many
    before = analysed()
    _rule_of_day, stored = _refresh(engine, session_factory, SPARSER_DAYS[0], history.calendar)
    assert stored > 0
    stats_seen()
    assert analysed() == (before[0] + 1, before[1] + 1)
    monkeypatch.setattr(light_sql, "ANALYZE_BASE", 50)
    with engine.begin() as connection:  # one task's light stale again: too few to analyse
        connection.execute(text("UPDATE tasks SET light_key = NULL WHERE id = "
                                "(SELECT min(id) FROM tasks WHERE light_key IS NOT NULL)"))
    _rule_of_day, stored = _refresh(engine, session_factory, SPARSER_DAYS[0], history.calendar)
    assert stored == 1
    stats_seen()
    assert analysed() == (before[0] + 1, before[1] + 1)
