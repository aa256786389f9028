"""Prefect's local API server must not outlive the duban process that started it.

Without a Prefect API URL, a flow run started by the CLI (``duban sweep``,
``duban assign``, ``duban report``) starts Prefect's ephemeral API server as a
child process (``uvicorn``, ~190 MB) and stops it at exit. Killed with
``kill -9``, the duban process cannot stop it: it ran on for good.

:func:`guard_ephemeral_server` makes every such server start with a watcher: a
tiny process that polls whether its parent (the duban process) is still its
parent and, once it is not, stops the server (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

_WATCH = """
import os, signal, sys, time
parent, server = int(sys.argv[1]), int(sys.argv[2])

def alive():
    try:
        with open(f"/proc/{server}/cmdline", "rb") as f:
            return b"uvicorn" in f.read()  # not a process that took its pid since
    except OSError:
        try:
            os.kill(server, 0)
        except OSError:
            return False
        return True

while os.getppid() == parent:
    if not alive():
        sys.exit(0)
    time.sleep(1)
for sig, wait in ((signal.SIGTERM, 50), (signal.SIGKILL, 0)):
    if not alive():
        sys.exit(0)
    try:
        os.kill(server, sig)
    except OSError:
        sys.exit(0)
    for _ in range(wait):
        time.sleep(0.1)
        if not alive():
            sys.exit(0)
"""


def watch_child(pid: int) -> subprocess.Popen[bytes]:
    """Start the watcher that stops process ``pid`` (a ``uvicorn`` server)
    once this process is gone; returns it (it ends on its own)."""
    return subprocess.Popen(
        [sys.executable, "-c", _WATCH, str(os.getpid()), str(pid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
    )


def guard_ephemeral_server() -> None:
    """Give every Prefect ephemeral API server this process starts a watcher
    (see the module doc); idempotent."""
    from prefect.server.api import server as prefect_server

    cls: Any = prefect_server.SubprocessASGIServer
    if getattr(cls, "_duban_guarded", False):
        return
    original = cls._run_uvicorn_command

    def run_uvicorn_command(self: Any) -> Any:
        process = original(self)
        watch_child(process.pid)
        return process

    cls._run_uvicorn_command = run_uvicorn_command
    cls._duban_guarded = True
