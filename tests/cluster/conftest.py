"""Fixtures of the production-profile tests: one loopback mail server and the
single-process reference run the clusters are compared with."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from duban.ops.mail_sink import MailSink
from tests.cluster.harness import cluster_env, mail_of, snapshot, write_org
from tests.conftest import PostgresServer
from tests.paths import REFERENCE_PLAN, ROOT

ASSIGN_AT = "2014-09-01"
# The fault tests replay these two stretches (a fault in each); the
# integration test replays a year, to the end of the third.
STRETCHES = [
    ("2014-09-02", "2014-09-30"),  # 签收 reminders of all 213 tasks
    ("2014-10-01", "2014-12-31"),  # a few report reminders in October
    ("2015-01-01", "2015-09-01"),
]


@pytest.fixture(scope="session")
def sink() -> Iterator[MailSink]:
    with MailSink() as mail:
        yield mail


@dataclass
class Reference:
    """The same work in one process: snapshots and mail after each stretch."""

    org_file: Path
    assigned: dict[str, list[Any]]
    after: list[dict[str, list[Any]]] = field(default_factory=list)
    mail: list[Counter[tuple[str, str, str]]] = field(default_factory=list)

    def mail_until(self, stretch: int) -> Counter[tuple[str, str, str]]:
        total: Counter[tuple[str, str, str]] = Counter()
        for part in self.mail[: stretch + 1]:
            total += part
        return total


def run_duban(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "duban", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"duban {args}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def reference(
    postgres_server: PostgresServer, sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Reference:
    """Import, assign (the measure service, in this process) and replay every
    stretch with ``duban replay`` — one process, no Prefect server."""
    home = tmp_path_factory.mktemp("reference")
    url = postgres_server.create_database()
    env = cluster_env(home=home, duban_url=url, prefect_url="", api_port=0)
    org_file = write_org(sink, home / "org.yaml")
    run_duban(env, "db", "upgrade")
    run_duban(env, "org", "load", str(org_file))
    run_duban(env, "plan", "import", str(REFERENCE_PLAN))
    assign_in_process(url, home / "data")
    result = Reference(org_file=org_file, assigned=snapshot(url))
    sink.messages.clear()
    for start, end in STRETCHES:
        run_duban(env, "replay", "--from", start, "--to", end)
        result.after.append(snapshot(url))
        result.mail.append(mail_of(sink))
        sink.messages.clear()
    return result


def assign_in_process(url: str, data_dir: Path, *, skip: frozenset[int] = frozenset()) -> None:
    """Assign every assignable measure but ``skip`` as of ASSIGN_AT with the
    measure service itself (the measure flow's body), in this process."""
    from duban.config import Settings
    from duban.services.plans.assignment import assign_measure
    from duban.services.plans.to_assign import measures_to_run
    from duban.timeutil import parse_local
    from duban.wiring import AppContext
    from tests.cluster.harness import SECRET_KEY

    context = AppContext(Settings(database_url=url, data_dir=data_dir, secret_key=SECRET_KEY))
    now = context.clock().resolve(parse_local(ASSIGN_AT))
    try:
        for ref in measures_to_run(context.session_factory, plan=None, measure=None):
            if ref.assignable and ref.number not in skip:
                assign_measure(
                    context.session_factory, plan=ref.plan, measure=ref.number, now=now,
                    calendar=context.calendar, policy=context.assignment_policy,
                )
    finally:
        context.session_factory.kw["bind"].dispose()
