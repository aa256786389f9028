"""The daily sweep as a Prefect flow: measure flows for the measures with due
work, then delivery through the real send path to a loopback SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from duban.ops.mail_sink import MailSink
from duban.services.accounts.org_file import load_org_file, sync_org
from duban.services.calendar.data import build_work_calendar
from duban.services.plans.assignment import assign_measure
from duban.services.plans.files import parse_plan_file
from duban.services.plans.importer import import_plan
from tests.conftest import CliRunner
from tests.paths import REFERENCE_PLAN

pytestmark = pytest.mark.prefect
ZONE = ZoneInfo("Asia/Shanghai")


async def _run_names() -> list[str]:
    """Names of the flow runs and task runs Prefect recorded."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        flows = [run.name for run in await client.read_flow_runs()]
        for _ in range(50):  # task runs are recorded from events, a moment later
            tasks = [run.name for run in await client.read_task_runs()]
            if any(name.startswith("措施10 ") for name in tasks):
                break
            await asyncio.sleep(0.2)
        return flows + tasks


def test_sweep_flow_hands_due_measures_to_their_flows_and_delivers(
    prefect_api: str,
    session_factory: sessionmaker[Session],
    synced_directory: None,
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", migrated_url)
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    draft, text = parse_plan_file(REFERENCE_PLAN)
    key = import_plan(draft, session_factory=session_factory, source_text=text).key
    with MailSink() as sink:
        org = {
            "departments": [
                {
                    "name": "珠海市民政局",
                    "aliases": ["市民政局"],
                    "kind": "department",
                    "liaison": [{"name": "民政联络员", "notify": [sink.url("mz@example.gov.cn")]}],
                    "head": [{"name": "民政负责人", "notify": [sink.url("mzh@example.gov.cn")]}],
                }
            ]
        }
        path = tmp_path / "org.yaml"
        path.write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
        sync_org(
            load_org_file(path),
            session_factory=session_factory,
            now=datetime(2015, 8, 1, tzinfo=UTC),
        )
        assign_measure(
            session_factory,
            plan=key,
            measure=10,
            now=datetime(2015, 9, 1, 9, tzinfo=ZONE).astimezone(UTC),
            calendar=build_work_calendar([]),
        )
        from flows.sweep import sweep_flow

        first = sweep_flow(as_of=datetime(2015, 9, 1, 9, 30, tzinfo=ZONE))
        assert first.measures.numbers == [10] and first.round.delivery.sent == 1
        assert [str(m["To"]) for m in sink.messages] == ["mz@example.gov.cn"]
        urge = sweep_flow(as_of=datetime(2016, 1, 4, 9, 30, tzinfo=ZONE))
        assert urge.measures.numbers == [10]
        heads = [m for m in sink.messages if str(m["To"]) == "mzh@example.gov.cn"]
        assert len(heads) == 1 and "催办" in str(heads[0]["Subject"])
        quiet = sweep_flow(as_of=datetime(2016, 1, 4, 10, 30, tzinfo=ZONE))
        assert quiet.measures.numbers == [] and quiet.round.delivery.sent == 0
    names = asyncio.run(_run_names())
    assert "每日督办 2016-01-04T09:30" in names
    assert any(name.startswith("措施10 ") for name in names)


def test_duban_sweep_and_replay_commands(
    prefect_api: str,
    session_factory: sessionmaker[Session],
    synced_directory: None,
    migrated_url: str,
    cli_env: Callable[[str], None],
    run_cli: CliRunner,
) -> None:
    import json

    cli_env(migrated_url)
    draft, text = parse_plan_file(REFERENCE_PLAN)
    import_plan(draft, session_factory=session_factory, source_text=text)
    result = run_cli("assign", "--measure", "10", "--as-of", "2015-09-01")
    assert result.exit_code == 0, result.stderr
    swept = run_cli("sweep", "--as-of", "2015-09-01T09:30", "--json")
    assert swept.exit_code == 0, swept.stderr
    assert json.loads(swept.stdout)["measures"] == [10]
    replayed = run_cli("replay", "--from", "2015-09-02", "--to", "2016-01-20", "--quiet")
    assert replayed.exit_code == 0, replayed.stderr
    assert "回放 2015-09-02 至 2016-01-20" in replayed.stdout
    log = run_cli("escalations", "--json", "--level", "3")
    entries = json.loads(log.stdout)
    assert entries and {e["step"] for e in entries} == {"escalate_red"}
    assert all(
        {"task", "measure", "department", "step", "level", "at", "recipients", "delivered"}
        <= e.keys()
        for e in entries
    )
    failed = run_cli("deliveries", "--status", "failed", "--json")
    assert failed.exit_code == 0 and json.loads(failed.stdout) == []
    bad = run_cli("escalations", "--department", "市外星办")
    assert bad.exit_code == 1 and "错误" in bad.stderr
