"""Prefect's local API server does not outlive the duban process after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from duban.prefect_server import guard_ephemeral_server

PARENT = """
import subprocess, sys, time
from duban.prefect_server import watch_child
# Stands in for Prefect's server: its command line names uvicorn, as the real one's does.
server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "uvicorn"])
watch_child(server.pid)
print(server.pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[1].startswith("Z")  # exited, not yet reaped
    except OSError:
        return True


def test_the_server_stops_when_its_duban_process_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    server = int(parent.stdout.readline())
    assert not _gone(server)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(600):  # the watcher looks once a second
        if _gone(server):
            break
        time.sleep(0.1)
    else:
        os.kill(server, signal.SIGKILL)
        raise AssertionError("the server outlived its parent")


def test_the_cli_guards_prefects_ephemeral_server() -> None:
    from prefect.server.api.server import SubprocessASGIServer

    guard_ephemeral_server()
    guard_ephemeral_server()  # idempotent
    assert getattr(SubprocessASGIServer, "_duban_guarded", False)
