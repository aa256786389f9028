"""Prefect's server, through its API: is it up, the ``duban`` process work
pool, the automation that marks a flow run whose heartbeats stopped as crashed,
and the deployments of ``prefect.yaml`` (``prefect deploy``).
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from duban.config import PROJECT_DIR
from duban.ops.cluster import POOL_NAME, ClusterError, child_env


def api_ready(api_url: str, timeout: float = 2.0) -> bool:
    """True if the Prefect API at ``api_url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_for_api(api_url: str, timeout: float = 120.0) -> None:
    """Wait until the Prefect API answers; ClusterError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not api_ready(api_url):
        if time.monotonic() > deadline:
            raise ClusterError(f"Prefect 服务器 {api_url} 在 {timeout:.0f} 秒内未就绪")
        time.sleep(0.5)


def page_ready(url: str, timeout: float = 2.0) -> bool:
    """True if the pages at ``url`` answer (any HTTP status: the server is up)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status)
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ensure_work_pool(api_url: str, name: str = POOL_NAME) -> bool:
    """Create the ``process`` work pool ``name`` unless it exists; True if created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            try:
                pool = client.read_work_pool(name)
            except ObjectNotFound:
                client.create_work_pool(WorkPoolCreate(name=name, type="process"))
                return True
            if pool.type != "process":
                raise ClusterError(f"工作池“{name}”的类型是 {pool.type},需要 process")
            return False


ZOMBIE_AUTOMATION = "duban: 标记失联的流程运行为崩溃"


ZOMBIE_MESSAGE = "流程运行失联(心跳中断,worker 可能已被终止),已标记为崩溃"


# Flow runs started by workers send a heartbeat this often (seconds); a run
# whose heartbeats stop (its worker or host died) is marked Crashed after
# ZOMBIE_AFTER seconds by the automation `duban deploy` creates.
HEARTBEAT_SECONDS = 30


ZOMBIE_AFTER = 90


def ensure_zombie_automation(api_url: str) -> bool:
    """Create (once) the automation that marks a flow run Crashed when its
    heartbeats stop — after a worker is killed its run would otherwise stay
    Running for ever. Prefect's own recipe ("Detect zombie flows"); True if created."""
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            if client.read_automations_by_name(ZOMBIE_AUTOMATION):
                return False
        Automation(
            name=ZOMBIE_AUTOMATION,
            description="worker 或主机失联后,其流程运行不再发送心跳:标记为崩溃,以便重新运行",
            trigger=EventTrigger(
                after={"prefect.flow-run.heartbeat"},
                expect={
                    "prefect.flow-run.heartbeat",
                    "prefect.flow-run.Completed",
                    "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled",
                    "prefect.flow-run.Crashed",
                },
                match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=timedelta(seconds=ZOMBIE_AFTER),
            ),
            actions=[
                ChangeFlowRunState(
                    name="Crashed",
                    force=False,
                    state=StateType.CRASHED,
                    message=ZOMBIE_MESSAGE,
                )
            ],
        ).create()
        return True


def deploy(api_url: str, env: Mapping[str, str]) -> list[str]:
    """Register every deployment of prefect.yaml with the server at ``api_url``
    (creating the work pool first); returns the deployments' names.

    Runs ``prefect deploy --all`` from the repository root, which workers on
    this machine (or one with the checkout at the same path, ``DUBAN_REPO_DIR``)
    run the flows from."""
    ensure_work_pool(api_url)
    ensure_zombie_automation(api_url)
    deploy_env = child_env(env)
    deploy_env["PREFECT_API_URL"] = api_url
    deploy_env.setdefault("DUBAN_REPO_DIR", str(PROJECT_DIR))
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=PROJECT_DIR,
        env=deploy_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ClusterError(f"prefect deploy 失败(退出码 {result.returncode}):\n{tail}")
    return deployment_names(api_url)


def deployment_names(api_url: str) -> list[str]:
    """``flow/deployment`` names registered with the server."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            flows = {f.id: f.name for f in client.read_flows()}
            return sorted(
                f"{flows.get(d.flow_id, '?')}/{d.name}" for d in client.read_deployments()
            )
