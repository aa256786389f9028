"""The measure flow under a real Prefect API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.plans.files import parse_plan_file
from duban.services.plans.importer import import_plan
from models import Department, Task
from tests.paths import REFERENCE_PLAN

pytestmark = pytest.mark.prefect
ASSIGNED = datetime(2014, 9, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


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

    first = measure_flow(
        measure=8, plan=imported, title="推进城乡社会保障体系建设", as_of=ASSIGNED
    )
    assert len(first.created) == 24 and not first.existing
    again = measure_flow(
        measure=8, plan=imported, title="推进城乡社会保障体系建设", as_of=ASSIGNED
    )
    assert not again.created and len(again.existing) == 24
    assert len(tasks_of(session_factory)) == 24
    assert "措施8 推进城乡社会保障体系建设" in asyncio.run(_flow_run_names())


def test_crash_mid_flow_then_rerun_leaves_the_tasks_of_a_clean_run(
    prefect_api: str,
    imported: str,
    session_factory: sessionmaker[Session],
    migrated_url: str,
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "DUBAN_DATABASE_URL": migrated_url,
        "DUBAN_DATA_DIR": str(tmp_path / "data"),
    }
    command = [
        sys.executable,
        "-c",
        "from duban.cli import main; main()",
        "assign",
        "--measure",
        "8",
        "--as-of",
        "2014-09-01",
    ]
    crashed = subprocess.run(
        command,
        env={**env, "DUBAN_FAULT_CRASH_AFTER_TASKS": "5"},
        capture_output=True,
        text=True,
        timeout=300,
    )
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

    measure_flow(measure=8, plan=imported, title="推进城乡社会保障体系建设", as_of=ASSIGNED)
    assert tasks_of(session_factory) == after_crash


def test_lifecycle_extension_and_lights_after_a_real_flow_run(
    prefect_api: str, imported: str, session_factory: sessionmaker[Session]
) -> None:
    """Assign measure 10 through Prefect, then act on its tasks as departments and
    the coordinator would, checking status and lights as the plan is replayed."""
    from datetime import date

    from duban.domain.lifecycle import TransitionError
    from duban.domain.status import Light, TaskStatus
    from duban.services.calendar.data import build_work_calendar
    from duban.services.tasks import extensions, lifecycle
    from duban.services.tasks.queries import list_tasks
    from duban.timeutil import parse_as_of
    from flows.measure import measure_flow

    calendar = build_work_calendar([])
    measure_flow(measure=10, plan=imported, title="增强城乡基层群众自治活力", as_of=ASSIGNED)

    def views(on: str) -> dict[tuple[str, str], object]:
        return {
            (v.department, v.role): v
            for v in list_tasks(
                session_factory, as_of=date.fromisoformat(on), calendar=calendar, measure=10
            )
        }

    lead = views("2014-09-01")[("珠海市民政局", "lead")]
    district = views("2014-09-01")[("香洲区", "supporting")]
    assert lead.due == date(2015, 12, 31) and district.due == date(2015, 12, 17)
    at = lambda day: parse_as_of(day, "Asia/Shanghai")  # noqa: E731
    with pytest.raises(TransitionError):
        lifecycle.approve(
            lead.id, actor="督办科", now=at("2014-09-02"), session_factory=session_factory
        )
    lifecycle.acknowledge(
        lead.id, department="市民政局", now=at("2014-09-02"), session_factory=session_factory
    )
    lifecycle.report(
        lead.id,
        department="市民政局",
        note="直选试点推进中",
        values={"直选比例": 25, "规范达标率": 50},
        now=at("2014-10-09"),
        session_factory=session_factory,
    )
    request = extensions.request_extension(
        lead.id,
        department="市民政局",
        new_due=date(2016, 3, 31),
        reason="换届选举顺延",
        now=at("2015-12-01"),
        calendar=calendar,
        session_factory=session_factory,
    )
    extensions.approve_extension(
        request.extension_id, actor="督办科", now=at("2015-12-02"), session_factory=session_factory
    )
    lifecycle.submit(
        lead.id,
        department="市民政局",
        note="直选比例达42%",
        now=at("2016-03-01"),
        session_factory=session_factory,
    )
    lifecycle.approve(
        lead.id, actor="督办科", now=at("2016-03-02"), session_factory=session_factory
    )

    later = views("2016-01-04")
    assert later[("香洲区", "supporting")].light is Light.RED  # never acted on, overdue
    done = views("2016-03-10")[("珠海市民政局", "lead")]
    assert done.status is TaskStatus.DONE_AFTER_EXTENSION
    assert done.original_due == date(2015, 12, 31)
