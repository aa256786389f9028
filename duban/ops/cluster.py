"""The production profile on one or more machines: a Prefect server on
PostgreSQL, process workers of the ``duban`` pool, and the web pages.

``duban cluster up`` runs :class:`Supervisor` on one machine: it starts each
piece as a child process with its own log file under ``LOG_DIR``, restarts a
piece that dies, and stops them all (workers with SIGINT, on which a Prefect
process worker finishes cleanly) on Ctrl+C or SIGTERM. On more machines, run
the server on one and ``prefect worker start --pool duban`` on the others with
the same ``PREFECT_API_URL`` and ``DUBAN_*`` settings.

Settings come from the environment only (README, "Production profile"):
``DUBAN_*`` for duban, ``PREFECT_*`` for Prefect. Database URLs may carry
passwords: they are shown only through :func:`duban.db.mask_url` and are
passed to a child only when it needs them (the Prefect database URL to the
server alone).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from duban.config import PROJECT_DIR
from duban.db import mask_url
from duban.domain.errors import DubanError

LOG = logging.getLogger("duban.ops.cluster")
POOL_NAME = "duban"
PREFECT_DB_VARIABLE = "PREFECT_API_DATABASE_CONNECTION_URL"

# What the Prefect server runs with unless the operator set it: task-run and
# event recording in batches (measured: 1,000 runs' lag from ~60 s to seconds),
# no telemetry (this network reaches nothing outside).
SERVER_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "200",
}
# Workers ask for new runs every few seconds (Prefect's default is 10). Every
# Prefect client (workers, flow runs) rides out a restart of the server or of
# its database: while the database is away the server answers 500, which
# Prefect does not retry by default; 7 retries back off for about 2 minutes.
CLIENT_DEFAULTS = {
    "PREFECT_WORKER_QUERY_SECONDS": "2",
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",  # see ensure_zombie_automation
    "PREFECT_CLIENT_RETRY_EXTRA_CODES": "500",
    "PREFECT_CLIENT_MAX_RETRIES": "7",
}
# Never handed to workers or the web process: only the server uses it.
SERVER_ONLY = (PREFECT_DB_VARIABLE,)


class ClusterError(DubanError):
    """The production profile cannot start as configured."""


@dataclass(frozen=True)
class ClusterPlan:
    """What ``duban cluster up`` starts, and where."""

    duban_url: str
    prefect_url: str
    home: Path  # PREFECT_HOME, logs and the status file
    host: str = "127.0.0.1"
    api_port: int = 4200
    web_port: int = 8000
    workers: int = 2
    worker_limit: int | None = 4  # flow runs at once per worker (None: no limit)
    web: bool = True

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}/api"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def status_file(self) -> Path:
        return self.home / "cluster.json"


def check_databases(duban_url: str, prefect_url: str | None) -> None:
    """Both URLs must be PostgreSQL and name different databases.

    Raises ClusterError naming the variable at fault. One database for both is
    refused: ``prefect server database reset`` drops every table in the
    database it points at, duban's included."""
    if not prefect_url:
        raise ClusterError(
            f"未设置 {PREFECT_DB_VARIABLE}:Prefect 服务器需要自己的 PostgreSQL 数据库"
            "(例如 postgresql+asyncpg://用户@主机:5432/prefect)"
        )
    duban, prefect = make_url(duban_url), make_url(prefect_url)
    if duban.get_backend_name() != "postgresql":
        raise ClusterError(
            f"DUBAN_DATABASE_URL 不是 PostgreSQL({mask_url(duban_url)}):"
            "生产配置的督办数据放在 PostgreSQL 中"
        )
    if prefect.get_backend_name() != "postgresql":
        raise ClusterError(
            f"{PREFECT_DB_VARIABLE} 不是 PostgreSQL({mask_url(prefect_url)}):"
            "SQLite 上的 Prefect 服务器在多个 worker 并发时会出错"
        )
    if prefect.get_driver_name() != "asyncpg":
        raise ClusterError(
            f"{PREFECT_DB_VARIABLE} 须使用 asyncpg 驱动(postgresql+asyncpg://…),"
            f"现为 {mask_url(prefect_url)}"
        )
    same = (duban.host or "", duban.port or 5432, duban.database) == (
        prefect.host or "",
        prefect.port or 5432,
        prefect.database,
    )
    if same:
        raise ClusterError(
            f"DUBAN_DATABASE_URL 与 {PREFECT_DB_VARIABLE} 指向同一个数据库“{duban.database}”:"
            "请为 Prefect 服务器另建数据库(prefect server database reset 会删除其中所有表)"
        )


def _maintenance_url(url: URL) -> URL:
    return url.set(drivername="postgresql+psycopg", database="postgres")


def ensure_database(url: str) -> bool:
    """Create the database ``url`` names on its server if it does not exist
    (connecting to the server's ``postgres`` database); True if created."""
    target = make_url(url)
    name = target.database
    if not name:
        raise ClusterError(f"数据库地址没有库名:{mask_url(url)}")
    engine = create_engine(_maintenance_url(target), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if exists:
                return False
            quoted = connection.dialect.identifier_preparer.quote(name)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    except Exception as err:
        if isinstance(err, ClusterError):
            raise
        raise ClusterError(f"无法连接或创建数据库 {mask_url(url)}:{type(err).__name__}") from None
    finally:
        engine.dispose()


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


def child_env(base: Mapping[str, str], *, server: bool = False) -> dict[str, str]:
    """The environment of a child: ``base`` minus what only the server may see."""
    env = dict(base)
    if not server:
        for key in SERVER_ONLY:
            env.pop(key, None)
    return env


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


# ------------------------------------------------------------------ supervisor


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        if self._log_file is None:
            self._log_file = self.log.open("ab")
        # Its own process group: a terminal's Ctrl+C reaches the supervisor
        # only, which stops the children in order; killing the group takes a
        # worker's flow-run subprocesses with it, as a crashed host would.
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=PROJECT_DIR,
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            self._close()
            return
        try:
            os.killpg(self.process.pid, self.stop_signal)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            LOG.warning("%s 未在 %.0f 秒内停止,强制结束", self.name, timeout)
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


class Supervisor:
    """Starts, watches and stops the pieces of a :class:`ClusterPlan`."""

    def __init__(self, plan: ClusterPlan, env: Mapping[str, str]) -> None:
        self.plan = plan
        base = dict(env)
        base["PREFECT_API_URL"] = plan.api_url
        base["PREFECT_HOME"] = str(plan.home / "prefect")
        base["DUBAN_DATABASE_URL"] = plan.duban_url
        for key, value in {**SERVER_DEFAULTS, **CLIENT_DEFAULTS}.items():
            base.setdefault(key, value)
        base[PREFECT_DB_VARIABLE] = plan.prefect_url
        self.env = base
        self.server = Child(
            "server",
            _python_module(
                "prefect", "server", "start", "--host", plan.host, "--port", str(plan.api_port)
            ),
            child_env(base, server=True),
            plan.log_dir / "server.log",
        )
        self.workers = [self._worker(i + 1) for i in range(plan.workers)]
        self.web = Child(
            "web",
            _python_module(
                "duban",
                "serve",
                "--no-scheduler",
                "--host",
                plan.host,
                "--port",
                str(plan.web_port),
            ),
            child_env(base),
            plan.log_dir / "web.log",
        )
        self._stopping = False

    def _worker(self, number: int) -> Child:
        name = f"worker-{number}"
        argv = _python_module(
            "prefect",
            "worker",
            "start",
            "--pool",
            POOL_NAME,
            "--type",
            "process",
            "--name",
            name,
        )
        if self.plan.worker_limit is not None:
            argv += ["--limit", str(self.plan.worker_limit)]
        # A process worker stops on SIGINT (on SIGTERM it may start another run).
        return Child(
            name,
            argv,
            child_env(self.env),
            self.plan.log_dir / f"{name}.log",
            stop_signal=signal.SIGINT,
        )

    @property
    def children(self) -> list[Child]:
        return [self.server, *self.workers, *([self.web] if self.plan.web else [])]

    def start(self, *, api_timeout: float = 120.0) -> list[str]:
        """Start the server, register the deployments, start workers and pages;
        returns the deployments' names. Stops what it started if a step fails."""
        self.plan.home.mkdir(parents=True, exist_ok=True)
        # Children inherit an ignored SIGINT (a shell's background job has
        # one) and would then never stop; with a handler here they get the
        # default action, and so does this process.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if api_ready(self.plan.api_url):
            raise ClusterError(f"{self.plan.api_url} 上已有 Prefect 服务器在运行")
        try:
            self.server.start()
            LOG.info("Prefect 服务器启动中(pid %s)", self.server.pid)
            wait_for_api(self.plan.api_url, api_timeout)
            names = deploy(self.plan.api_url, self.env)
            for child in self.children[1:]:
                child.start()
                LOG.info("%s 已启动(pid %s)", child.name, child.pid)
            if self.plan.web:
                self.wait_for_pages(api_timeout)
        except BaseException:
            self.stop()
            raise
        self.write_status()
        return names

    def wait_for_pages(self, timeout: float) -> None:
        """Wait until the pages answer, so "ready" means a browser gets a page."""
        url = f"http://{self.plan.host}:{self.plan.web_port}/login"
        deadline = time.monotonic() + timeout
        while not page_ready(url):
            code = self.web.exited()
            if code is not None:
                raise ClusterError(f"网页进程已退出(退出码 {code}),见日志 {self.web.log}")
            if time.monotonic() > deadline:
                raise ClusterError(f"网页 {url} 在 {timeout:.0f} 秒内未就绪,见日志 {self.web.log}")
            time.sleep(0.5)
        LOG.info("网页已就绪:%s", url)

    def watch_once(self, *, restart_delay: float = 3.0) -> list[str]:
        """Restart every child that exited; returns what was restarted."""
        restarted: list[str] = []
        if self._stopping:
            return restarted
        for child in self.children:
            code = child.exited()
            if code is None:
                continue
            how = f"信号 {-code}" if code < 0 else f"退出码 {code}"
            LOG.warning(
                "%s(pid %s)已退出(%s),%.0f 秒后重启", child.name, child.pid, how, restart_delay
            )
            time.sleep(restart_delay)
            child.restarts += 1
            child.start()
            if child is self.server:
                wait_for_api(self.plan.api_url)
            LOG.info("%s 已重启(pid %s,第 %d 次)", child.name, child.pid, child.restarts)
            restarted.append(child.name)
        if restarted:
            self.write_status()
        return restarted

    def run(self, *, poll: float = 1.0) -> None:
        """Watch the children until SIGINT or SIGTERM, then stop them all."""

        def request_stop(signum: int, _frame: Any) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while True:
                time.sleep(poll)
                self.watch_once()
        except KeyboardInterrupt:
            LOG.info("正在停止……")
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.stop()

    def stop(self) -> None:
        """Workers first (they finish their runs' bookkeeping), then pages, then server."""
        self._stopping = True
        for child in [*self.workers, self.web, self.server]:
            child.stop()
        self.write_status()

    def status(self) -> dict[str, Any]:
        return {
            "api_url": self.plan.api_url,
            "web_url": f"http://{self.plan.host}:{self.plan.web_port}/" if self.plan.web else None,
            "duban_database": mask_url(self.plan.duban_url),
            "prefect_database": mask_url(self.plan.prefect_url),
            "children": [
                {
                    "name": c.name,
                    "pid": c.pid,
                    "running": c.exited() is None and c.process is not None,
                    "restarts": c.restarts,
                    "log": str(c.log),
                }
                for c in self.children
            ],
        }

    def write_status(self) -> None:
        self.plan.status_file.write_text(
            json.dumps(self.status(), ensure_ascii=False, indent=2), encoding="utf-8"
        )


def read_status(home: Path) -> dict[str, Any]:
    """The status file a running ``duban cluster up`` keeps under ``home``."""
    path = home / "cluster.json"
    if not path.exists():
        raise ClusterError(f"没有运行中的生产配置状态文件:{path}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# ------------------------------------------------------------ deployment runs


@dataclass(frozen=True)
class RunOutcome:
    """How one deployment run ended."""

    parameters: dict[str, Any]
    flow_run_id: str
    name: str
    state: str  # COMPLETED, FAILED, CRASHED, … (TIMEOUT: still not final)
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "COMPLETED"


def run_deployments(
    deployment: str,
    parameter_sets: Sequence[Mapping[str, Any]],
    *,
    api_url: str,
    timeout: float = 3600.0,
    poll: float = 1.0,
    job_variables: Sequence[Mapping[str, Any] | None] | None = None,
) -> list[RunOutcome]:
    """Create one run of ``deployment`` ("flow/deployment") per parameter set,
    let the workers take them, and wait until every run is final (or
    ``timeout`` seconds have passed). Returns the outcomes in order.
    ``job_variables[i]`` (e.g. ``{"env": {...}}``) applies to run ``i`` only."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def run_all() -> list[RunOutcome]:
        async with get_client() as client:
            runs = []
            for index, parameters in enumerate(parameter_sets):
                variables = job_variables[index] if job_variables else None
                runs.append(
                    await cast(
                        Awaitable[Any],
                        run_deployment(
                            deployment,
                            client=client,
                            parameters=dict(parameters),
                            timeout=0,
                            as_subflow=False,
                            job_variables=dict(variables) if variables else None,
                        ),
                    )
                )
            deadline = time.monotonic() + timeout
            final: dict[Any, Any] = {}
            while True:
                for run in runs:
                    if run.id in final:
                        continue
                    try:
                        current = await client.read_flow_run(run.id)
                    except Exception as err:  # the server is restarting: ask again
                        LOG.warning("读取流程运行状态失败(%s),稍后重试", type(err).__name__)
                        break
                    if current.state is not None and current.state.is_final():
                        final[run.id] = current
                if len(final) == len(runs) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(poll)
            outcomes = []
            for parameters, run in zip(parameter_sets, runs, strict=True):
                current = final.get(run.id) or await client.read_flow_run(run.id)
                state = current.state
                final_state = run.id in final and state is not None
                outcomes.append(
                    RunOutcome(
                        parameters=dict(parameters),
                        flow_run_id=str(run.id),
                        name=current.name,
                        state=state.type.value if final_state and state else "TIMEOUT",
                        message=state.message if state else None,
                    )
                )
            return outcomes

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        return asyncio.run(run_all())
