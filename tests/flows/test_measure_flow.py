"""The measure flow under a real Prefect API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.plan_files import parse_plan_file
from duban.services.plan_import import import_plan
from models import Department, Task
from tests.paths import REFERENCE_PLAN

pytestmark = pytest.mark.prefect


@pytest.fixture
def imported(
    session_factory: sessionmaker[Session],
    synced_directory: None,
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The reference plan imported; duban's settings point at the test database."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", migrated_url)
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    draft, text = parse_plan_file(REFERENCE_PLAN)
    return import_plan(draft, session_factory=session_factory, source_text=text).key


def tasks_of(session_factory: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with session_factory() as session:
        return sorted(
            session.execute(
                select(Department.name, Task.named_as, Task.role, Task.deadline, Task.due)
                .join(Department)
                .order_by(Task.id)
            ).all()
        )


async def _flow_run_names() -> list[str]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        runs = await client.read_flow_runs()
        return [run.name for run in runs]


def test_measure_flow_assigns_once_and_is_named_after_the_measure(
    prefect_api: str, imported: str, session_factory: sessionmaker[Session]
) -> None:
    from flows.measure import measure_flow

    first = measure_flow(measure=8, plan=imported, title="推进城乡社会保障体系建设",
                         as_of="2014-09-01")
    assert first["created"] == 24 and first["existing"] == 0
    again = measure_flow(measure=8, plan=imported, title="推进城乡社会保障体系建设",
                         as_of="2014-09-01")
    assert again["created"] == 0 and again["existing"] == 24
    assert len(tasks_of(session_factory)) == 24
    assert "措施8 推进城乡社会保障体系建设" in asyncio.run(_flow_run_names())


def test_crash_mid_flow_then_rerun_leaves_the_tasks_of_a_clean_run(
    prefect_api: str, imported: str, session_factory: sessionmaker[Session], migrated_url: str,
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "DUBAN_DATABASE_URL": migrated_url,
           "DUBAN_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-c", "from duban.cli import main; main()", "assign",
               "--measure", "8", "--as-of", "2014-09-01"]
    crashed = subprocess.run(command, env={**env, "DUBAN_FAULT_CRASH_AFTER_TASKS": "5"},
                             capture_output=True, text=True, timeout=300)
    assert crashed.returncode == 70, crashed.stderr
    assert len(tasks_of(session_factory)) == 5
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "新交办 19 项,已存在 5 项" in rerun.stdout
    after_crash = tasks_of(session_factory)

    # A clean run of the same measure on an empty task table.
    with session_factory.begin() as session:
        for task in session.scalars(select(Task)):
            session.delete(task)
    from flows.measure import measure_flow

    measure_flow(measure=8, plan=imported, title="推进城乡社会保障体系建设", as_of="2014-09-01")
    assert tasks_of(session_factory) == after_crash
