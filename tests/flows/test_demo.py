"""``duban demo --no-serve`` end to end on a fresh data folder, then again:
the second run changes nothing and starts no measure flow."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.conftest import CliRunner

pytestmark = pytest.mark.prefect

PHASES = [
    "1/6 数据库", "2/6 机构目录与联系人", "3/6 导入参考方案", "4/6 交办", "5/6 提醒与督办回放",
    "6/6 督办记录",
]


async def _flow_runs() -> int:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return len(await client.read_flow_runs())


def test_the_demo_runs_every_phase_and_a_second_run_changes_nothing(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: CliRunner
) -> None:
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    args = ("demo", "--no-serve", "--until", "2014-10-31")

    first = run_cli(*args)
    assert first.exit_code == 0, first.stderr
    for phase in PHASES:
        assert f"== {phase}" in first.stdout
    assigned = re.search(r"合计:新交办 (\d+) 项任务,已存在 0 项", first.stdout)
    assert assigned and int(assigned.group(1)) > 100, first.stdout
    assert "邮件服务共收到" in first.stdout
    runs = asyncio.run(_flow_runs())

    second = run_cli(*args)
    assert second.exit_code == 0, second.stderr
    for phase in PHASES:
        assert f"== {phase}" in second.stdout
    assert re.search(r"\d+ 项措施已交办且方案未变,不再运行流程", second.stdout), second.stdout
    assert "合计:新交办" not in second.stdout  # no measure flow ran
    assert "本次没有新消息" in second.stdout
    assert "无变化:" in second.stdout and "联系人:无变化" in second.stdout
    assert asyncio.run(_flow_runs()) == runs
