"""The production profile under load: a synthetic plan replayed over a year on
PostgreSQL by one worker and by two, and what Prefect adds per measure flow run.

The plan (``bench/synthetic_plan.py``): ``--measures`` measures over
``--departments`` departments, each measure with one lead and 0-3 supporting
departments and 1-3 milestones, most at quarter ends and the year's end, some
at other month ends, a quarter in the following year; imported with the real
import service (``import_plan``). The organisation: every department with a
liaison and a head, a coordinator and a supervisor, all mailing a loopback
MailSink run in this process (like ``duban demo``).

For each worker count W in ``--workers``, on a fresh duban database and a fresh
Prefect database (both dropped at the end): the production profile is started
with ``duban.ops.supervisor.Supervisor`` (Prefect server on PostgreSQL, ``prefect
deploy --all``, W process workers with ``--worker-limit`` runs each, no web;
Prefect's scheduler off, so the daily schedules do not fire), then, as of the
first day of the range:

1. measure flow runs, each on measures not assigned yet (a fresh copy of the
   same work), with the same tasks-per-measure spread:
   * ``deployment, one at a time``  ``--latency-runs`` runs of the ``measure``
     deployment, each waited for: end-to-end seconds (the client's wall
     time, and Prefect's created → started → ended);
   * ``deployment, all at once``    ``--sample`` runs created together:
     wall time and measure flow runs per minute with W workers;
   * in a fresh process (spawned, as a worker's run would be, but without a
     worker), each first call a warm-up left out:
     ``direct``     ``assign_measure`` with one context (a);
     ``flow body``  what the flow does without Prefect: ``open_context`` +
                    ``assign_measure``;
     ``in-process`` ``measure_flow(...)`` against the running server (b),
                    with the heartbeat off as ``duban assign`` runs it;
   * the remaining measures are assigned directly with ``assign_measure`` in
     this process (so the replay has the whole plan; timed as well).
2. the replay: W runs of the ``replay`` deployment over ``--from``..``--to``
   created at once; they move through the days in step and share the work.
   Wall time; sweep flow runs and their ``advance-measure`` task runs (counted
   through the Prefect API); notices created, deliveries sent (duban's
   database) and messages the MailSink received — each per minute.

Printed: one column per W; Prefect's overhead per measure flow run as b − a
(in-process flow) and c − a (deployment run: one at a time, and the wall time
per run when all run at once); ``--json`` prints the figures as JSON instead
(progress goes to stderr either way). No figure is checked against a limit.

    .venv/bin/python bench/cluster_scaling.py [--measures 2000] [--departments 10]
        [--from 2015-01-05] [--to 2015-12-31] [--workers 1,2] [--sample 40] [--json]

A small run to try it: ``--measures 60 --from 2015-01-05 --to 2015-03-31
--sample 6``. Needs PostgreSQL (``--pg-url``, a server URL; databases
``duban_bench_*`` are created and dropped there).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml
from benchdb import migrated_engine, postgres_database, revision
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from synthetic_plan import department_names, due_spread, synthetic_draft, synthetic_org

from duban.config import Settings
from duban.ops.cluster import ClusterPlan
from duban.ops.mail_sink import MailSink, free_port
from duban.ops.runs import RunOutcome, run_deployments
from duban.ops.supervisor import Supervisor
from duban.services.accounts.org_file import load_org_file, sync_org
from duban.services.plans.assignment import assign_measure
from duban.services.plans.importer import import_plan
from duban.services.plans.to_assign import measures_to_run, tasks_per_measure
from duban.timeutil import parse_as_of
from duban.wiring import AppContext
from models import Delivery, DeliveryAttempt, Notice, Task

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
SECRET_KEY = "cluster-bench-key-not-a-secret"
TIMEZONE = "Asia/Shanghai"
SEED = 2015


def log(message: str) -> None:
    """Progress, on stderr (stdout carries the report or the JSON)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -------------------------------------------------------------------- figures


@dataclass
class Calls:
    """Timed calls of one way of assigning measures (the warm-up call apart)."""

    seconds: list[float] = field(default_factory=list)
    tasks: list[int] = field(default_factory=list)
    warmup_s: float | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000 if self.seconds else float("nan")

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.seconds) * 1000 if self.seconds else float("nan")

    @property
    def ms_per_task(self) -> float:
        return sum(self.seconds) * 1000 / sum(self.tasks) if sum(self.tasks) else float("nan")

    @property
    def tasks_per_measure(self) -> float:
        return statistics.fmean(self.tasks) if self.tasks else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "calls": len(self.seconds),
            "median_ms": self.median_ms,
            "mean_ms": self.mean_ms,
            "ms_per_task": self.ms_per_task,
            "tasks_per_measure": self.tasks_per_measure,
            "warmup_ms": None if self.warmup_s is None else self.warmup_s * 1000,
        }


@dataclass
class RunTimes:
    """Prefect's own timestamps of one flow run, in seconds."""

    state: str
    pickup_s: float | None  # created -> running (worker poll, process start, flow load)
    run_s: float | None  # running -> final
    end_to_end_s: float | None  # created -> final


@dataclass
class Deployments:
    """Runs of the measure deployment: wall time as the client saw it."""

    wall_s: float
    runs: list[RunTimes]
    tasks: list[int]
    client_s: list[float] = field(default_factory=list)  # per run, one at a time

    @property
    def ok(self) -> int:
        return sum(1 for r in self.runs if r.state == "COMPLETED")

    @property
    def per_minute(self) -> float:
        return len(self.runs) * 60 / self.wall_s if self.wall_s else float("nan")

    def median(self, attribute: str) -> float:
        values = [v for r in self.runs if (v := getattr(r, attribute)) is not None]
        return statistics.median(values) if values else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "runs": len(self.runs),
            "completed": self.ok,
            "wall_s": self.wall_s,
            "runs_per_minute": self.per_minute,
            "client_s": self.client_s,
            "median_pickup_s": self.median("pickup_s"),
            "median_run_s": self.median("run_s"),
            "median_end_to_end_s": self.median("end_to_end_s"),
            "tasks_per_measure": statistics.fmean(self.tasks) if self.tasks else None,
        }


@dataclass
class Replay:
    wall_s: float
    tasks: int  # in duban's database when the replay ended: the whole plan
    states: list[str]
    run_s: list[float | None]  # each replay run's own time (running -> final)
    placement: dict[str, int]  # worker -> replay runs it took
    sweeps: int
    sweep_states: dict[str, int]
    task_runs: int
    notices: int
    deliveries: dict[str, int]
    attempts: int
    mails: int

    def per_minute(self, count: int) -> float:
        return count * 60 / self.wall_s if self.wall_s else float("nan")


@dataclass
class Result:
    workers: int
    worker_limit: int | None
    tasks: int
    phases_s: dict[str, float] = field(default_factory=dict)
    single: Deployments | None = None
    batch: Deployments | None = None
    batch_placement: dict[str, int] = field(default_factory=dict)
    direct: Calls = field(default_factory=Calls)
    body: Calls = field(default_factory=Calls)
    flow: Calls = field(default_factory=Calls)
    bulk: Calls = field(default_factory=Calls)
    replay: Replay | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "workers": self.workers,
            "worker_limit": self.worker_limit,
            "tasks": self.tasks,
            "phases_s": self.phases_s,
            "measure_flow_runs": {
                "direct_assign_measure": self.direct.summary(),
                "flow_body_without_prefect": self.body.summary(),
                "in_process_flow": self.flow.summary(),
                "deployment_one_at_a_time": self.single.summary() if self.single else None,
                "deployment_all_at_once": self.batch.summary() if self.batch else None,
                "deployment_all_at_once_placement": self.batch_placement,
                "bulk_direct_assign_measure": self.bulk.summary(),
                "overhead_ms": overheads(self),
            },
            "replay": None,
        }
        if self.replay is not None:
            r = self.replay
            data["replay"] = {
                **asdict(r),
                "sweeps_per_minute": r.per_minute(r.sweeps),
                "task_runs_per_minute": r.per_minute(r.task_runs),
                "notices_per_minute": r.per_minute(r.notices),
                "deliveries_sent_per_minute": r.per_minute(r.deliveries.get("sent", 0)),
                "mails_per_minute": r.per_minute(r.mails),
            }
        return data


def overheads(result: Result) -> dict[str, float]:
    """Prefect's cost per measure flow run beyond the direct call (ms)."""
    a = result.direct.median_ms
    found = {
        "flow_body_minus_direct": result.body.median_ms - a,
        "in_process_flow_minus_direct": result.flow.median_ms - a,
    }
    if result.single is not None and result.single.client_s:
        single_ms = statistics.median(result.single.client_s) * 1000
        found["deployment_one_at_a_time_minus_direct"] = single_ms - a
        found["deployment_one_at_a_time_minus_in_process_flow"] = single_ms - result.flow.median_ms
    if result.batch is not None and result.batch.runs:
        found["deployment_wall_per_run_all_at_once_minus_direct"] = (
            result.batch.wall_s * 1000 / len(result.batch.runs) - a
        )
    return found


# ------------------------------------------------------------------- set-up


@dataclass(frozen=True)
class Config:
    measures: int
    departments: int
    start: date
    end: date
    sample: int
    latency_runs: int
    worker_limit: int | None
    pg_url: str
    timeout: float
    settle: float | None = None  # the replay flow's own default when None

    @property
    def as_of(self) -> str:
        return self.start.isoformat()


@dataclass(frozen=True)
class Groups:
    """Which measures each way of running is timed on: disjoint groups with
    the same spread of tasks per measure (measures drawn at random, sorted by
    their number of tasks and dealt out in proportion to the groups' sizes),
    the rest for ``bulk``."""

    single: list[int]
    batch: list[int]
    direct: list[int]  # the first one of each in-process group is a warm-up
    body: list[int]
    flow: list[int]
    bulk: list[int]

    @classmethod
    def draw(cls, config: Config, tasks: Mapping[int, int]) -> Groups:
        rng = random.Random(SEED)
        sizes = [config.latency_runs, config.sample, *[config.sample + 1] * 3]
        chosen = rng.sample(sorted(tasks), sum(sizes))
        chosen.sort(key=lambda n: (tasks[n], rng.random()))
        groups: list[list[int]] = [[] for _ in sizes]
        for number in chosen:
            # The group furthest behind its share takes the next measure.
            turn = min(
                (i for i in range(len(sizes)) if len(groups[i]) < sizes[i]),
                key=lambda i: (len(groups[i]) + 0.5) / sizes[i],
            )
            groups[turn].append(number)
        # In random order: the first of each in-process group, the warm-up,
        # is any of its measures.
        single, batch, *in_process = [rng.sample(g, len(g)) for g in groups]
        direct, body, flow = in_process
        taken = set(chosen)
        return cls(
            sorted(single),
            sorted(batch),
            direct,
            body,
            flow,
            bulk=[n for n in sorted(tasks) if n not in taken],
        )


def settings_for(url: str, home: Path) -> Settings:
    return Settings(database_url=url, data_dir=home / "data", secret_key=SECRET_KEY)


def cluster_env(home: Path) -> dict[str, str]:
    """This process's environment without PREFECT_*/DUBAN_*, plus what the
    server, the workers and their flow runs need (the Supervisor adds the
    database URLs, the API URL and PREFECT_HOME)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DUBAN_"))}
    env.update(
        {
            "DUBAN_DATA_DIR": str(home / "data"),
            "DUBAN_SECRET_KEY": SECRET_KEY,
            # Runs are created by the benchmark, never by the daily schedules
            # (whose real dates would sweep the replayed data as of today).
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
    )
    return env


def load_world(config: Config, url: str, home: Path, sink: MailSink) -> dict[int, int]:
    """Schema, organisation file and plan on the database at ``url``; returns
    the number of tasks each measure will have (one per department and deadline)."""
    migrated_engine(url).dispose()
    names = department_names(config.departments)
    org_file = home / "org.yaml"
    org_file.write_text(
        yaml.safe_dump(
            synthetic_org(names, sink.url, base_url="http://duban.bench"), allow_unicode=True
        ),
        encoding="utf-8",
    )
    now = parse_as_of(config.as_of, TIMEZONE)
    context = AppContext(settings_for(url, home))
    try:
        sync_org(load_org_file(org_file), session_factory=context.session_factory, now=now)
        draft = synthetic_draft(config.measures, names, start=config.start, end=config.end)
        import_plan(draft, session_factory=context.session_factory, now=now)
    finally:
        context.session_factory.kw["bind"].dispose()
    return {m.number: len(m.responsibilities) * len(m.targets) for m in draft.measures}


@contextmanager
def prefect_client(api_url: str) -> Iterator[Any]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            yield client


def wait_for_workers(supervisor: Supervisor, timeout: float = 180.0) -> None:
    """Until every worker's log says it started polling."""
    deadline = time.monotonic() + timeout
    for worker in supervisor.workers:
        while "started" not in _read(worker.log):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{worker.name} did not start:\n{_read(worker.log)[-2000:]}")
            if worker.exited() is not None:
                raise RuntimeError(f"{worker.name} exited:\n{_read(worker.log)[-2000:]}")
            time.sleep(0.3)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def placement(supervisor: Supervisor, outcomes: Sequence[RunOutcome]) -> dict[str, int]:
    """How many of these runs each worker submitted (from the workers' logs)."""
    logs = {w.name: _read(w.log) for w in supervisor.workers}
    return {
        name: sum(1 for o in outcomes if f"submitting flow run '{o.flow_run_id}'" in text)
        for name, text in logs.items()
    }


# ------------------------------------------------------------ measure runs


def measure_parameters(
    numbers: Sequence[int], *, plan: str, titles: Mapping[int, str], as_of: str
) -> list[dict[str, Any]]:
    """What ``duban assign --deployments`` passes for each measure."""
    at = parse_as_of(as_of, TIMEZONE)  # a flow's as_of is a datetime, not a date string
    return [{"measure": n, "plan": plan, "title": titles[n], "as_of": at} for n in numbers]


def run_times(api_url: str, outcomes: Sequence[RunOutcome]) -> list[RunTimes]:
    """Prefect's timestamps of these flow runs, in the order given."""
    from uuid import UUID

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    found: dict[str, Any] = {}
    ids = [UUID(o.flow_run_id) for o in outcomes]
    with prefect_client(api_url) as client:
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            for run in client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=len(chunk)
            ):
                found[str(run.id)] = run

    def seconds(later: datetime | None, earlier: datetime | None) -> float | None:
        return (later - earlier).total_seconds() if later and earlier else None

    times = []
    for outcome in outcomes:
        run = found.get(outcome.flow_run_id)
        created = run.created if run else None
        started = run.start_time if run else None
        ended = run.end_time if run else None
        times.append(
            RunTimes(
                state=outcome.state,
                pickup_s=seconds(started, created),
                run_s=seconds(ended, started),
                end_to_end_s=seconds(ended, created),
            )
        )
    return times


def deployment_runs(
    api_url: str, parameters: list[dict[str, Any]], *, together: bool, timeout: float
) -> tuple[Deployments, list[RunOutcome]]:
    """Runs of ``measure/measure``: all created at once, or each waited for
    before the next (then ``client_s`` has each run's wall time)."""
    if together:
        started = time.perf_counter()
        outcomes = run_deployments(
            "measure/measure", parameters, api_url=api_url, poll=0.25, timeout=timeout
        )
        wall = time.perf_counter() - started
        return Deployments(wall_s=wall, runs=run_times(api_url, outcomes), tasks=[]), outcomes
    outcomes, client_s = [], []
    for one in parameters:
        started = time.perf_counter()
        outcomes += run_deployments(
            "measure/measure", [one], api_url=api_url, poll=0.1, timeout=timeout
        )
        client_s.append(time.perf_counter() - started)
    runs = run_times(api_url, outcomes)
    return Deployments(wall_s=sum(client_s), runs=runs, tasks=[], client_s=client_s), outcomes


def in_process_calls(
    env: Mapping[str, str],
    plan: str,
    as_of: str,
    groups: Mapping[str, Sequence[tuple[int, str]]],
    log_file: str,
) -> dict[str, Calls]:
    """In a fresh (spawned) process: each group's measures assigned one way
    (``direct``, ``body``, ``flow``; see the module doc), one call at a time.
    The first call of each group is the warm-up. Prefect's console output goes
    to ``log_file``."""
    os.environ.update(env)
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from duban.config import get_settings
    from duban.wiring import open_context
    from flows.measure import measure_flow

    now = parse_as_of(as_of, TIMEZONE)
    shared = open_context(get_settings())

    def assign_with(context: AppContext, number: int) -> int:
        return len(
            assign_measure(
                context.session_factory,
                plan=plan,
                measure=number,
                now=now,
                calendar=context.calendar,
                policy=context.assignment_policy,
            ).created
        )

    def direct(number: int, _title: str) -> int:
        return assign_with(shared, number)

    def body(number: int, _title: str) -> int:  # a fresh context per run, as the flow does
        return assign_with(open_context(get_settings()), number)

    def flow(number: int, title: str) -> int:
        return len(measure_flow(measure=number, plan=plan, title=title, as_of=now).created)

    ways: dict[str, Callable[[int, str], int]] = {"direct": direct, "body": body, "flow": flow}
    results: dict[str, Calls] = {}
    # As `duban assign` runs in-process flows: no heartbeat (it watches for
    # crashed worker runs and costs about a second as each run ends).
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        for name, numbers in groups.items():
            calls = Calls()
            for index, (number, title) in enumerate(numbers):
                started = time.perf_counter()
                created = ways[name](number, title)
                elapsed = time.perf_counter() - started
                if index == 0:
                    calls.warmup_s = elapsed
                else:
                    calls.seconds.append(elapsed)
                    calls.tasks.append(created)
                # The engines of the contexts made per call (as the flow makes
                # one per run) are closed outside the timed part.
                gc.collect()
            results[name] = calls
    return results


def bulk_assign(
    session_factory: sessionmaker[Session],
    context: AppContext,
    plan: str,
    numbers: Sequence[int],
    as_of: str,
) -> Calls:
    now = parse_as_of(as_of, TIMEZONE)
    calls = Calls()
    for number in numbers:
        started = time.perf_counter()
        result = assign_measure(
            session_factory,
            plan=plan,
            measure=number,
            now=now,
            calendar=context.calendar,
            policy=context.assignment_policy,
        )
        calls.seconds.append(time.perf_counter() - started)
        calls.tasks.append(len(result.created))
    return calls


# ------------------------------------------------------------------- replay


def count_sweeps(api_url: str) -> tuple[int, dict[str, int], int]:
    """Sweep flow runs, by state, and the task runs inside them (Prefect API)."""
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    sweep = FlowFilter(name=FlowFilterName(any_=["sweep"]))
    with prefect_client(api_url) as client:
        total = client.count_flow_runs(flow_filter=sweep)
        states = {}
        for state in StateType:
            only = FlowRunFilterState(type=FlowRunFilterStateType(any_=[state]))
            count = client.count_flow_runs(
                flow_filter=sweep, flow_run_filter=FlowRunFilter(state=only)
            )
            if count:
                states[state.value] = count
        # No client method counts task runs; the server's endpoint does.
        response = client.request(
            "POST",
            "/task_runs/count",
            json={"flows": sweep.model_dump(mode="json", exclude_unset=True)},
        )
        response.raise_for_status()
        return total, states, int(response.json())


def settled_sweep_counts(api_url: str, timeout: float = 120.0) -> tuple[int, dict[str, int], int]:
    """The counts once Prefect has recorded every task run (task runs reach the
    database through events, some seconds after they ran)."""
    deadline = time.monotonic() + timeout
    last = count_sweeps(api_url)
    while time.monotonic() < deadline:
        time.sleep(3)
        now = count_sweeps(api_url)
        if now == last:
            break
        last = now
    return last


def duban_counts(session_factory: sessionmaker[Session]) -> dict[str, Any]:
    with session_factory() as session:
        deliveries = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
        return {
            "tasks": session.scalar(select(func.count()).select_from(Task)) or 0,
            "notices": session.scalar(select(func.count()).select_from(Notice)) or 0,
            "attempts": session.scalar(select(func.count()).select_from(DeliveryAttempt)) or 0,
            "deliveries": {str(k): int(v) for k, v in deliveries.items()},
        }


def run_replay(
    config: Config,
    supervisor: Supervisor,
    session_factory: sessionmaker[Session],
    sink: MailSink,
) -> Replay:
    api_url = supervisor.plan.api_url
    workers = supervisor.plan.workers
    before = duban_counts(session_factory)
    sink.messages.clear()
    window: dict[str, Any] = {"start": config.start.isoformat(), "end": config.end.isoformat()}
    if config.settle is not None:
        window["settle"] = config.settle
    started = time.perf_counter()
    outcomes = run_deployments(
        "replay/replay", [window] * workers, api_url=api_url, timeout=config.timeout
    )
    wall = time.perf_counter() - started
    log(f"  replay runs: {', '.join(o.state for o in outcomes)} in {wall:.0f} s; counting")
    after = duban_counts(session_factory)
    sweeps, sweep_states, task_runs = settled_sweep_counts(api_url)
    return Replay(
        wall_s=wall,
        tasks=after["tasks"],
        states=[o.state for o in outcomes],
        run_s=[t.run_s for t in run_times(api_url, outcomes)],
        placement=placement(supervisor, outcomes),
        sweeps=sweeps,
        sweep_states=sweep_states,
        task_runs=task_runs,
        notices=after["notices"] - before["notices"],
        deliveries=after["deliveries"],
        attempts=after["attempts"] - before["attempts"],
        mails=len(sink.messages),
    )


# --------------------------------------------------------------- one config


def as_asyncpg(url: str) -> str:
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def run_config(config: Config, workers: int, sink: MailSink, root: Path) -> Result:
    home = root / f"workers-{workers}"
    home.mkdir(parents=True)
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = now - clock
        clock = now

    with ExitStack() as stack:
        duban_url = stack.enter_context(postgres_database(config.pg_url))
        prefect_url = as_asyncpg(stack.enter_context(postgres_database(config.pg_url)))
        tasks_of = load_world(config, duban_url, home, sink)
        tasks = sum(tasks_of.values())
        groups = Groups.draw(config, tasks_of)
        plan_key = f"基委办〔{config.start.year}〕{config.measures}号"
        result = Result(
            workers=workers, worker_limit=config.worker_limit, tasks=tasks, phases_s=phases
        )
        lap("schema, organisation, plan import")
        log(f"W={workers}: plan imported ({config.measures} measures, {tasks} tasks to come)")

        context = AppContext(settings_for(duban_url, home))
        stack.callback(lambda: context.session_factory.kw["bind"].dispose())
        titles = {
            r.number: r.title
            for r in measures_to_run(context.session_factory, plan=plan_key, measure=None)
        }
        env = cluster_env(home)
        supervisor = Supervisor(
            ClusterPlan(
                duban_url=duban_url,
                prefect_url=prefect_url,
                home=home / "cluster",
                api_port=free_port(),
                workers=workers,
                worker_limit=config.worker_limit,
                web=False,
            ),
            env,
        )
        api_url = supervisor.plan.api_url
        try:
            supervisor.start()
            wait_for_workers(supervisor)
            lap("cluster start (server, deploy, workers)")
            log(f"W={workers}: cluster up at {api_url}; measure deployment runs")

            def counted(numbers: Sequence[int]) -> list[int]:
                per = tasks_per_measure(context.session_factory, list(numbers), plan=plan_key)
                return [per.get(n, 0) for n in numbers]

            params = measure_parameters(
                groups.single, plan=plan_key, titles=titles, as_of=config.as_of
            )
            result.single, _ = deployment_runs(
                api_url, params, together=False, timeout=config.timeout
            )
            result.single.tasks = counted(groups.single)
            lap("deployment runs, one at a time")
            params = measure_parameters(
                groups.batch, plan=plan_key, titles=titles, as_of=config.as_of
            )
            result.batch, outcomes = deployment_runs(
                api_url, params, together=True, timeout=config.timeout
            )
            result.batch.tasks = counted(groups.batch)
            result.batch_placement = placement(supervisor, outcomes)
            lap("deployment runs, all at once")
            log(f"W={workers}: in-process calls (direct, flow body, measure_flow)")

            child_env = {
                **env,
                "DUBAN_DATABASE_URL": duban_url,
                "PREFECT_API_URL": api_url,
                "PREFECT_HOME": str(home / "prefect-inprocess"),
            }
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                calls = pool.submit(
                    in_process_calls,
                    child_env,
                    plan_key,
                    config.as_of,
                    {
                        n: [(m, titles[m]) for m in getattr(groups, n)]
                        for n in ("direct", "body", "flow")
                    },
                    str(home / "in-process.log"),
                ).result()
            result.direct, result.body, result.flow = calls["direct"], calls["body"], calls["flow"]
            lap("in-process calls")
            log(f"W={workers}: assigning the other {len(groups.bulk)} measures directly")
            result.bulk = bulk_assign(
                context.session_factory, context, plan_key, groups.bulk, config.as_of
            )
            lap("direct assignment of the rest")
            log(f"W={workers}: replay {config.start}..{config.end} with {workers} replay run(s)")
            result.replay = run_replay(config, supervisor, context.session_factory, sink)
            lap("replay and counting")
        except Exception:
            for child in supervisor.children:
                tail = _read(child.log)[-1500:]
                if tail:
                    log(f"--- {child.name} log (end) ---\n{tail}")
            raise
        finally:
            supervisor.stop()
            lap("cluster stop")
    log(f"W={workers}: done; databases dropped")
    return result


# ------------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:,.{digits}f}"


def print_report(config: Config, results: list[Result], header: str, spread: str) -> None:
    names = [f"W={r.workers}" for r in results]
    width = 16

    def row(label: str, values: Sequence[str]) -> None:
        print(f"  {label:<56}" + "".join(f"{v:>{width}}" for v in values))

    def table(title: str) -> None:
        print()
        print(title)
        row("", names)

    print(header)
    limit = config.worker_limit or "unlimited"
    print(
        f"plan: {config.measures} measures x {config.departments} departments, "
        f"{results[0].tasks} tasks; assigned as of {config.as_of}; replay "
        f"{config.start}..{config.end}; worker limit {limit}"
    )
    print(f"milestones by month: {spread}")

    table("Measure flow runs (medians; each way on measures not yet assigned)")
    row("(a) direct assign_measure, ms/measure", [_fmt(r.direct.median_ms) for r in results])
    row(
        "    flow body without Prefect (open_context + a), ms",
        [_fmt(r.body.median_ms) for r in results],
    )
    row("(b) measure_flow in-process, ms/run", [_fmt(r.flow.median_ms) for r in results])
    row(
        "    per task created: a / flow body / b, ms",
        ["/".join(_fmt(c.ms_per_task, 1) for c in (r.direct, r.body, r.flow)) for r in results],
    )
    row(
        "(c) deployment run, one at a time, s end-to-end (client)",
        [_fmt(statistics.median(r.single.client_s), 2) if r.single else "—" for r in results],
    )
    row(
        "    of which created -> running (poll, process, load), s",
        [_fmt(r.single.median("pickup_s"), 2) if r.single else "—" for r in results],
    )
    row(
        "    of which running -> completed, s",
        [_fmt(r.single.median("run_s"), 2) if r.single else "—" for r in results],
    )
    row(
        f"(c) deployment, {config.sample} runs at once: wall s",
        [_fmt(r.batch.wall_s) if r.batch else "—" for r in results],
    )
    row(
        "    measure flow runs per minute",
        [_fmt(r.batch.per_minute) if r.batch else "—" for r in results],
    )
    row(
        "    wall s per run",
        [
            _fmt(r.batch.wall_s / len(r.batch.runs), 2) if r.batch and r.batch.runs else "—"
            for r in results
        ],
    )
    row(
        "    completed / runs",
        [f"{r.batch.ok}/{len(r.batch.runs)}" if r.batch else "—" for r in results],
    )
    row(
        "    runs per worker",
        ["/".join(str(v) for v in r.batch_placement.values()) or "—" for r in results],
    )
    row(
        "tasks per measure: a / flow body / b / c-batch",
        [
            "/".join(
                _fmt(v, 1)
                for v in (
                    r.direct.tasks_per_measure,
                    r.body.tasks_per_measure,
                    r.flow.tasks_per_measure,
                    statistics.fmean(r.batch.tasks) if r.batch and r.batch.tasks else None,
                )
            )
            for r in results
        ],
    )
    row(
        f"rest assigned directly (a, bulk), ms/measure (n={len(results[0].bulk.seconds)})",
        [_fmt(r.bulk.median_ms) for r in results],
    )

    table("Prefect's overhead per measure flow run (ms)")
    keys = (
        ("flow_body_minus_direct", "flow body - a (context per run, no Prefect)"),
        ("in_process_flow_minus_direct", "b - a (in-process flow run)"),
        ("deployment_one_at_a_time_minus_direct", "c - a (deployment run, one at a time)"),
        ("deployment_one_at_a_time_minus_in_process_flow", "c - b (the same, beyond in-process)"),
        (
            "deployment_wall_per_run_all_at_once_minus_direct",
            f"c - a (wall per run, {config.sample} at once)",
        ),
    )
    found = [overheads(r) for r in results]
    for key, label in keys:
        row(label, [_fmt(f.get(key), 0) for f in found])

    table(f"Replay {config.start}..{config.end}: W replay runs at once, in step")
    replays = [r.replay for r in results]

    def each(get: Callable[[Replay], Any]) -> list[str]:
        return [str(get(p)) if p is not None else "—" for p in replays]

    row("tasks (all assigned before the replay)", each(lambda p: p.tasks))
    row("replay runs (state)", each(lambda p: "/".join(s[:4] for s in p.states)))
    row("replay runs per worker", each(lambda p: "/".join(map(str, p.placement.values()))))
    row("wall time, s", each(lambda p: _fmt(p.wall_s)))
    row(
        "each replay run's own time (running -> final), s",
        each(lambda p: "/".join(_fmt(s, 0) for s in p.run_s)),
    )
    row("sweep flow runs", each(lambda p: p.sweeps))
    row("  per minute", each(lambda p: _fmt(p.per_minute(p.sweeps))))
    row(
        "  not completed",
        each(lambda p: sum(v for k, v in p.sweep_states.items() if k != "COMPLETED")),
    )
    row("advance-measure task runs (in sweep flow runs)", each(lambda p: p.task_runs))
    row("  per minute", each(lambda p: _fmt(p.per_minute(p.task_runs))))
    row("notices created", each(lambda p: p.notices))
    row("  per minute", each(lambda p: _fmt(p.per_minute(p.notices))))
    row("deliveries sent (duban)", each(lambda p: p.deliveries.get("sent", 0)))
    row("  per minute", each(lambda p: _fmt(p.per_minute(p.deliveries.get("sent", 0)))))
    row(
        "deliveries failed/dead/pending",
        each(
            lambda p: "/".join(str(p.deliveries.get(k, 0)) for k in ("failed", "dead", "pending"))
        ),
    )
    row("messages the MailSink received", each(lambda p: p.mails))
    row("  per minute", each(lambda p: _fmt(p.per_minute(p.mails))))
    row("send attempts", each(lambda p: p.attempts))

    uneven = [
        r.workers
        for r in results
        if r.replay is not None and r.workers > 1 and 0 in r.replay.placement.values()
    ]
    if uneven:
        print(
            f"  note: with W={', '.join(map(str, uneven))} some worker ran no replay run: one "
            f"worker took several (worker limit {config.worker_limit or 'none'}); "
            "--worker-limit 1 gives each worker one."
        )

    table("Where the time went (s)")
    for phase in results[0].phases_s:
        row(phase, [_fmt(r.phases_s.get(phase)) for r in results])
    row("total", [_fmt(sum(r.phases_s.values())) for r in results])
    print()
    print(
        "(a) and (b) run one call at a time in a spawned process, the first call of each left "
        "out as a warm-up; (b) without the flow heartbeat, as `duban assign` runs it. "
        "Deployment runs are timed by the client (including the workers' 2 s poll) and by "
        "Prefect's timestamps."
    )


# --------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> tuple[Config, list[int], bool, bool]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--measures", type=int, default=2000)
    parser.add_argument("--departments", type=int, default=10)
    parser.add_argument("--from", dest="start", type=date.fromisoformat, default=date(2015, 1, 5))
    parser.add_argument("--to", dest="end", type=date.fromisoformat, default=date(2015, 12, 31))
    parser.add_argument("--workers", default="1,2", help="worker counts (default %(default)s)")
    parser.add_argument(
        "--sample", type=int, default=40, help="measure runs per way of running (default 40)"
    )
    parser.add_argument(
        "--latency-runs", type=int, default=3, help="deployment runs waited for one at a time"
    )
    parser.add_argument(
        "--worker-limit", type=int, default=4, help="flow runs at once per worker (0: no limit)"
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL server URL")
    parser.add_argument(
        "--timeout", type=float, default=6 * 3600, help="longest wait for runs, s (default 6 h)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        help="the replay runs' longest wait for each other's share of a phase, s "
        "(default: the replay flow's own, 600)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the logs' directory")
    args = parser.parse_args(argv)
    config = Config(
        measures=args.measures,
        departments=args.departments,
        start=args.start,
        end=args.end,
        sample=args.sample,
        latency_runs=args.latency_runs,
        worker_limit=args.worker_limit or None,
        pg_url=args.pg_url,
        timeout=args.timeout,
        settle=args.settle,
    )
    if config.sample < 1 or config.latency_runs < 1:
        parser.error("--sample and --latency-runs must be at least 1")
    needed = config.latency_runs + config.sample + 3 * (config.sample + 1) + 1
    if config.measures < needed:
        parser.error(f"--measures must be at least {needed} for --sample {config.sample}")
    if config.departments < 1 or config.end < config.start:
        parser.error("need at least one department and --from <= --to")
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    return config, workers, args.json, args.keep


def main() -> None:
    config, worker_counts, as_json, keep = parse_args()
    root = Path(tempfile.mkdtemp(prefix="duban-cluster-bench-"))
    # Prefect client state of this process (the client only: runs go to the
    # servers started below) stays out of ~/.prefect.
    os.environ["PREFECT_HOME"] = str(root / "prefect-client")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    header = (
        f"duban {revision()}; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs, "
        f"load average {load} at start"
    )
    draft = synthetic_draft(
        config.measures, department_names(config.departments), start=config.start, end=config.end
    )
    spread = ", ".join(f"{k} {v}" for k, v in sorted(due_spread(draft).items()))
    started = time.perf_counter()
    results: list[Result] = []
    try:
        with MailSink() as sink:
            for workers in worker_counts:
                results.append(run_config(config, workers, sink, root))
    finally:
        if keep:
            log(f"logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    total = time.perf_counter() - started
    if as_json:
        print(
            json.dumps(
                {
                    "revision": revision(),
                    "config": {**asdict(config), "workers": worker_counts},
                    "milestones_by_month": dict(sorted(due_spread(draft).items())),
                    "total_s": total,
                    "results": [r.to_dict() for r in results],
                },
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
    else:
        print_report(config, results, header, spread)
        print(f"whole run: {total:.0f} s")
    if any(r.replay is None or any(s != "COMPLETED" for s in r.replay.states) for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
