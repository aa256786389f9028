"""What the ledger download costs as the tasks grow: time and peak memory.

For each size N (default 1k and 10k; ``--sizes 1k,10k,100k`` for more), a fresh
database gets ``pages_scaling``'s plan and activity (seen on 2016-03-01), and
each run is a fresh process that signs a coordinator in and downloads
``/dashboard/ledger.xlsx`` in-process (the app of ``duban serve``, no server):
the wall and CPU time of the request, the process's peak resident memory
(``ru_maxrss``) and its growth over the resident memory just before the
download (what the download took). The day's lights and scorecard cells are
stored first, as the day's first round stores them (``--first-of-day``: not;
the 考核 sheet is then counted in grouped SQL).
``--held`` runs the ledger as it was built before it was streamed, in the same
processes and database (every row held by ``build_ledger``, then the scorecard
and the workbook of them), for a comparison on the same machine at the same
time. Medians of ``--runs`` runs are printed.

    .venv/bin/python bench/ledger_scaling.py [--sizes 1k,10k] [--runs 3] [--held] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchdb import DEFAULT_POSTGRES, migrated_engine, postgres_database, revision, sqlite_database
from pages_scaling import AS_OF, SECRET, fill, label, parse_size

from duban.config import Settings


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _resident_mb() -> float:
    """The process's resident memory now (Linux), below its peak after start-up."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return _peak_mb()


def child(url: str, held: bool) -> None:
    """One download in this process; prints its figures as JSON."""
    from pages_scaling import CSRF, PASSWORD
    from starlette.testclient import TestClient

    from duban.domain.scorecard import Period
    from duban.services.reports.ledger import build_ledger
    from duban.services.reports.ledger_files import write_ledger_xlsx
    from duban.services.reports.scorecard import scorecard_from_ledger
    from duban.web import create_app
    from duban.wiring import AppContext

    with tempfile.TemporaryDirectory(prefix="duban-ledger-") as folder:
        settings = Settings(data_dir=Path(folder), database_url=url, secret_key=SECRET,
                            base_url="http://127.0.0.1")
        app = create_app(settings, as_of=AS_OF)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            found = CSRF.search(client.get("/login").text)
            assert found, "no CSRF token on /login"
            # Not following the redirect: the desk page is not what is measured.
            client.post("/login", data={"username": "coordinator", "password": PASSWORD,
                                        "csrf_token": found.group(1)}, follow_redirects=False)
            assert client.get("/healthz").status_code == 200
            before = _resident_mb()
            wall, cpu = time.perf_counter(), time.process_time()
            if held:
                context = AppContext(settings)
                ledger = build_ledger(context.session_factory, as_of=AS_OF.date(),
                                      calendar=context.calendar, all_plans=True)
                card = scorecard_from_ledger(ledger, period=Period(), calendar=context.calendar)
                size = write_ledger_xlsx(ledger, Path(folder) / "held.xlsx", scorecard=card,
                                         base_url="http://127.0.0.1").stat().st_size
            else:
                response = client.get("/dashboard/ledger.xlsx")
                assert response.status_code == 200, response.status_code
                size = len(response.content)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({"wall": wall, "cpu": cpu, "before": before, "peak": _peak_mb(),
                      "size": size}))


def _run(url: str, held: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", url, *(["--held"] if held else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def store_day(url: str) -> str:
    """What the day's first round stores before the download (as
    ``pages_scaling.store_day``): each task's light and scorecard cell."""
    from duban.services.rounds.daily import store_day_lights, store_day_scores
    from duban.timeutil import DEFAULT_ZONE
    from duban.wiring import AppContext

    with tempfile.TemporaryDirectory(prefix="duban-ledger-") as folder:
        context = AppContext(Settings(data_dir=Path(folder), database_url=url,
                                      secret_key=SECRET))
        started = time.perf_counter()
        day, factory = AS_OF.date(), context.session_factory
        lights = store_day_lights(factory, day=day, calendar=context.calendar, zone=DEFAULT_ZONE)
        cells = store_day_scores(factory, day=day, calendar=context.calendar, zone=DEFAULT_ZONE)
        return (f"the day's first round stored {lights} lights and {cells} scorecard cells"
                f" in {time.perf_counter() - started:.1f} s")


def measure_size(url: str, n: int, args: argparse.Namespace) -> None:
    engine = migrated_engine(url)
    _skeleton, seconds = fill(engine, n)
    engine.dispose()
    print(f"\n{label(n)}: filled in {seconds:.1f} s")
    print(f"  {'the day not stored (--first-of-day)' if args.first_of_day else store_day(url)}")
    print(f"  {'ledger.xlsx':<9} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} "
          f"{'growth MB':>10} {'size MB':>8}  runs")
    for held in ([False, True] if args.held else [False]):
        runs = [_run(url, held) for _ in range(args.runs)]

        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        growth = statistics.median(r["peak"] - r["before"] for r in runs)
        print(f"  {'held' if held else 'streamed':<9} {median('wall'):>7.1f} {median('cpu'):>7.1f}"
              f" {median('peak'):>8.0f} {growth:>10.0f} {median('size') / 1e6:>8.1f}"
              f"  {len(runs)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1k,10k", help="task counts, e.g. 1k,10k,100k")
    parser.add_argument("--runs", type=int, default=3, help="downloads per size (median)")
    parser.add_argument("--held", action="store_true",
                        help="also the ledger held whole (as before streaming)")
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_POSTGRES, default=None,
                        metavar="URL", help="on PostgreSQL (a throw-away database on that server)")
    parser.add_argument("--first-of-day", action="store_true",
                        help="download before the day's first round stored lights and cells")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.held)
        return
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"ledger_scaling at {revision()} on {backend}, {args.runs} runs per size (median)")
    for size in args.sizes.split(","):
        database = postgres_database(args.postgres) if args.postgres else sqlite_database()
        with database as url:
            measure_size(url, parse_size(size), args)


if __name__ == "__main__":
    main()
