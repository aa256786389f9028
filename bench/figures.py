"""Issue #17's figures, each against its aim and its baseline measured in the same run;
``--write`` regenerates the README's table of them.

    .venv/bin/python bench/figures.py [--only demo,replay,sweep,outbox,pages] [--postgres]
                                      [--pages-size 100k] [--outbox-runs 7] [--write]

Each figure is measured in a process of its own (as a user's command would run), one
after the other:

* ``demo`` — ``duban demo --no-serve`` on a fresh data folder, then the same command
  again; the database is dumped (SQLite ``iterdump``) before and after the second run,
  and the lines that differ are counted: the aim is no change at all. Then one day's
  ``duban sweep`` on that data (Prefect's local API started for it). Baseline: the
  time ``duban --help`` takes to start (the imports every command pays).
* ``replay`` — a new data folder with the demo's organisation file (its mail port),
  the reference plan imported and assigned as of 2014-07-01, then ``duban replay --from
  2014-07-01 --to 2017-12-29`` timed while a loopback SMTP server counts the mails.
* ``sweep`` — ``sweep_scaling.py``'s 10k run: the sweep per due task ÷ the least SQL it
  needs, measured in the same process (``--postgres``: also on PostgreSQL).
* ``outbox`` — ``outbox_email.py``'s 200 mails: the outbox (route + dispatch) ÷ plain
  smtplib on one connection to the same sink, in the same process; the median of
  ``--outbox-runs`` processes and their range (``--postgres``: also on PostgreSQL).
* ``pages`` — ``pages_scaling.py`` at ``--pages-size`` tasks: each page's median beside
  the aim, 5 × ``/healthz`` of the same server + 100 ms, and the ledger's download beside
  10 s (``--postgres``: also on PostgreSQL).

The table goes to standard output; ``--write`` puts it into README.md between the
``<!-- figures:begin -->`` and ``<!-- figures:end -->`` lines, with the commit, the
date, the machine's load and the command that made it. Nothing is written if a figure
fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
FIGURES = ("demo", "replay", "sweep", "outbox", "pages")
REFERENCE_PLAN = ROOT / "duban" / "data" / "plans" / "zhuhai-2014-social-construction.txt"


@dataclass
class Row:
    """One line of the table: what was measured, beside its baseline and aim."""

    what: str
    value: str
    baseline: str
    ratio: str
    aim: str
    met: bool | None  # None: nothing to meet (a figure shown for context)


# ---------------------------------------------------------------------- children


def _duban(*args: str, env: dict[str, str]) -> tuple[float, str]:
    """Run the ``duban`` console script of this environment; its time and output."""
    command = [str(Path(sys.executable).with_name("duban")), *args]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"duban {' '.join(args)} exited {done.returncode}:\n"
                         f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, done.stdout + done.stderr


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env["DUBAN_DATA_DIR"] = str(data_dir)
    return env


def _dump(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return list(connection.iterdump())


def child_demo(work: Path, _args: argparse.Namespace) -> list[Row]:
    folder = work / "demo"
    env = _environment(folder)
    start_up, _ = _duban("--help", env=env)
    fresh, output = _duban("demo", "--no-serve", env=env)
    phases = len(re.findall(r"^== \d+/\d+ ", output, flags=re.M))
    before = _dump(folder / "duban.db")
    again, output = _duban("demo", "--no-serve", env=env)
    after = _dump(folder / "duban.db")
    changed = len(set(before) ^ set(after)) + abs(len(before) - len(after))
    mails = re.search(r"邮件服务共收到 (\d+) 封邮件", output)
    print(f"demo: fresh {fresh:.1f} s ({phases} phases printed), again {again:.1f} s, "
          f"{changed} dump lines changed, {mails.group(1) if mails else '?'} mails the second"
          " time", flush=True)
    sweep, _ = _duban("sweep", "--as-of", "2016-02-01", env=env)
    print(f"duban sweep, one day on the demo's data: {sweep:.1f} s", flush=True)
    return [
        Row("`duban demo --no-serve`, fresh data folder", f"{fresh:.1f} s",
            f"`duban --help` {start_up:.1f} s", f"{fresh / start_up:.0f}×",
            f"≤ 60 s, a line per phase ({phases} phases printed)",
            fresh <= 60 and phases > 0),
        Row("the same command again", f"{again:.1f} s, {changed} rows changed",
            f"`duban --help` {start_up:.1f} s", f"{again / start_up:.1f}×",
            "≤ 15 s, no change at all", again <= 15 and changed == 0),
        Row("`duban sweep --as-of 2016-02-01` on the demo's data, Prefect's local API",
            f"{sweep:.1f} s", f"`duban --help` {start_up:.1f} s", f"{sweep / start_up:.1f}×",
            "the README says when to set `PREFECT_API_URL` or keep `duban serve`", None),
    ]


def child_replay(work: Path, _args: argparse.Namespace) -> list[Row]:
    from duban.ops.mail_sink import MailSink

    demo = work / "demo"
    if not (demo / "demo-org.yaml").exists():  # run alone: the demo's organisation file
        _duban("demo", "--no-serve", env=_environment(demo))
    folder = work / "replay"
    env = _environment(folder)
    _duban("db", "upgrade", env=env)
    _duban("org", "load", str(demo / "demo-org.yaml"), env=env)
    _duban("plan", "import", str(REFERENCE_PLAN), env=env)
    assign, _ = _duban("assign", "--as-of", "2014-07-01", env=env)
    port = int((demo / "demo-mail.port").read_text().strip())
    with MailSink(port, keep=False) as sink:
        seconds, output = _duban("replay", "--from", "2014-07-01", "--to", "2017-12-29",
                                 env=env)
        mails = sink.received
    found = re.search(r"新增通知 (\d+) 条", output.splitlines()[-1] if output else "")
    notices = found.group(1) if found else "?"
    print(f"replay: {seconds:.1f} s, {notices} notices, {mails} mails (assign {assign:.1f} s)",
          flush=True)
    return [Row("`duban replay` of the reference plan, assigned 2014-07-01, to 2017-12-29,"
                " SQLite", f"{seconds:.1f} s ({notices} notices, {mails} mails)",
                "", "", "≤ 30 s", seconds <= 30)]


def _backends(args: argparse.Namespace) -> list[str]:
    return ["sqlite", "postgresql"] if args.postgres else ["sqlite"]


def child_sweep(_work: Path, args: argparse.Namespace) -> list[Row]:
    import sweep_scaling as sweep
    from benchdb import migrated_engine, postgres_database, sqlite_database

    from duban.services.calendar.data import build_work_calendar

    rows = []
    calendar = build_work_calendar([])
    for backend in _backends(args):
        database = postgres_database(args.pg_url) if backend == "postgresql" else sqlite_database()
        with database as url:
            engine = migrated_engine(url)
            try:
                result = sweep.measure(engine, backend, 10_000, calendar, 3)
            finally:
                engine.dispose()
        ratio = result.sweep_ms / result.minimal_ms
        print(f"sweep {backend}: {result.per_task_ms:.2f} ms per due task, least SQL "
              f"{result.minimal_ms / sweep.DUE:.2f} ms, ratio {ratio:.2f}", flush=True)
        rows.append(Row(f"sweep per due task (`sweep_scaling.py`, 10k tasks), {_name(backend)}",
                        f"{result.per_task_ms:.2f} ms",
                        f"the least SQL {result.minimal_ms / sweep.DUE:.2f} ms",
                        f"{ratio:.2f}", "≤ 3 × the least SQL", ratio <= 3))
    return rows


def child_outbox_once(_work: Path, args: argparse.Namespace) -> list[Row]:
    """One outbox run (each of ``--outbox-runs`` is a process of its own)."""
    import outbox_email as outbox
    from benchdb import postgres_database, sqlite_database

    backend = args.backend
    database = postgres_database(args.pg_url) if backend == "postgresql" else sqlite_database()
    with database as url:
        (plain, through, _alone), _run, _plans = outbox.measure(url, backend, 200, profile=False)
    ratio = through.rate / plain.rate
    return [Row("outbox", f"{through.rate:.1f}", f"{plain.rate:.1f}", f"{ratio:.3f}", "", None)]


def _name(backend: str) -> str:
    return "PostgreSQL" if backend == "postgresql" else "SQLite"


def child_pages(_work: Path, args: argparse.Namespace) -> list[Row]:
    import pages_scaling as pages
    from benchdb import postgres_database, sqlite_database

    n = pages.parse_size(args.pages_size)
    backend = args.backend
    database = postgres_database(args.pg_url) if backend == "postgresql" else sqlite_database()
    options = argparse.Namespace(runs=5, budget=20.0, skip=set(), first_of_day=False)
    memory: list[pages.Memory] = []
    with database as url:
        timings = pages.measure_size(url, n, options, memory)
    health = timings.pop("/healthz").ms
    where = f"{pages.label(n)} tasks, {_name(backend)}"
    (used,) = memory
    rows = [
        Row(f"`/healthz` ({where})", f"{health:.1f} ms", "", "1", "", None),
        Row(f"resident memory of the serving process, peak while every page below was"
            f" requested ({where})", f"{used.peak_mb:.0f} MB",
            f"before the first page {used.before_mb:.0f} MB",
            f"+{used.peak_mb - used.before_mb:.0f} MB", "flat", None),
    ]
    aim = 5 * health + 100
    for name, timing in timings.items():
        if name == "ledger.xlsx":
            rows.append(Row(f"ledger.xlsx ({where})", f"{timing.ms / 1000:.1f} s", "", "",
                            "≤ 10 s", timing.runs > 0 and timing.ms <= 10_000))
            continue
        rows.append(Row(f"{name} ({where})", f"{timing.ms:.0f} ms",
                        f"`/healthz` {health:.1f} ms", f"{timing.ms / health:.0f}",
                        f"≤ {aim:.0f} ms", timing.runs > 0 and timing.ms <= aim))
    return rows


CHILDREN = {
    "demo": child_demo,
    "replay": child_replay,
    "sweep": child_sweep,
    "outbox_once": child_outbox_once,
    "pages": child_pages,
}


def run_child(name: str, work: Path, args: argparse.Namespace, **extra: str) -> list[Row]:
    """``name`` measured in a new process; its rows."""
    out = work / f"{name}-{time.monotonic_ns()}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name,
               "--work", str(work), "--out", str(out), "--pages-size", args.pages_size,
               "--pg-url", args.pg_url]
    if args.postgres:
        command.append("--postgres")
    for key, value in extra.items():
        command += [f"--{key}", value]
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise SystemExit(f"figure {name} failed (exit {done.returncode})")
    return [Row(**row) for row in json.loads(out.read_text())]


def outbox_rows(work: Path, args: argparse.Namespace) -> list[Row]:
    rows = []
    for backend in _backends(args):
        ratios, rates = [], []
        for _ in range(args.outbox_runs):
            (row,) = run_child("outbox_once", work, args, backend=backend)
            ratios.append(float(row.ratio))
            rates.append((float(row.value), float(row.baseline)))
            print(f"outbox {backend}: {row.value} mails/s, smtplib {row.baseline} mails/s, "
                  f"ratio {row.ratio}", flush=True)
        median = statistics.median(ratios)
        outbox_rate, plain_rate = sorted(rates)[len(rates) // 2]
        spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
        rows.append(Row(f"outbox, route + dispatch of 200 mails (`outbox_email.py`),"
                        f" {_name(backend)}; median of {len(ratios)} processes",
                        f"{outbox_rate:.0f} mails/s", f"plain smtplib {plain_rate:.0f} mails/s",
                        f"{median:.2f}{spread}", "≥ 0.5", median >= 0.5))
    return rows


# ---------------------------------------------------------------------- the table


def table(rows: list[Row]) -> str:
    marks = {True: "yes", False: "**no**", None: ""}
    lines = ["| figure | measured | baseline, same run | ratio | aim | met |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r.what} | {r.value} | {r.baseline} | {r.ratio} | {r.aim} | {marks[r.met]} |"
              for r in rows]
    return "\n".join(lines)


def heading(args: argparse.Namespace, argv: list[str]) -> str:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip() or "?"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Made by `.venv/bin/python bench/figures.py {' '.join(argv)}` at {commit} on"
            f" {when}; {os.cpu_count()} CPUs, load average {load} at the end.")


def write_readme(block: str) -> None:
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md has no {BEGIN} … {END} block")
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(FIGURES),
                        help=f"figures, comma-separated, of {', '.join(FIGURES)}")
    parser.add_argument("--postgres", action="store_true",
                        help="sweep, outbox and pages also on PostgreSQL")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="server (maintenance db) URL")
    parser.add_argument("--pages-size", default="100k")
    parser.add_argument("--outbox-runs", type=int, default=7)  # the ratio swings by ±0.1
    parser.add_argument("--write", action="store_true", help="regenerate README.md's table")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measured = CHILDREN[args.child](args.work, args)
        args.out.write_text(json.dumps([asdict(r) for r in measured], ensure_ascii=False))
        return
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figures: {', '.join(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="duban-figures-"))
    rows: list[Row] = []
    try:
        for name in FIGURES:
            if name not in wanted:
                continue
            if name == "outbox":
                rows += outbox_rows(work, args)
            elif name == "pages":
                for backend in _backends(args):
                    rows += run_child(name, work, args, backend=backend)
            else:
                rows += run_child(name, work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    block = f"{heading(args, sys.argv[1:])}\n\n{table(rows)}"
    print()
    print(block)
    if args.write:
        write_readme(block)
        print(f"\nREADME.md: the table between {BEGIN} and {END} regenerated")


if __name__ == "__main__":
    main()
