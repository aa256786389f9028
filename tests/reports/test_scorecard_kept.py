"""The scorecard's kept cells (task_scores, duban.services.reports.scorecard_kept)
are each task's share counted from its rows now, through random writes of
everything a cell reads, whoever writes; and the page's tallies from them,
stored, stale or mixed, are the grouped SQL's, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import TaskState
from duban.domain.scorecard import Period, ScoreWeights
from duban.domain.workdays import WorkCalendar
from duban.services.reports.scorecard_kept import (
    KeptRule,
    computed_cells,
    kept_rule,
    kept_tallies,
    refresh_scores,
    stored_cells,
    wait_for_background,
)
from duban.services.reports.scorecard_sql import department_tallies
from duban.services.tasks.facts import LOCAL_ZONE
from models import Department, ExtensionRequest, Notice, Task, TaskEvent, TaskScore
from tests.db.conftest import at
from tests.reports.conftest import History
from tests.reports.test_scorecard_sql import DAYS, ROLES, seed_varied


def _rule(session_factory: sessionmaker[Session], day: date, calendar: WorkCalendar,
          weights: ScoreWeights | None = None) -> KeptRule:
    with session_factory() as session:
        rule = kept_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE,
                         task_roles=(weights or ScoreWeights()).task_roles)
    assert rule is not None
    return rule


def _differences(session_factory: sessionmaker[Session], rule: KeptRule) -> list[object]:
    """Every fresh row whose cell is not the one counted from its task now."""
    with session_factory() as session:
        stored = stored_cells(session, rule)
        computed = computed_cells(session, rule)
    return [(task_id, cell, computed.get(task_id)) for task_id, cell in sorted(stored.items())
            if computed.get(task_id) != cell]


def _grouped(session_factory: sessionmaker[Session], day: date, calendar: WorkCalendar,
             weights: ScoreWeights) -> object:
    with session_factory() as session:
        return department_tallies(session, where=[], period=Period(), as_of=day,
                                  calendar=calendar, zone=LOCAL_ZONE,
                                  task_roles=weights.task_roles)


def _kept(session_factory: sessionmaker[Session], day: date, calendar: WorkCalendar,
          weights: ScoreWeights, *, store: bool = True) -> object:
    return kept_tallies(session_factory, as_of=day, calendar=calendar, zone=LOCAL_ZONE,
                        task_roles=weights.task_roles, store=store)


def _stale_some(engine: Engine, rng: random.Random) -> None:
    with engine.begin() as connection:
        ids = list(connection.scalars(select(TaskScore.task_id)))
        connection.execute(update(TaskScore).where(
            TaskScore.task_id.in_(rng.sample(ids, len(ids) // 3))).values(score_key=None))


def test_kept_tallies_are_the_grouped_sqls_stored_stale_or_mixed(
    history: History, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    seed_varied(session_factory, 5)
    calendar = history.calendar
    rng = random.Random(5)
    differences = []
    for day in DAYS[::3]:
        for weights in ROLES:
            expected = _grouped(session_factory, day, calendar, weights)
            # Nothing stored for the day: worked out, then stored, then read.
            seen = [_kept(session_factory, day, calendar, weights, store=False),
                    _kept(session_factory, day, calendar, weights),
                    _kept(session_factory, day, calendar, weights, store=False)]
            _stale_some(engine, rng)
            seen.append(_kept(session_factory, day, calendar, weights, store=False))
            differences += [(day, weights.task_roles, n) for n, got in enumerate(seen)
                            if got != expected]
            rule = _rule(session_factory, day, calendar, weights)
            differences += _differences(session_factory, rule)
    assert differences == []
    with session_factory() as session:
        assert session.scalar(select(TaskScore.task_id).where(
            TaskScore.score_key.is_not(None)).limit(1)) is not None


def _rows_read(session_factory: sessionmaker[Session], task_id: int) -> tuple[object, ...]:
    """What a task's cell reads: its columns, reports, notices and extensions."""
    with session_factory() as session:
        task = session.execute(select(
            Task.department_id, Task.role, Task.state, Task.due, Task.submitted_at,
            Task.assigned_at).where(Task.id == task_id)).one()
        reports = session.execute(select(TaskEvent.id, TaskEvent.at).where(
            TaskEvent.task_id == task_id, TaskEvent.action == "report").order_by(
            TaskEvent.id)).all()
        notices = session.execute(select(
            Notice.id, Notice.level, Notice.due_at, Notice.status == "superseded").where(
            Notice.task_id == task_id).order_by(Notice.id)).all()
        requests = session.execute(select(
            ExtensionRequest.id, ExtensionRequest.status, ExtensionRequest.requested_at).where(
            ExtensionRequest.task_id == task_id).order_by(ExtensionRequest.id)).all()
    return tuple(task), tuple(reports), tuple(notices), tuple(requests)


KINDS = ["department", "role", "state", "due", "submitted", "assigned", "report", "unreport",
         "move_report", "notice", "supersede", "level", "unnotice", "extension", "decide",
         "unextend", "untouched"]


def _write(session: Session, rng: random.Random, kind: str, task_id: int, day: date,
           departments: list[int]) -> None:
    """One Core write (as imports, bulk jobs and other machines write)."""
    moment = at(day - timedelta(days=rng.randrange(0, 90)), rng.randrange(24))
    task = update(Task).where(Task.id == task_id)
    if kind == "department":
        session.execute(task.values(department_id=rng.choice(departments)))
    elif kind == "role":
        session.execute(task.values(role=rng.choice(["lead", "supporting"])))
    elif kind == "state":
        session.execute(task.values(state=rng.choice([s.value for s in TaskState])))
    elif kind == "due":
        session.execute(task.values(due=day + timedelta(days=rng.randrange(-60, 30))))
    elif kind == "submitted":
        session.execute(task.values(submitted_at=rng.choice([None, moment])))
    elif kind == "assigned":
        session.execute(task.values(assigned_at=moment - timedelta(days=30)))
    elif kind == "report":
        session.add(TaskEvent(task_id=task_id, at=moment, action="report",
                              actor_role="department", actor="联络员"))
    elif kind in ("unreport", "move_report"):
        first = session.scalars(select(TaskEvent.id).where(
            TaskEvent.task_id == task_id, TaskEvent.action == "report")).first()
        if first is not None and kind == "unreport":
            session.execute(delete(TaskEvent).where(TaskEvent.id == first))
        elif first is not None:
            session.execute(update(TaskEvent).where(TaskEvent.id == first).values(at=moment))
    elif kind == "notice":
        session.add(Notice(task_id=task_id, step=f"step-{rng.random()}", due_at=moment,
                           created_at=moment, level=rng.choice([1, 2, 3]), status="sent"))
    elif kind in ("supersede", "level", "unnotice"):
        first = session.scalars(select(Notice.id).where(Notice.task_id == task_id)).first()
        if first is None:
            return
        notice = update(Notice).where(Notice.id == first)
        if kind == "supersede":
            session.execute(notice.values(status=rng.choice(["superseded", "sent"])))
        elif kind == "level":
            session.execute(notice.values(level=rng.choice([0, 1, 2, 3])))
        else:
            session.execute(delete(Notice).where(Notice.id == first))
    elif kind == "extension":
        due = session.scalar(select(Task.due).where(Task.id == task_id))
        assert due is not None
        session.add(ExtensionRequest(
            task_id=task_id, requested_at=moment, requested_by="联络员", reason="原因",
            current_due=due, new_due=due + timedelta(days=10),
            status=rng.choice(["approved", "pending", "refused"])))
    elif kind in ("decide", "unextend"):
        first = session.scalars(select(ExtensionRequest.id).where(
            ExtensionRequest.task_id == task_id)).first()
        if first is not None and kind == "decide":
            session.execute(update(ExtensionRequest).where(ExtensionRequest.id == first).values(
                status=rng.choice(["approved", "refused"]), requested_at=moment))
        elif first is not None:
            session.execute(delete(ExtensionRequest).where(ExtensionRequest.id == first))
    else:  # a write of nothing the cell reads
        session.execute(task.values(named_as=f"单位{rng.randrange(9)}"))


@pytest.mark.parametrize("seed", [11, 12])
def test_kept_cells_stay_right_through_random_writes(
    history: History, session_factory: sessionmaker[Session], engine: Engine, seed: int
) -> None:
    """Random Core writes of every column and row a cell reads, each after a
    refresh: every fresh row is the cell counted from its task now, the task
    written is stale where the write changed what it reads, and the page's
    tallies are the grouped SQL's."""
    seed_varied(session_factory, seed, tasks=60)
    calendar = history.calendar
    rng = random.Random(seed)
    with session_factory() as session:
        ids = list(session.scalars(select(Task.id).order_by(Task.id)))
        departments = list(session.scalars(select(Department.id).order_by(Department.id)))[:6]
    day = date(2015, 4, 1)
    differences: list[object] = []
    for step in range(70):
        day += timedelta(days=rng.randrange(0, 12))
        rule = _rule(session_factory, day, calendar)
        refresh_scores(engine, rule)
        task_id = rng.choice(ids)
        kind = KINDS[step % len(KINDS)] if step < len(KINDS) else rng.choice(KINDS)
        before = _rows_read(session_factory, task_id)
        with session_factory.begin() as session:
            _write(session, rng, kind, task_id, day, departments)
        rule = _rule(session_factory, day, calendar)  # a new first assignment: a new key
        with session_factory() as session:
            key = session.scalar(select(TaskScore.score_key).where(TaskScore.task_id == task_id))
        if _rows_read(session_factory, task_id) != before and key == rule.key:
            differences.append((day, task_id, kind, "still stored"))
        differences += [(day, kind, d) for d in _differences(session_factory, rule)]
        if step % 10 == 0:
            weights = ScoreWeights()
            if _kept(session_factory, day, calendar, weights, store=False) != _grouped(
                    session_factory, day, calendar, weights):
                differences.append((day, kind, "tallies"))
    assert differences == []


def test_the_check_fails_when_a_trigger_is_missing(
    history: History, session_factory: sessionmaker[Session], engine: Engine, backend: str
) -> None:
    """Without the trigger that marks a task's cell stale when a notice is
    added, the cell kept for it is wrong and the check above says so."""
    calendar = history.calendar
    day = date(2016, 1, 29)
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER notices_insert_score_stale"
                                + (" ON notices" if backend == "postgresql" else "")))
    rule = _rule(session_factory, day, calendar)
    refresh_scores(engine, rule)
    assert _differences(session_factory, rule) == []
    with session_factory.begin() as session:
        session.add(Notice(task_id=history.world.district, step="urge-x", due_at=at("2015-12-18"),
                           created_at=at("2015-12-18"), level=1, status="sent"))
    assert [d[0] for d in _differences(session_factory, rule)] == [history.world.district]  # type: ignore[index]
    assert _kept(session_factory, day, calendar, ScoreWeights()) != _grouped(
        session_factory, day, calendar, ScoreWeights())


def test_a_page_counts_right_when_a_writer_holds_the_database(
    history: History, session_factory: sessionmaker[Session], engine: Engine, backend: str
) -> None:
    calendar = history.calendar
    day = date(2015, 12, 20)
    weights = ScoreWeights()
    expected = _grouped(session_factory, day, calendar, weights)
    rule = _rule(session_factory, day, calendar)
    with engine.connect() as writer:
        if backend == "sqlite":
            writer.exec_driver_sql("BEGIN IMMEDIATE")  # nothing can be stored
        else:
            writer.execute(text("SELECT task_id FROM task_scores WHERE task_id = :id FOR UPDATE"),
                           {"id": history.world.district})
        assert _kept(session_factory, day, calendar, weights) == expected
        writer.rollback()
    with session_factory() as session:
        stored = stored_cells(session, rule)
    if backend == "sqlite":
        assert stored == {}
    assert _kept(session_factory, day, calendar, weights) == expected
    with session_factory() as session:
        assert set(stored_cells(session, rule)) == set(session.scalars(select(Task.id)))


def test_many_stale_cells_are_counted_in_sql_and_stored_after_the_page(
    history: History, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """More stale cells than GROUPED_ABOVE (every task's on the day's first
    page, when no round stored them): the page does not wait while they are
    stored, it counts in grouped SQL, and a background thread stores them."""
    from duban.services.reports import scorecard_kept

    seed_varied(session_factory, 5)
    calendar = history.calendar
    day, weights = date(2015, 12, 20), ScoreWeights()
    expected = _grouped(session_factory, day, calendar, weights)
    rule = _rule(session_factory, day, calendar)
    monkeypatch.setattr(scorecard_kept, "GROUPED_ABOVE", 3)
    started: list[object] = []
    real = scorecard_kept.refresh_in_background
    monkeypatch.setattr(scorecard_kept, "refresh_in_background",
                        lambda engine, rule: started.append(real(engine, rule)))
    assert _kept(session_factory, day, calendar, weights) == expected
    assert len(started) == 1 and started[0] is not None
    wait_for_background(60)
    with session_factory() as session:
        assert set(stored_cells(session, rule)) == set(session.scalars(select(Task.id)))
    assert _differences(session_factory, rule) == []
    assert _kept(session_factory, day, calendar, weights) == expected
    assert len(started) == 1  # nothing stale left: no second thread


def test_the_days_first_round_stores_its_cells(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    from duban.domain.org import OfficeHours
    from duban.services.rounds.daily import RoundTools, run_round
    from tests.db.outbox_world import CLOCK, RecordingSender, delivery_context, render_items

    calendar = history.calendar
    now = at("2016-01-11", 9)
    tools = RoundTools(calendar=calendar, hours=OfficeHours(), clock=CLOCK,
                       sender=RecordingSender(), render=render_items,
                       context=delivery_context(calendar))
    report = run_round(session_factory, now=now, tools=tools, store_lights=True)
    rule = _rule(session_factory, now.date(), calendar)
    with session_factory() as session:
        stored = stored_cells(session, rule)
        everyone = set(session.scalars(select(Task.id)))
    assert set(stored) == everyone and report.scores == len(everyone)
    assert _differences(session_factory, rule) == []
    assert run_round(session_factory, now=at("2016-01-11", 11), tools=tools,
                     store_lights=True).scores == 0
