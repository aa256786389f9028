"""The process supervisor behind ``duban cluster up``: the Prefect server,
its workers and the web pages as child processes, each with its own log file,
restarted when one dies and stopped in order (workers with SIGINT) on Ctrl+C
or SIGTERM; a status file tells ``duban cluster status`` what runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from duban.config import PROJECT_DIR
from duban.db import mask_url
from duban.ops.cluster import (
    CLIENT_DEFAULTS,
    LOG,
    POOL_NAME,
    PREFECT_DB_VARIABLE,
    SERVER_DEFAULTS,
    ClusterError,
    ClusterPlan,
    child_env,
)
from duban.ops.prefect_admin import (
    api_ready,
    deploy,
    page_ready,
    wait_for_api,
)


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
