"""The production profile end to end: ``duban cluster up`` (a Prefect server on
PostgreSQL, two process workers, the pages), the reference plan assigned
through the measure deployment, and two replays of a year running at once on
the two workers — ending exactly where one process ends, nothing sent twice."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from duban.ops.mail_sink import MailSink
from duban.ops.prefect_admin import deployment_names
from duban.ops.runs import run_deployments
from tests.cluster.conftest import ASSIGN_AT, STRETCHES, Reference
from tests.cluster.harness import as_asyncpg, differences, mail_of, running_cluster, snapshot
from tests.conftest import PostgresServer
from tests.paths import REFERENCE_PLAN

pytestmark = pytest.mark.postgres


def test_two_workers_replaying_a_year_end_as_one_process_does(
    postgres_server: PostgresServer,
    sink: MailSink,
    reference: Reference,
    tmp_path: Path,
) -> None:
    duban_url = postgres_server.create_database()
    prefect_url = as_asyncpg(postgres_server.create_database())
    with running_cluster(tmp_path, duban_url=duban_url, prefect_url=prefect_url) as cluster:
        assert deployment_names(cluster.api_url) == [
            "measure/measure",
            "replay/replay",
            "sweep/sweep",
            "weekly-digest/weekly-digest",
        ]
        page = urllib.request.urlopen(f"http://127.0.0.1:{cluster.extra['web_port']}/login")
        assert page.status == 200  # duban serve --no-scheduler answers

        cluster.duban("org", "load", str(reference.org_file))
        cluster.duban("plan", "import", str(REFERENCE_PLAN))
        out = cluster.duban("assign", "--deployments", "--as-of", ASSIGN_AT).stdout
        assert "27 项措施的流程已完成,0 项未完成" in out, out
        assert differences(reference.assigned, snapshot(duban_url)) == {}

        sink.messages.clear()
        start, end = STRETCHES[0][0], STRETCHES[-1][1]
        runs = run_deployments(
            "replay/replay", [{"start": start, "end": end}] * 2, api_url=cluster.api_url
        )
        assert [r.state for r in runs] == ["COMPLETED", "COMPLETED"], runs

        # Each replay ran on its own worker, and both sent messages. (Both
        # workers may pick a run up; the server lets one of them have it and
        # the other logs "Aborted submission".)
        logs = {name: cluster.log_of(name) for name in ("worker-1", "worker-2")}
        for run in runs:
            holders = [
                name
                for name, log in logs.items()
                if f"submitting flow run '{run.flow_run_id}'" in log
                and f"Aborted submission of flow run '{run.flow_run_id}'" not in log
            ]
            assert len(holders) == 1, (run.name, holders)
        sent = [[int(n) for n in re.findall(r"本流程发送 (\d+) 条", log)] for log in logs.values()]
        assert all(len(counts) == 1 and counts[0] > 0 for counts in sent), sent

    found = snapshot(duban_url)
    assert differences(reference.after[-1], found) == {}
    received = mail_of(sink)
    assert received == reference.mail_until(len(STRETCHES) - 1)
    # Nothing twice: every sent delivery was sent by exactly one attempt.
    sent_deliveries = [d for d in found["deliveries"] if d[4] == "sent"]
    assert sent_deliveries and all(
        sum(1 for attempt in d[12] if attempt[1]) == 1 for d in sent_deliveries
    )
