"""Faults in the production profile, each at a known moment (a test-only pause
point holds a flow run there): a worker killed with SIGKILL mid-flow, the
PostgreSQL server stopped mid-sweep, the Prefect server stopped while a worker
runs. After recovery the data equals the fault-free single-process run's,
nothing was sent twice, and the logs say what happened.

The PostgreSQL server here is the test's own (from this machine's PostgreSQL
installation), so stopping it does not disturb the other tests."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from duban.ops.mail_sink import MailSink
from duban.ops.prefect_admin import ZOMBIE_MESSAGE, api_ready
from duban.ops.runs import RunOutcome, run_deployments
from tests.cluster.conftest import ASSIGN_AT, STRETCHES, Reference, assign_in_process
from tests.cluster.harness import (
    Cluster,
    differences,
    mail_of,
    running_cluster,
    snapshot,
)
from tests.cluster.pg_instance import PgInstance
from tests.paths import REFERENCE_PLAN

pytestmark = pytest.mark.postgres


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[PgInstance]:
    instance = PgInstance(tmp_path / "pg").init()
    instance.start()
    instance.wait_ready()
    try:
        yield instance
    finally:
        instance.destroy()


class Background:
    """Deployment runs created and awaited in a thread, as ``duban assign
    --deployments`` would from another terminal."""

    def __init__(self, cluster: Cluster, deployment: str, parameters: list[dict[str, Any]],
                 job_variables: list[dict[str, Any] | None], timeout: float = 300) -> None:
        self.outcomes: list[RunOutcome] = []
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.outcomes = run_deployments(
                    deployment, parameters, api_url=cluster.api_url,
                    job_variables=job_variables, timeout=timeout,
                )
            except BaseException as err:  # reported by join()
                self.error = err

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 900) -> list[RunOutcome]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "deployment runs did not finish"
        if self.error is not None:
            raise self.error
        return self.outcomes


def pause_env(point: str, flag: Path) -> dict[str, Any]:
    flag.touch()
    return {"env": {"DUBAN_FAULT_PAUSE_AT": point, "DUBAN_FAULT_PAUSE_FILE": str(flag)}}


def wait_paused(cluster: Cluster, flag: Path) -> int:
    """The pid of the flow run that reached its pause point."""
    marker = flag.with_name(flag.name + ".paused")
    cluster.wait_for(f"pause at {flag.name}", marker.exists, timeout=300)
    return int(marker.read_text(encoding="utf-8"))


def run_state(api_url: str, flow_run_id: str) -> tuple[str, str | None]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
    assert state is not None
    return state.type.value, state.message


def running(api_url: str, name: str) -> int:
    """How many flow runs called ``name`` are Running."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    name=FlowRunFilterName(any_=[name]),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING])),
                )
            )
    return len(runs)


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_killed_worker_stopped_database_and_stopped_server_lose_and_double_nothing(
    own_postgres: PgInstance, sink: MailSink, reference: Reference, tmp_path: Path
) -> None:
    own_postgres.create_database("duban")
    own_postgres.create_database("prefect")
    duban_url = own_postgres.url("duban")
    with running_cluster(
        tmp_path / "cluster", duban_url=duban_url,
        prefect_url=own_postgres.url("prefect", "asyncpg"),
    ) as cluster:
        cluster.duban("org", "load", str(reference.org_file))
        cluster.duban("plan", "import", str(REFERENCE_PLAN))

        # 1. A worker dies (SIGKILL, with its flow run, as a crashed host
        #    would) after measure 30's first task; it is restarted, and the
        #    measure's assignment is run again. (The other measures are
        #    assigned here directly; test_cluster assigns them all on workers.)
        assign_in_process(duban_url, tmp_path / "data", skip=frozenset({30}))
        flag = tmp_path / "pause-assign"
        held = Background(
            cluster, "measure/measure",
            [{"measure": 30, "title": "科技保障", "as_of": f"{ASSIGN_AT}T09:00"}],
            [pause_env("task-created", flag)], timeout=20,
        )
        flow_pid = wait_paused(cluster, flag)
        worker_pid = parent_of(flow_pid)
        worker = next(c for c in cluster.status()["children"] if c["pid"] == worker_pid)
        os.kill(flow_pid, signal.SIGKILL)
        os.killpg(worker_pid, signal.SIGKILL)
        cluster.wait_for(
            "worker restarted",
            lambda: cluster.child(worker["name"])["restarts"] == 1
            and cluster.child(worker["name"])["running"],
        )
        flag.unlink()
        [killed] = held.join()
        assert killed.state != "COMPLETED"
        out = cluster.duban(
            "assign", "--deployments", "--measure", "30", "--as-of", ASSIGN_AT
        ).stdout
        assert "措施30:完成,任务 11 项" in out and "1 项措施的流程已完成,0 项未完成" in out, out
        assert differences(reference.assigned, snapshot(duban_url)) == {}
        assert f"{worker['name']}(pid {worker_pid})已退出(信号 9)" in cluster.supervisor_log()
        measure_log = "".join(cluster.log_of(f"worker-{i}") for i in (1, 2))
        assert "措施30:新交办 10 项,已存在 1 项" in measure_log

        # 2. PostgreSQL stops for a few seconds while a sweep holds a batch
        #    of claimed tasks (its transaction open); both replays go on.
        sink.messages.clear()
        flag = tmp_path / "pause-sweep"
        start, end = STRETCHES[0]
        replays = Background(
            cluster, "replay/replay", [{"start": start, "end": end}] * 2,
            [pause_env("sweep-claimed", flag)] * 2,  # whichever claims first pauses
        )
        wait_paused(cluster, flag)
        own_postgres.stop("fast")
        time.sleep(4)
        own_postgres.start()
        flag.unlink()
        assert [o.state for o in replays.join()] == ["COMPLETED", "COMPLETED"]
        assert differences(reference.after[0], snapshot(duban_url)) == {}
        assert mail_of(sink) == reference.mail[0]
        logs = "".join(cluster.log_of(f"worker-{i}") for i in (1, 2))
        # The sweep flow run that lost its database says so, and runs again.
        assert "OperationalError" in logs and "will attempt to run again" in logs

        # 3. The Prefect server is stopped while a worker runs a replay; the
        #    supervisor starts it again and the runs finish.
        sink.messages.clear()
        flag = tmp_path / "pause-server"
        start, end = STRETCHES[1]
        replays = Background(
            cluster, "replay/replay", [{"start": start, "end": end}] * 2,
            [pause_env("sweep-claimed", flag)] * 2,  # whichever claims first pauses
        )
        wait_paused(cluster, flag)
        # Both runs under way (a run still starting when the server goes away
        # cannot reach it at all, and Prefect reports it Crashed).
        name = f"演练 {start}至{end}"
        cluster.wait_for("both replays running", lambda: running(cluster.api_url, name) == 2)
        time.sleep(2)
        server_pid = cluster.child("server")["pid"]
        os.killpg(server_pid, signal.SIGTERM)
        cluster.wait_for("server down", lambda: not api_ready(cluster.api_url), timeout=60)
        cluster.wait_for(
            "server restarted", lambda: cluster.child("server")["restarts"] == 1, timeout=120
        )
        flag.unlink()
        assert [o.state for o in replays.join()] == ["COMPLETED", "COMPLETED"]
        assert differences(reference.after[1], snapshot(duban_url)) == {}
        assert mail_of(sink) == reference.mail[1]
        assert f"server(pid {server_pid})已退出" in cluster.supervisor_log()

        # The run of the killed worker stopped sending heartbeats: the
        # automation `duban deploy` installed has marked it Crashed.
        cluster.wait_for(
            "the killed run marked Crashed",
            lambda: run_state(cluster.api_url, killed.flow_run_id) == ("CRASHED", ZOMBIE_MESSAGE),
            timeout=240,
        )
