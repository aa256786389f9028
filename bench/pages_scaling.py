"""What the pages cost as the tasks grow: each page against ``/healthz``.

For each size N (default 1k and 10k; ``--sizes 1k,10k,100k`` for more), a fresh
database (alembic upgrade head) gets a plan with realistic activity as seen on
2016-03-01: N/12 measures in five sections, 30 units (24 departments, 6
districts) each with a liaison reachable by mail, 12 tasks per measure (a lead
and two supporting units, four quarterly deadlines 2015-09-30 … 2016-06-30).
Past deadlines are mostly approved, some submitted, some still open and
overdue; future ones are assigned, acknowledged, in progress or submitted.
Every task has its events (交办, 签收, 报送, 提交, 审核通过 as far as it got)
and its 交办通知; overdue tasks carry their 催办 / 黄色 / 红色督办 notices
(and some approved ones a 催办 from before they finished), each delivered to
the unit's liaison.

The app is ``duban serve``'s (``create_app`` under uvicorn, no scheduler) on a
local port, its clock at 2016-03-01 10:00. What the day's first round stores
first (each task's light and scorecard cell; its time is printed) is stored
before the pages are read, unless ``--first-of-day``. A coordinator signs in
through the login form. Every page gets one warm-up request, then ``--runs`` timed ones
(median printed; a page whose warm-up took longer than ``--budget`` seconds is
timed once more only). Each time is printed in ms and as a ratio to the median
of ``/healthz`` on the same server, with the response's size.

    .venv/bin/python bench/pages_scaling.py [--sizes 1k,10k] [--runs 5] [--postgres]
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from argon2 import PasswordHasher
from benchdb import DEFAULT_POSTGRES, migrated_engine, postgres_database, revision, sqlite_database
from sqlalchemy import Engine, func, insert, select

from duban.config import Settings
from duban.db import make_session_factory
from duban.domain.escalation import DEFAULT_POLICY
from duban.domain.lifecycle import Action
from duban.services.accounts.links import LinkSigner, department_token
from duban.services.ladder.policy import store_policy
from duban.services.plans.assignment import assign_step_key
from duban.services.rounds.daily import store_day_lights, store_day_scores
from duban.services.task_events import SYSTEM_ACTOR
from duban.web import create_app
from models import (
    Contact,
    ContactChannel,
    Delivery,
    DeliveryItem,
    Department,
    Measure,
    Notice,
    Plan,
    Responsibility,
    Section,
    Target,
    Task,
    TaskEvent,
    User,
)

ZONE = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2016, 3, 1, 10, 0, tzinfo=ZONE)
UNITS = 30
PER_MEASURE = 12
DEADLINES = (date(2015, 9, 30), date(2015, 12, 31), date(2016, 3, 31), date(2016, 6, 30))
CHUNK = 10_000
PASSWORD = "bench password 2016"
SECRET = "pages-scaling-secret"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ESCALATIONS = (("urge", 1, 1), ("escalate_yellow", 2, 5), ("escalate_red", 3, 10))


def parse_size(text_: str) -> int:
    text_ = text_.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text_[-1:], 1)
    return int(float(text_.rstrip("km")) * scale)


def label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _morning(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ----------------------------------------------------------------------- fill


@dataclass(frozen=True)
class Skeleton:
    measure_ids: list[int]
    unit_ids: list[int]
    unit_names: list[str]
    channel_of: dict[int, tuple[int, int]]  # unit id -> (contact id, channel id)
    policy_id: int
    units_of: dict[int, list[int]]  # measure id -> its lead and supporting units


def unit_name(index: int) -> str:
    """The name of the fill's unit ``index`` (0 to 29): 24 bureaus, then 6 districts."""
    return f"基准市第{index + 1:02d}局" if index < 24 else f"基准市第{index - 23}区"


def _skeleton(engine: Engine, measures: int, rng: random.Random) -> Skeleton:
    created = datetime(2015, 7, 1, 9, tzinfo=ZONE)
    session_factory = make_session_factory(engine)
    with session_factory.begin() as session:
        policy, _ = store_policy(DEFAULT_POLICY, session=session, now=created)
        units = [
            Department(name=unit_name(i), kind="department" if i < 24 else "district")
            for i in range(UNITS)
        ]
        contacts = [
            Contact(key=f"liaison:{u.name}", department=u, role="liaison", name=f"{u.name}联络员")
            for u in units
        ]
        for k, contact in enumerate(contacts):
            contact.channels.append(ContactChannel(
                position=0, url=f"mailto://bench:secret@127.0.0.1:2525/?to=u{k}@bench.test",
                url_privacy=f"mailto://bench:****@127.0.0.1:2525/?to=u{k}@bench.test",
                scheme="mailto"))
        session.add(User(username="coordinator", display_name="督办科", role="coordinator",
                         password_hash=PasswordHasher().hash(PASSWORD), active=True,
                         created_at=created, password_changed_at=created))
        plan = Plan(key="基委办〔2015〕1号", title="基准市重点工作督办方案",
                    doc_number="基委办〔2015〕1号", plan_year=2015, horizon=date(2016, 12, 31),
                    fingerprint="0" * 64, imported_at=created, updated_at=created)
        sections = [Section(plan=plan, number=s + 1, label="一二三四五"[s],
                            title=f"第{s + 1}部分", source_line=10 + s * 40) for s in range(5)]
        rows = []
        for m in range(measures):
            measure = Measure(
                plan=plan, section=sections[m * 5 // measures], number=m + 1, label=str(m + 1),
                title=f"措施{m + 1}", text=f"到2016年6月底,完成措施{m + 1}的各项任务。",
                source_line=12 + m, source_end_line=12 + m, clause="牵头", clause_line=12 + m)
            for position, day in enumerate((date(2015, 12, 31), date(2016, 6, 30))):
                measure.targets.append(Target(position=position, due=day,
                                              text=f"目标{position + 1}", source_line=12 + m))
            picked = rng.sample(units, 3)
            for position, unit in enumerate(picked):
                measure.responsibilities.append(Responsibility(
                    department=unit, named_as=unit.name, role="lead" if position == 0 else
                    "supporting", position=position, source_line=12 + m))
            rows.append(measure)
        session.add_all([policy, *units, *contacts, plan, *sections, *rows])
        session.flush()
        measure_ids = [m.id for m in rows]
        leads = {m.id: [r.department_id for r in m.responsibilities] for m in rows}
        skeleton = Skeleton(
            measure_ids=measure_ids,
            unit_ids=[u.id for u in units],
            unit_names=[u.name for u in units],
            channel_of={c.department_id: (c.id, c.channels[0].id) for c in contacts
                        if c.department_id is not None},
            policy_id=policy.id,
            units_of=leads,
        )
    return skeleton


def fill(engine: Engine, n: int, seed: int = 7) -> tuple[Skeleton, float]:
    """About N tasks with their events, notices and deliveries; returns the
    skeleton and the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    skeleton = _skeleton(engine, max(1, n // PER_MEASURE), rng)
    units_of = skeleton.units_of
    today = AS_OF.date()
    tasks: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    escalations: list[tuple[int, int, date]] = []  # (notice id, unit id, day)
    task_id = 0
    for measure_id in skeleton.measure_ids:
        for deadline in DEADLINES:
            for position, unit in enumerate(units_of[measure_id]):
                task_id += 1
                role = "lead" if position == 0 else "supporting"
                due = deadline if role == "lead" else deadline - timedelta(days=14)
                assigned = _morning(date(2015, 7, 6) + timedelta(days=rng.randrange(40)))
                past = due < today
                state = rng.choices(
                    ["approved", "submitted", "in_progress", "acknowledged", "returned"],
                    [80, 5, 8, 5, 2])[0] if past else rng.choices(
                    ["assigned", "acknowledged", "in_progress", "submitted", "approved"],
                    [15, 40, 35, 5, 5])[0]
                row = {"id": task_id, "measure_id": measure_id, "department_id": unit,
                       "named_as": skeleton.unit_names[skeleton.unit_ids.index(unit)],
                       "role": role, "deadline": deadline, "due": due, "original_due": due,
                       "state": state, "assigned_at": assigned, "acknowledged_at": None,
                       "submitted_at": None, "approved_at": None, "version": 1,
                       "policy_id": skeleton.policy_id, "next_action_at": None}
                trail = [(Action.ASSIGN, assigned, None, "assigned", "system")]
                if state != "assigned":
                    row["acknowledged_at"] = assigned + timedelta(days=1)
                    trail.append((Action.ACKNOWLEDGE, assigned + timedelta(days=1), "assigned",
                                  "acknowledged", "department"))
                if state in ("in_progress", "submitted", "approved", "returned"):
                    trail.append((Action.REPORT, assigned + timedelta(days=20), "acknowledged",
                                  "in_progress", "department"))
                finished = min(due, today) - timedelta(days=rng.randrange(1, 10))
                if state in ("submitted", "approved", "returned"):
                    row["submitted_at"] = _morning(finished)
                    trail.append((Action.SUBMIT, _morning(finished), "in_progress", "submitted",
                                  "department"))
                if state == "approved":
                    row["approved_at"] = _morning(finished, 15)
                    trail.append((Action.APPROVE, _morning(finished, 15), "submitted",
                                  "approved", "coordinator"))
                if state == "returned":
                    trail.append((Action.RETURN, _morning(finished, 15), "submitted",
                                  "returned", "coordinator"))
                if state not in ("submitted", "approved"):
                    row["next_action_at"] = _morning(today + timedelta(days=1 + rng.randrange(20)))
                tasks.append(row)
                for action, at, from_state, to_state, actor_role in trail:
                    events.append({
                        "task_id": task_id, "at": at, "action": action.value,
                        "actor_role": actor_role,
                        "actor": SYSTEM_ACTOR if actor_role == "system" else "联络员",
                        "from_state": from_state, "to_state": to_state,
                        "note": "已完成阶段性工作。" if action is Action.REPORT else None,
                        "data": {"due": due.isoformat(), "deadline": deadline.isoformat()}
                        if action is Action.ASSIGN else None})
                notices.append({"task_id": task_id, "step": assign_step_key(assigned),
                                "due_at": assigned, "status": "sent", "created_at": assigned,
                                "level": 0})
                open_overdue = past and state not in ("submitted", "approved")
                late_done = past and state == "approved" and rng.random() < 0.2
                if open_overdue or late_done:
                    for name, level, after in ESCALATIONS:
                        on = due + timedelta(days=after)
                        if on >= today or (late_done and level > 1):
                            break
                        notices.append({"task_id": task_id, "step": f"{name}@{due.isoformat()}",
                                        "due_at": _morning(on), "status": "sent",
                                        "created_at": _morning(on), "level": level})
                        escalations.append((len(notices), unit, on))
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA synchronous=OFF")  # this connection only
        for table, rows in ((Task, tasks), (TaskEvent, events), (Notice, notices)):
            for chunk in _chunks(iter(rows)):
                connection.execute(insert(table), chunk)
        first_notice = connection.execute(select(func.min(Notice.id))).scalar_one()
        # One delivery per escalation (the unit's liaison, sent the same morning).
        deliveries, items = [], []
        for k, (notice_index, unit, on) in enumerate(escalations, start=1):
            contact_id, channel_id = skeleton.channel_of[unit]
            deliveries.append({"id": k, "channel_id": channel_id, "contact_id": contact_id,
                               "day": on, "batch": k, "status": "sent", "attempts": 1,
                               "not_before": _morning(on), "next_attempt_at": _morning(on),
                               "sent_at": _morning(on, 10), "created_at": _morning(on),
                               "title": "督办通知"})
            items.append({"delivery_id": k, "notice_id": first_notice + notice_index - 1,
                          "channel_id": channel_id})
        for table, rows in ((Delivery, deliveries), (DeliveryItem, items)):
            for chunk in _chunks(iter(rows)):
                connection.execute(insert(table), chunk)
        if engine.dialect.name == "postgresql":
            for table in ("tasks", "deliveries"):
                connection.exec_driver_sql(
                    f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
    engine.dispose()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    return skeleton, time.perf_counter() - started


# --------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``duban serve``'s app under uvicorn in a thread, until :meth:`stop`."""

    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        app = create_app(settings, as_of=AS_OF)
        self.web = app.state.web
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, access_log=False,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.port}"
        while True:  # until it answers
            try:
                if httpx.get(f"{self.base}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()


def store_day(server: Server) -> None:
    """What the day's first round stores before the pages are read (as
    ``run_round(store_lights=True)``): each task's light and scorecard cell."""
    web = server.web
    started = time.perf_counter()
    day, calendar, factory = AS_OF.date(), web.context.calendar, web.context.session_factory
    lights = store_day_lights(factory, day=day, calendar=calendar, zone=web.zone)
    cells = store_day_scores(factory, day=day, calendar=calendar, zone=web.zone)
    print(f"  the day's first round stored {lights} lights and {cells} scorecard cells"
          f" in {time.perf_counter() - started:.1f} s (--first-of-day: not stored)")


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=600, follow_redirects=False)
    found = CSRF.search(client.get("/login").text)
    assert found, "no CSRF token on /login"
    response = client.post("/login", data={"username": "coordinator", "password": PASSWORD,
                                           "csrf_token": found.group(1)})
    assert response.status_code == 303, response.text[:300]
    return client


@dataclass(frozen=True)
class Timing:
    page: str
    ms: float
    runs: int
    size: int


def time_page(client: httpx.Client, path: str, runs: int, budget: float) -> Timing:
    started = time.perf_counter()
    try:
        response = client.get(path)
    except httpx.TimeoutException:  # printed as more than the client's timeout
        return Timing(path, (time.perf_counter() - started) * 1000, 0, 0)
    warm = time.perf_counter() - started
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    size = len(response.content)
    timings = []
    for _ in range(1 if warm > budget else runs):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return Timing(path, statistics.median(timings), len(timings), size)


def pages(token: str) -> list[tuple[str, str]]:
    return [
        ("dashboard", "/dashboard"),
        ("desk", "/desk"),
        ("desk: missing reports, page 2", "/desk/queue/missing_reports?page=2"),
        ("a measure's page", "/dashboard/measures/1"),
        ("督办记录", "/dashboard/escalations"),
        ("scorecard", "/dashboard/scorecard"),
        ("a unit's page", f"/dashboard/units?name={quote(unit_name(0))}"),
        ("its overdue, page 2", f"/dashboard/units?name={quote(unit_name(0))}&show=overdue&page=2"),
        ("/api/tasks", "/api/tasks"),
        ("/api/tasks?light=red", "/api/tasks?light=red"),
        ("/api/measures", "/api/measures"),
        ("/api/escalations", "/api/escalations"),
        ("/api/deliveries", "/api/deliveries"),
        ("department page", f"/d/{token}"),
        ("department iCal", f"/d/{token}/calendar.ics"),
        ("ledger.xlsx", "/dashboard/ledger.xlsx"),
    ]


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def _status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MB; 0 elsewhere."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    """Start the process's peak resident memory (``VmHWM``) again from now (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


@dataclass(frozen=True)
class Memory:
    """The bench process's resident memory (it serves the pages) in MB: before the
    first page, and its peak while every page was requested."""

    before_mb: float
    peak_mb: float


def measure_size(
    url: str, n: int, args: argparse.Namespace, memory: list[Memory] | None = None,
) -> dict[str, Timing]:
    """Each page's timing at ``n`` tasks; the server's memory appended to ``memory``."""
    engine = migrated_engine(url)
    skeleton, seconds = fill(engine, n)
    with make_session_factory(engine)() as session:
        tasks = session.scalar(select(func.count()).select_from(Task))
        escalations = session.scalar(select(func.count()).select_from(Notice)
                                     .where(Notice.level >= 1))
    print(f"\n{label(n)}: {tasks} tasks, {escalations} escalations, filled in {seconds:.1f} s")
    with tempfile.TemporaryDirectory(prefix="duban-pages-") as folder:
        settings = Settings(data_dir=Path(folder), database_url=url, secret_key=SECRET,
                            base_url="http://127.0.0.1")
        with make_session_factory(engine)() as session:
            token = department_token(session, skeleton.unit_ids[0], now=AS_OF,
                                     signer=LinkSigner.from_settings(settings))
            session.commit()
        server = Server(settings)
        if not args.first_of_day:
            store_day(server)
        try:
            client = signed_in(server.base)
            gc.collect()
            before = _status_mb("VmRSS")
            _reset_peak()
            health = time_page(client, "/healthz", max(args.runs, 21), args.budget)
            results = {"/healthz": health}
            print(f"  {'page':<18} {'ms':>9} {'÷ healthz':>10} {'size':>9}  runs")
            print(f"  {'/healthz':<18} {health.ms:>9.1f} {1:>10.0f} {_size(health.size):>9}"
                  f"  {health.runs}")
            for name, path in pages(token):
                if name in args.skip:
                    continue
                timing = time_page(client, path, args.runs, args.budget)
                results[name] = timing
                if not timing.runs:
                    print(f"  {name:<18} > {timing.ms / 1000:.0f} s: no answer (client timeout)")
                    continue
                print(f"  {name:<18} {timing.ms:>9.1f} {timing.ms / health.ms:>10.0f}"
                      f" {_size(timing.size):>9}  {timing.runs}", flush=True)
            used = Memory(before, max(_status_mb("VmHWM"), before))
            print(f"  resident memory of the serving process: {used.before_mb:.0f} MB before"
                  f" the pages, peak {used.peak_mb:.0f} MB while they were served"
                  f" (+{used.peak_mb - used.before_mb:.0f} MB)")
            if memory is not None:
                memory.append(used)
        finally:
            server.stop()
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1k,10k", help="task counts, e.g. 1k,10k,100k")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page (median)")
    parser.add_argument("--skip", type=lambda text: set(text.split(",")), default=set(),
                        help="pages left out, by name, e.g. ledger.xlsx")
    parser.add_argument("--first-of-day", action="store_true",
                        help="time the pages on a day no round has run yet (lights and"
                             " scorecard cells not stored beforehand)")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds: a page whose warm-up took longer is timed once more only")
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_POSTGRES, default=None,
                        metavar="URL", help="on PostgreSQL (a throw-away database on that server)")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"pages_scaling at {revision()} on {backend}, {args.runs} runs per page (median)")
    every: dict[int, dict[str, Timing]] = {}
    for n in sizes:
        database = postgres_database(args.postgres) if args.postgres else sqlite_database()
        with database as url:
            every[n] = measure_size(url, n, args)
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        print(f"\ngrowth {label(first)} -> {label(last)} ({last / first:.0f}x the tasks):")
        for name in every[first]:
            print(f"  {name:<18} x{every[last][name].ms / every[first][name].ms:.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
