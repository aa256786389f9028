"""Does a round cost the same per due task as the plan grows? The scaling run.

For each size N (default 30, 300 and 3,000 measures) × D departments (default 10),
in a fresh process and a fresh SQLite database (alembic head): the synthetic plan
and organisation of ``synthetic_plan`` (every mail to one loopback SMTP sink),
imported, every measure assigned in-process (``assign_measure``, no Prefect), then
the reminder rounds of every working day of one quarter replayed through the real
send path (``duban.services.rounds.daily.replay``: sweep → route → Apprise → SMTP).

Prints, per size: tasks, notices the replay created (one per due task and step),
mails sent, the replay's time per notice, the replay's peak memory (the process's
resident high-water mark reset just before the replay, on Linux), the process's
peak memory over the whole run (import and assignment included), and for each
figure the ratio to the smallest size measured in the same run. Flat means the
per-notice and replay-memory ratios stay near 1.

The mail sink counts the mails it receives and keeps none: kept and parsed (as
``duban demo`` keeps them), the 3,000-measure quarter's ~100 MB of digests were
most of the memory this benchmark used to report.

    .venv/bin/python bench/plan_scaling.py [--sizes 30,300,3000] [--departments 10]
        [--from 2015-01-05 --to 2015-03-31] [--json]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml
from benchdb import migrated_engine
from sqlalchemy import func, select
from synthetic_plan import department_names, synthetic_draft, synthetic_org

from duban.config import Settings
from duban.ops.mail_sink import MailSink
from duban.services.accounts.org_file import load_org_file, sync_org
from duban.services.plans.assignment import assign_measure
from duban.services.plans.importer import import_plan
from duban.services.rounds.daily import replay
from duban.timeutil import parse_as_of
from duban.wiring import AppContext
from models import Notice, Task

SECRET_KEY = "plan-scaling-bench-key-not-a-secret"
TIMEZONE = "Asia/Shanghai"


def _high_water_mb() -> float:
    """The process's peak resident memory since the last :func:`_reset_high_water`
    (since it started where that is unavailable), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_high_water() -> None:
    """Start the peak resident memory afresh (Linux: ``clear_refs`` 5), after
    handing the heap the import and assignment freed back to the system (glibc's
    ``malloc_trim``), so the replay's figure is what the replay itself holds."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        pass


def one_size(measures: int, departments: int, start: date, end: date) -> dict[str, Any]:
    """The whole run for one plan size, in this (fresh) process."""
    with (
        tempfile.TemporaryDirectory(prefix="duban-plan-scaling-") as tmp,
        MailSink(keep=False) as sink,
    ):
        home = Path(tmp)
        url = f"sqlite:///{home / 'duban.db'}"
        migrated_engine(url).dispose()
        names = department_names(departments)
        org_file = home / "org.yaml"
        org_file.write_text(
            yaml.safe_dump(synthetic_org(names, sink.url, base_url="http://duban.bench"),
                           allow_unicode=True),
            encoding="utf-8",
        )
        now = parse_as_of(start.isoformat(), TIMEZONE)
        context = AppContext(Settings(database_url=url, data_dir=home / "data",
                                      secret_key=SECRET_KEY))
        sync_org(load_org_file(org_file), session_factory=context.session_factory, now=now)
        draft = synthetic_draft(measures, names, start=start, end=end)
        plan = import_plan(draft, session_factory=context.session_factory, now=now).key
        began = time.perf_counter()
        for measure in draft.measures:
            assign_measure(context.session_factory, plan=plan, measure=measure.number, now=now,
                           calendar=context.calendar, policy=context.assignment_policy)
        assign_s = time.perf_counter() - began
        with context.session_factory() as session:
            tasks = session.scalar(select(func.count()).select_from(Task)) or 0
            before = session.scalar(select(func.count()).select_from(Notice)) or 0
        with context.sender() as sender:
            tools = context.round_tools(sender=sender, worker="bench")
            setup_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            _reset_high_water()
            began = time.perf_counter()
            rounds = replay(context.session_factory, start=start, end=end, tools=tools)
            replay_s = time.perf_counter() - began
            replay_peak_mb = _high_water_mb()
        with context.session_factory() as session:
            notices = (session.scalar(select(func.count()).select_from(Notice)) or 0) - before
        context.session_factory.kw["bind"].dispose()
        return {
            "measures": measures,
            "departments": departments,
            "tasks": tasks,
            "notices": notices,
            "mails": sum(r.delivery.sent for r in rounds),
            "mails_received": sink.received,
            "mail_mb": round(sink.received_bytes / 1e6, 1),
            "assign_s": round(assign_s, 2),
            "replay_s": round(replay_s, 2),
            "ms_per_notice": round(1000 * replay_s / max(notices, 1), 3),
            "replay_peak_mb": round(replay_peak_mb, 1),
            "setup_peak_mb": round(setup_peak_mb, 1),
            "peak_mb": round(max(setup_peak_mb, replay_peak_mb), 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,300,3000")
    parser.add_argument("--departments", type=int, default=10)
    parser.add_argument("--from", dest="start", default="2015-01-05")
    parser.add_argument("--to", dest="end", default="2015-03-31")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        # A fresh process per size: its peak memory is that size's alone.
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            results.append(pool.submit(one_size, size, args.departments, start, end).result())
        print(f"  {size} 项措施完成", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    base = results[0]
    print(f"replay {start} → {end}, SQLite, {args.departments} departments; ratios to "
          f"{base['measures']} measures in this run")
    print(f"{'measures':>8} {'tasks':>7} {'notices':>8} {'mails':>6} {'mail MB':>8} "
          f"{'assign s':>9} {'replay s':>9} {'ms/notice':>10} {'ratio':>6} "
          f"{'replay MB':>10} {'ratio':>6} {'peak MB':>8} {'ratio':>6}")
    for r in results:
        print(f"{r['measures']:>8} {r['tasks']:>7} {r['notices']:>8} {r['mails']:>6} "
              f"{r['mail_mb']:>8} {r['assign_s']:>9} {r['replay_s']:>9} "
              f"{r['ms_per_notice']:>10} {r['ms_per_notice'] / base['ms_per_notice']:>6.2f} "
              f"{r['replay_peak_mb']:>10} {r['replay_peak_mb'] / base['replay_peak_mb']:>6.2f} "
              f"{r['peak_mb']:>8} {r['peak_mb'] / base['peak_mb']:>6.2f}")


if __name__ == "__main__":
    main()
