"""The production profile on one or more machines: a Prefect server on
PostgreSQL, process workers of the ``duban`` pool, and the web pages.

``duban cluster up`` runs :class:`~duban.ops.supervisor.Supervisor` on one machine: it starts each
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

This module holds the plan and the settings every piece shares; the pieces:
:mod:`duban.ops.databases` (PostgreSQL checked and created),
:mod:`duban.ops.prefect_admin` (Prefect's API: readiness, work pool,
automation, deployments), :mod:`duban.ops.supervisor` (the child processes)
and :mod:`duban.ops.runs` (running deployments and waiting for their runs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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


def child_env(base: Mapping[str, str], *, server: bool = False) -> dict[str, str]:
    """The environment of a child: ``base`` minus what only the server may see."""
    env = dict(base)
    if not server:
        for key in SERVER_ONLY:
            env.pop(key, None)
    return env
