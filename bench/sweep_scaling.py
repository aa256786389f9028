"""Sweep cost against table size: one real sweep vs the bare indexed query.

For each size N, a fresh database (alembic upgrade head) gets one plan with 100
measures, 100 departments and N tasks spread over them (lead and supporting,
weekly deadlines over a year, mixed states), each with its 交办 event and its
sent 交办通知. Exactly 1,000 tasks, picked at random, are due at the sweep's
``now`` (2016-03-01 09:00 Asia/Shanghai); every other open task's next action
is on an office morning within the following year; finished tasks have none.
Each due task is in steady state: the notices of earlier days are recorded, so
today's sweep inserts exactly one notice for it (an acknowledgement reminder, a
10-day due reminder or the first 催办, a third each).

Timed, on that database:

* ``query``      the bare ``SELECT id FROM tasks WHERE next_action_at <= :now``
                 (best of 21);
* ``select``     ``duban.services.ladder.sweep.due_tasks`` — the sweep's own selection
                 of the due set, through the ORM (best of 21);
* ``sweep``      one real ``advance(...)`` over the due set: claim each task,
                 evaluate its ladder, insert its notice, set its next action
                 (best of 3; the notices are deleted and next_action_at reset
                 between runs). Split into per-task work (claim + evaluate and
                 insert) and the sweep's own time (selection + loop);

and the other selections of a scheduled round (flows/sweep.py), which must not
grow with the table either:

* ``measures``   ``measures_with_due_work`` (which measures get a flow run);
* ``per-measure`` ``due_tasks(measure_ids=[m])`` for every such measure, as the
                 measure flows run it (sum of all, best of 3);
* ``route``      ``duban.services.outbox.deliver.route`` when no notice is pending: the
                 time it takes the outbox to find that there is nothing to route.

Prints one row per size, the ratios sweep/query and own/query, how much each
figure grows from the smallest to the largest size, and the query plans.

    .venv/bin/python bench/sweep_scaling.py [--sizes 10k,100k,1M] [--postgres] [--quick]

``--wal`` repeats the SQLite runs in WAL mode with ``synchronous=NORMAL`` (an
experiment: duban's engines keep SQLite's defaults, a rollback journal and an
fsync per commit, which dominates the per-task cost on a shared disk).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from benchdb import (
    DEFAULT_POSTGRES,
    migrated_engine,
    plan_of_first_select,
    postgres_database,
    revision,
    sqlite_database,
    use_sqlite_wal,
)
from sqlalchemy import Engine, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from duban.db import make_session_factory
from duban.domain.escalation import DEFAULT_POLICY, TaskTimeline, evaluate
from duban.domain.lifecycle import Action, TaskState
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar
from duban.services.ladder import sweep as sweep_module
from duban.services.ladder.core import OrgClock
from duban.services.ladder.policy import store_policy
from duban.services.ladder.sweep import advance, due_tasks, measures_with_due_work
from duban.services.outbox.route import route
from duban.services.plans.assignment import assign_step_key
from duban.services.task_events import SYSTEM_ACTOR
from models import Department, Measure, Notice, Plan, Section, Task, TaskEvent, UTCDateTime

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2016, 3, 1, 9, 0, tzinfo=ZONE)
DUE = 1000
MEASURES = 100
DEPARTMENTS = 100
CHUNK = 20_000
BARE_QUERY = text("SELECT id FROM tasks WHERE next_action_at <= :now").bindparams(
    bindparam("now", type_=UTCDateTime())
)


def parse_size(text_: str) -> int:
    """``10k`` -> 10000, ``1M`` -> 1000000, ``2500`` -> 2500."""
    text_ = text_.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text_[-1:], 1)
    return int(float(text_.rstrip("km")) * scale)


def label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


# ----------------------------------------------------------------------- fill


@dataclass(frozen=True)
class World:
    due_ids: list[int]
    policy_id: int
    fill_seconds: float


def _chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _morning(day: date) -> datetime:
    return datetime.combine(day, NOW.timetz())


def _workdays(calendar: WorkCalendar, start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if calendar.is_workday(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _skeleton(session_factory: sessionmaker[Session]) -> tuple[list[int], list[int], int]:
    """One plan (5 sections, 100 measures), 100 departments, the default policy."""
    created = datetime(2015, 8, 20, 9, tzinfo=ZONE)
    with session_factory.begin() as session:
        policy, _ = store_policy(DEFAULT_POLICY, session=session, now=created)
        departments = [
            Department(
                name=f"珠海市第{i + 1:03d}局" if i < 80 else f"第{i - 79:02d}区",
                kind="department" if i < 80 else "district",
            )
            for i in range(DEPARTMENTS)
        ]
        plan = Plan(
            key="珠委办〔2015〕99号",
            title="珠海市基准测试工作方案",
            doc_number="珠委办〔2015〕99号",
            plan_year=2015,
            horizon=date(2017, 12, 31),
            fingerprint="0" * 64,
            imported_at=created,
            updated_at=created,
        )
        sections = [
            Section(
                plan=plan,
                number=s + 1,
                label="一二三四五"[s],
                title=f"第{s + 1}部分",
                source_line=10 + s * 40,
            )
            for s in range(5)
        ]
        measures = [
            Measure(
                plan=plan,
                section=sections[m * 5 // MEASURES],
                number=m + 1,
                label=str(m + 1),
                title=f"措施{m + 1}",
                text=f"到2016年底,完成措施{m + 1}的各项任务。(珠海市第{m % 80 + 1:03d}局牵头)",
                source_line=12 + m,
                source_end_line=12 + m,
                clause="牵头",
                clause_line=12 + m,
            )
            for m in range(MEASURES)
        ]
        session.add_all([policy, *departments, plan, *sections, *measures])
        session.flush()
        return [m.id for m in measures], [d.id for d in departments], policy.id


def fill(engine: Engine, n: int, calendar: WorkCalendar, seed: int = 4) -> World:
    """N tasks (ids 1..N) with events and notices, exactly DUE of them due at NOW."""
    started = time.perf_counter()
    session_factory = make_session_factory(engine)
    measure_ids, department_ids, policy_id = _skeleton(session_factory)
    rng = random.Random(seed)
    today = NOW.date()
    assign_days = [_morning(d) for d in _workdays(calendar, date(2015, 9, 1), date(2016, 2, 26))]
    future = [_morning(today + timedelta(days=k)) for k in range(1, 366)]
    # Weekly deadlines (Fridays) from the end of April; the due date is a working day.
    deadlines = [
        date(2016, 4, 29) + timedelta(weeks=k) for k in range(n // (MEASURES * DEPARTMENTS * 2) + 1)
    ]
    due_index = dict.fromkeys(sorted(rng.sample(range(n), DUE)))
    due_plans = {i: _due_task(k % 3, calendar) for k, i in enumerate(due_index)}

    def assigned_at(i: int) -> datetime:
        return assign_days[(i * 7919) % len(assign_days)]

    def tasks() -> Iterator[dict[str, Any]]:
        for i in range(n):
            measure, department = i % MEASURES, (i // MEASURES) % DEPARTMENTS
            role = "lead" if (i // (MEASURES * DEPARTMENTS)) % 2 == 0 else "supporting"
            deadline = deadlines[i // (MEASURES * DEPARTMENTS * 2)]
            row: dict[str, Any] = {
                "id": i + 1,
                "measure_id": measure_ids[measure],
                "department_id": department_ids[department],
                "named_as": f"单位{department}",
                "role": role,
                "deadline": deadline,
                "version": 1,
                "policy_id": policy_id,
                "acknowledged_at": None,
                "submitted_at": None,
                "approved_at": None,
            }
            plan = due_plans.get(i)
            if plan is not None:
                row.update(plan.task_columns(), next_action_at=NOW)
            else:
                due = calendar.workday_on_or_before(deadline)
                due = due if role == "lead" else calendar.add_workdays(due, -10)
                assigned = assigned_at(i)
                state = rng.choices(
                    ["assigned", "acknowledged", "in_progress", "submitted", "approved"],
                    [10, 40, 30, 5, 15],
                )[0]
                row.update(due=due, original_due=due, state=state, assigned_at=assigned)
                if state != "assigned":
                    row["acknowledged_at"] = assigned + timedelta(days=1)
                if state in ("submitted", "approved"):
                    row["submitted_at"] = assigned + timedelta(days=30)
                    row["next_action_at"] = None
                else:
                    row["next_action_at"] = rng.choice(future)
                if state == "approved":
                    row["approved_at"] = assigned + timedelta(days=32)
            yield row

    def events() -> Iterator[dict[str, Any]]:
        for i in range(n):
            plan = due_plans.get(i)
            yield from (plan.events(i + 1) if plan else [_assign_event(i + 1, assigned_at(i))])

    def notices() -> Iterator[dict[str, Any]]:
        for i in range(n):
            plan = due_plans.get(i)
            if plan is not None:
                yield from plan.done_notices(i + 1)
            else:
                at = assigned_at(i)
                yield _notice(i + 1, assign_step_key(at), at, "sent")

    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA synchronous=OFF")  # this connection only
        for table, rows in ((Task, tasks()), (TaskEvent, events()), (Notice, notices())):
            for chunk in _chunks(rows):
                connection.execute(insert(table), chunk)
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT setval('tasks_id_seq', (SELECT max(id) FROM tasks))")
    # The loading connection ran without fsync: close it, so the sweeps run with
    # the engine's own settings (SQLite: the default synchronous=FULL).
    engine.dispose()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does after a load
    return World(
        due_ids=[i + 1 for i in due_index],
        policy_id=policy_id,
        fill_seconds=time.perf_counter() - started,
    )


def _assign_event(task_id: int, at: datetime) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "at": at,
        "action": Action.ASSIGN.value,
        "actor_role": "system",
        "actor": SYSTEM_ACTOR,
        "from_state": None,
        "to_state": "assigned",
        "note": None,
        "data": {"due": "2016-06-30", "deadline": "2016-06-30"},
    }


def _notice(task_id: int, step: str, at: datetime, status: str) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "step": step,
        "due_at": at,
        "status": status,
        "created_at": at,
        "level": 0,
        "reason": None,
    }


@dataclass(frozen=True)
class DueTask:
    """A task in steady state whose one new ladder step falls due today."""

    state: TaskState
    assigned: datetime
    due: date
    acknowledged: datetime | None
    reported: datetime | None
    done: list[tuple[str, datetime, str]] = field(default_factory=list)

    def task_columns(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "original_due": self.due,
            "state": self.state.value,
            "assigned_at": self.assigned,
            "acknowledged_at": self.acknowledged,
        }

    def events(self, task_id: int) -> list[dict[str, Any]]:
        rows = [_assign_event(task_id, self.assigned)]
        for action, at, to_state in (
            (Action.ACKNOWLEDGE, self.acknowledged, "acknowledged"),
            (Action.REPORT, self.reported, "in_progress"),
        ):
            if at is not None:
                rows.append(
                    {
                        **rows[0],
                        "action": action.value,
                        "at": at,
                        "to_state": to_state,
                        "actor_role": "department",
                        "actor": "联络员",
                        "data": None,
                    }
                )
        return rows

    def done_notices(self, task_id: int) -> list[dict[str, Any]]:
        return [_notice(task_id, step, at, status) for step, at, status in self.done]


def _due_task(group: int, calendar: WorkCalendar) -> DueTask:
    """Group 0: unacknowledged for 2 working days (签收提醒); 1: due in 10 working
    days (到期提醒); 2: one working day overdue (催办). Earlier steps are recorded
    as the sweeps of earlier days left them."""
    today = NOW.date()
    if group == 0:
        assigned = _morning(calendar.add_workdays(today, -2))
        base = DueTask(TaskState.ASSIGNED, assigned, date(2016, 6, 30), None, None)
    else:
        assigned = _morning(date(2015, 11, 2))
        due = calendar.add_workdays(today, 10 if group == 1 else -1)
        reported = _morning(date(2016, 1, 5)) if group == 2 else None
        state = TaskState.IN_PROGRESS if group == 2 else TaskState.ACKNOWLEDGED
        base = DueTask(state, assigned, due, assigned + timedelta(days=1), reported)
    timeline = TaskTimeline(
        state=base.state,
        assigned_on=base.assigned.date(),
        due=base.due,
        acknowledged_on=base.acknowledged.date() if base.acknowledged else None,
        report_dates=(base.reported.date(),) if base.reported else (),
    )
    first = assign_step_key(base.assigned)
    yesterday = calendar.add_workdays(today, -1)
    before = evaluate(timeline, DEFAULT_POLICY, calendar, today=yesterday, done=frozenset([first]))
    done = [(first, base.assigned, "sent")]
    done += [(o.key, _morning(o.on), "sent") for o in before.due]
    done += [(o.key, _morning(o.on), "superseded") for o, _ in before.superseded]
    keys = frozenset(key for key, _, _ in done)
    now_due = evaluate(timeline, DEFAULT_POLICY, calendar, today=today, done=keys)
    assert len(now_due.due) == 1 and not now_due.superseded, (group, now_due)
    return DueTask(base.state, base.assigned, base.due, base.acknowledged, base.reported, done)


# --------------------------------------------------------------------- timing


def best_ms(call: Callable[[], Any], runs: int) -> float:
    call()  # warm caches and the connection pool
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


class Phases:
    """Wraps module functions to add up the time spent in each."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


@contextmanager
def phases_of_sweep() -> Iterator[Phases]:
    phases = Phases()
    with (
        mock.patch.object(sweep_module, "due_tasks", phases.wrap("select", due_tasks)),
        mock.patch.object(sweep_module, "_claim", phases.wrap("claim", sweep_module._claim)),
        mock.patch.object(sweep_module, EVALUATE, phases.wrap("evaluate", _evaluate_fn())),
    ):
        yield phases


# The batch's evaluation (advance_batch; _advance_one, per task, before the bulk
# sweep: so the same script measures a tree from before it).
EVALUATE = "advance_batch" if hasattr(sweep_module, "advance_batch") else "_advance_one"


def _evaluate_fn() -> Callable[..., Any]:
    return getattr(sweep_module, EVALUATE)  # type: ignore[no-any-return]


MINIMAL_BATCH = 200  # as the sweep's BATCH
_TASKS = Task.__table__
_CLAIM = text(
    "UPDATE tasks SET next_action_at = :lease WHERE id IN "
    "(SELECT id FROM tasks WHERE next_action_at <= :now ORDER BY next_action_at, id LIMIT :size) "
    "RETURNING id"
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("lease", type_=UTCDateTime()))
_NEXT = (
    update(_TASKS)  # type: ignore[arg-type]
    .where(_TASKS.c.id == bindparam("b_id"), _TASKS.c.next_action_at == bindparam("b_lease"))
    .values(next_action_at=bindparam("b_next"))
)


def minimal_sql(engine: Engine) -> None:
    """The least SQL a sweep of the due set must do, as bare statements: per
    batch of 200, one claim (UPDATE … RETURNING), one multi-row INSERT of a
    notice per task, one executemany UPDATE of the next actions; one commit."""
    lease = NOW + timedelta(minutes=10)
    later = NOW + timedelta(days=1)
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    while True:
        with engine.begin() as connection:
            ids = [r[0] for r in connection.execute(
                _CLAIM, {"now": NOW, "lease": lease, "size": MINIMAL_BATCH}
            )]
            if not ids:
                return
            rows = [
                {"task_id": i, "step": "bench-minimal", "status": "pending", "level": 1,
                 "due_at": NOW, "created_at": NOW, "reason": None}
                for i in ids
            ]
            connection.execute(
                dialect.insert(Notice).values(rows).on_conflict_do_nothing(
                    index_elements=["task_id", "step"]
                )
            )
            connection.execute(
                _NEXT, [{"b_id": i, "b_lease": lease, "b_next": later} for i in ids]
            )


@dataclass
class Result:
    backend: str
    n: int
    fill_s: float
    query_ms: float
    select_ms: float
    measures_ms: float
    per_measure_ms: float
    route_ms: float
    minimal_ms: float
    sweep_ms: float
    claim_ms: float
    evaluate_ms: float
    sweep_select_ms: float
    sweep_runs_ms: list[float]
    plans: dict[str, str]

    @property
    def per_task_ms(self) -> float:
        return self.sweep_ms / DUE

    @property
    def own_ms(self) -> float:
        """The sweep's time beyond per-task work: its selection and its loop."""
        return self.sweep_ms - self.claim_ms - self.evaluate_ms


def measure(engine: Engine, backend: str, n: int, calendar: WorkCalendar, runs: int) -> Result:
    world = fill(engine, n, calendar)
    session_factory = make_session_factory(engine)
    clock = OrgClock(ZONE)

    with engine.connect() as connection:

        def bare() -> None:
            assert len(connection.execute(BARE_QUERY, {"now": NOW}).all()) == DUE

        query_ms = best_ms(bare, 21)

    def select_due() -> None:
        assert len(due_tasks(session_factory, now=NOW)) == DUE

    def route_nothing() -> None:
        assert route(session_factory, now=NOW, send_time=lambda m: m, clock=clock).routed == 0

    select_ms = best_ms(select_due, 21)
    measures_ms = best_ms(lambda: measures_with_due_work(session_factory, now=NOW), 7)
    due_measures = measures_with_due_work(session_factory, now=NOW)

    def select_per_measure() -> None:
        found = sum(len(due_tasks(session_factory, now=NOW, measure_ids=[m])) for m in due_measures)
        assert found == DUE

    per_measure_ms = best_ms(select_per_measure, 3)
    route_ms = best_ms(route_nothing, 3)
    plans = {
        "bare query": plan_of_first_select(engine, bare_in_new_connection(engine)),
        "due_tasks": plan_of_first_select(engine, select_due),
        "measures_with_due_work": plan_of_first_select(
            engine, lambda: measures_with_due_work(session_factory, now=NOW)
        ),
        "due_tasks(measure_ids=[m])": plan_of_first_select(
            engine, lambda: due_tasks(session_factory, now=NOW, measure_ids=due_measures[:1])
        ),
        "route": plan_of_first_select(engine, route_nothing),
    }

    minimal = []
    for _ in range(runs):
        started = time.perf_counter()
        minimal_sql(engine)
        minimal.append((time.perf_counter() - started) * 1000)
        reset(engine, world.due_ids)
    minimal_ms = min(minimal)

    best: tuple[float, Phases] | None = None
    totals = []
    for _ in range(runs):
        with phases_of_sweep() as phases:
            started = time.perf_counter()
            report = advance(session_factory, now=NOW, calendar=calendar, clock=clock)
            elapsed = time.perf_counter() - started
        assert report.evaluated == DUE and report.notices == DUE, report
        totals.append(elapsed * 1000)
        if best is None or elapsed < best[0]:
            best = (elapsed, phases)
        reset(engine, world.due_ids)
    assert best is not None
    elapsed, phases = best
    return Result(
        backend=backend,
        n=n,
        fill_s=world.fill_seconds,
        query_ms=query_ms,
        select_ms=select_ms,
        measures_ms=measures_ms,
        per_measure_ms=per_measure_ms,
        route_ms=route_ms,
        minimal_ms=minimal_ms,
        sweep_ms=elapsed * 1000,
        claim_ms=phases.seconds["claim"] * 1000,
        evaluate_ms=phases.seconds["evaluate"] * 1000,
        sweep_select_ms=phases.seconds["select"] * 1000,
        sweep_runs_ms=totals,
        plans=plans,
    )


def bare_in_new_connection(engine: Engine) -> Callable[[], None]:
    def run() -> None:
        with engine.connect() as connection:
            connection.execute(BARE_QUERY, {"now": NOW}).all()

    return run


def reset(engine: Engine, due_ids: list[int]) -> None:
    """Undo a sweep: drop the notices it inserted, make its tasks due again."""
    with engine.begin() as connection:
        connection.execute(delete(Notice).where(Notice.created_at == NOW))  # and bench-minimal
        connection.execute(update(Task).where(Task.id.in_(due_ids)).values(next_action_at=NOW))
        left = connection.execute(select(Task.id).where(Task.next_action_at <= NOW)).all()
        assert len(left) == DUE


# --------------------------------------------------------------------- report


HEADER = (
    f"{'backend':<10} {'N':>5} {'fill s':>7} {'query ms':>9} {'select ms':>10} "
    f"{'minimal ms':>11} {'sweep ms':>9} {'ms/task':>8} {'own ms':>7} {'sweep/minimal':>14}"
)
HEADER_FLOW = f"{'backend':<10} {'N':>5} {'measures ms':>12} {'per-measure ms':>15} {'route ms':>9}"


def row(r: Result) -> str:
    return (
        f"{r.backend:<10} {label(r.n):>5} {r.fill_s:7.1f} {r.query_ms:9.2f} {r.select_ms:10.2f} "
        f"{r.minimal_ms:11.0f} {r.sweep_ms:9.0f} {r.per_task_ms:8.2f} {r.own_ms:7.1f} "
        f"{r.sweep_ms / r.minimal_ms:14.2f}"
    )


def flow_row(r: Result) -> str:
    return (
        f"{r.backend:<10} {label(r.n):>5} {r.measures_ms:12.2f} {r.per_measure_ms:15.1f} "
        f"{r.route_ms:9.2f}"
    )


GROWTH: tuple[tuple[str, str, Callable[[Result], float]], ...] = (
    ("bare query", "ms", lambda r: r.query_ms),
    ("due_tasks (the sweep's selection)", "ms", lambda r: r.select_ms),
    ("due_tasks / bare query", "x ", lambda r: r.select_ms / r.query_ms),
    ("sweep's own time", "ms", lambda r: r.own_ms),
    ("sweep per due task", "ms", lambda r: r.per_task_ms),
    ("sweep / minimal SQL", "x ", lambda r: r.sweep_ms / r.minimal_ms),
    ("measures_with_due_work", "ms", lambda r: r.measures_ms),
    ("per-measure due_tasks (sum)", "ms", lambda r: r.per_measure_ms),
    ("route's selection", "ms", lambda r: r.route_ms),
)


def print_report(results: list[Result]) -> None:
    print()
    print("One sweep of 1,000 due tasks vs the least SQL it must do, measured in the same run")
    print("(minimal: per batch of 200 one claim, one multi-row INSERT of the notices, one")
    print("executemany UPDATE of the next actions, as bare statements; query/select: best of 21;")
    print("sweep and minimal: best of the runs; own = sweep minus claim and batch evaluation)")
    print(HEADER)
    for r in results:
        print(row(r))
    print()
    for r in results:
        print(
            f"  {r.backend:<10} {label(r.n):>5}  sweep per due task {r.per_task_ms:.3f} ms "
            f"÷ minimal SQL per due task {r.minimal_ms / DUE:.3f} ms = "
            f"{r.sweep_ms / r.minimal_ms:.2f}   (aim: <= 3)"
        )
    print()
    print("per due task: claim + batch evaluation/insert/update (ms); the sweep's runs")
    for r in results:
        runs = ", ".join(f"{t:.0f}" for t in r.sweep_runs_ms)
        print(
            f"  {r.backend:<10} {label(r.n):>5}  claim {r.claim_ms / DUE:.3f}  "
            f"evaluate/insert {r.evaluate_ms / DUE:.3f}  "
            f"(due_tasks inside the sweep {r.sweep_select_ms:.1f} ms)  runs [{runs}] ms"
        )
    print()
    print("Other selections of a scheduled round (flows/sweep.py), same database")
    print(HEADER_FLOW)
    for r in results:
        print(flow_row(r))
    for backend in dict.fromkeys(r.backend for r in results):
        mine = sorted((r for r in results if r.backend == backend), key=lambda r: r.n)
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        print()
        print(
            f"{backend}: growth from {label(small.n)} to {label(large.n)} tasks (aim: within "
            "1.5x; on a busy machine, compare with the bare query of the same run)"
        )
        for name, unit, get in GROWTH:
            growth = get(large) / get(small)
            flag = "" if growth <= 1.5 else "   <-- grows with the table"
            print(
                f"  {name:<34} {get(small):9.2f} -> {get(large):9.2f} {unit}  x{growth:.2f}{flag}"
            )
    largest = {r.backend: r for r in sorted(results, key=lambda r: r.n)}
    for r in largest.values():
        print()
        print(f"query plans ({r.backend}, {label(r.n)} tasks):")
        for name, plan in r.plans.items():
            print(f"  {name}:")
            for line in plan.splitlines():
                print(f"      {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1M", help="SQLite sizes (default %(default)s)")
    parser.add_argument("--postgres", action="store_true", help="also 100k tasks on PostgreSQL")
    parser.add_argument("--pg-size", default="100k")
    parser.add_argument("--pg-url", default=DEFAULT_POSTGRES, help="server (maintenance db) URL")
    parser.add_argument("--quick", action="store_true", help="10k tasks only")
    parser.add_argument("--runs", type=int, default=3, help="sweeps per size (best is shown)")
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: temp dir)")
    parser.add_argument(
        "--wal", action="store_true", help="experiment: SQLite in WAL with synchronous=NORMAL"
    )
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [parse_size(s) for s in args.sizes.split(",")]
    pg_size = 10_000 if args.quick else parse_size(args.pg_size)
    calendar = build_work_calendar([])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"duban {revision()}; {DUE} due tasks at {NOW.isoformat()}; "
        f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs, load average {load}"
    )

    results: list[Result] = []
    for n in sizes:
        with sqlite_database(args.dir) as url:
            engine = migrated_engine(url)
            if args.wal:
                use_sqlite_wal(engine)
            backend = "sqlite-wal" if args.wal else "sqlite"
            try:
                results.append(measure(engine, backend, n, calendar, args.runs))
            finally:
                engine.dispose()
        print(row(results[-1]), flush=True)
    if args.postgres:
        with postgres_database(args.pg_url) as url:
            engine = migrated_engine(url)
            try:
                results.append(measure(engine, "postgresql", pg_size, calendar, args.runs))
            finally:
                engine.dispose()
        print(row(results[-1]), flush=True)
    print_report(results)


if __name__ == "__main__":
    main()
