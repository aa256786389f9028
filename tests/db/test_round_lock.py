"""One round at a time per database, on SQLite and PostgreSQL.

A second process that runs rounds finds the lock held and says who holds it
(or waits for it); replays run on purpose by several workers share it; the
lock goes with its holder, even after ``kill -9``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.services.ladder.round_lock import RoundBusyError, round_lock
from duban.web.scheduler import Scheduler
from duban.wiring import AppContext
from tests.conftest import CliRunner

HOLD = """
import sys, time
from duban.db import engine_for_url, make_session_factory
from duban.services.ladder.round_lock import round_lock
factory = make_session_factory(engine_for_url(sys.argv[1]))
with round_lock(factory, holder="test-holder", shared=sys.argv[2] == "shared"):
    print("held", flush=True)
    time.sleep(600)
"""


@contextmanager
def held_elsewhere(url: str, mode: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the round lock of ``url`` until killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, mode], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()


def test_a_second_process_is_told_who_runs_rounds_and_the_lock_goes_with_its_holder(
    session_factory: sessionmaker[Session], migrated_url: str
) -> None:
    with held_elsewhere(migrated_url, "exclusive") as holder:
        for shared in (False, True):
            with (
                pytest.raises(RoundBusyError, match=r"另一个督办进程正在运行\(test-holder"),
                round_lock(session_factory, holder="duban replay", shared=shared),
            ):
                pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        # Dropped with the process (PostgreSQL: with its connection).
        with round_lock(session_factory, holder="duban replay", wait=120):
            with round_lock(session_factory, holder="replay flow", shared=True):
                pass  # taken again in the same process: nothing to wait for


def test_replays_in_step_share_the_lock_but_not_with_a_process_of_its_own(
    session_factory: sessionmaker[Session], migrated_url: str
) -> None:
    with held_elsewhere(migrated_url, "shared"):
        with round_lock(session_factory, holder="replay flow", shared=True):
            pass
        with (
            pytest.raises(RoundBusyError),
            round_lock(session_factory, holder="duban sweep"),
        ):
            pass


def test_duban_replay_beside_another_round_says_so_and_exits_1(
    migrated_url: str, cli_env: Callable[[str], None], run_cli: CliRunner
) -> None:
    cli_env(migrated_url)
    with held_elsewhere(migrated_url, "exclusive"):
        result = run_cli("replay", "--from", "2015-09-01", "--to", "2015-09-30")
    assert result.exit_code == 1
    assert "错误:另一个督办进程正在运行(test-holder" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_serve_scheduler_skips_its_round_while_another_process_runs_one(
    migrated_url: str, tmp_path: Path
) -> None:
    context = AppContext(Settings(database_url=migrated_url, data_dir=tmp_path / "data"))
    monday = datetime(2015, 9, 7, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    scheduler = Scheduler(context, lambda: monday, poll=60)
    with held_elsewhere(migrated_url, "exclusive"):
        assert scheduler.step() <= 60  # looks again within the poll interval
        assert scheduler.rounds == 0
    scheduler.step()
    assert scheduler.rounds == 1  # the day's round, once the other is done
