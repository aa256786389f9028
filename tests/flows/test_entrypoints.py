"""Every prefect.yaml entrypoint loads as Prefect loads it (file path, not package)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.paths import ROOT

DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_entrypoint_loads(deployment: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(str(deployment["entrypoint"]))
    assert flow.name == deployment["name"]
    path = Path(str(deployment["entrypoint"]).split(":")[0])
    assert path.exists() and path.parent.name == "flows"


def test_sweep_runs_on_a_daily_morning_schedule_in_shanghai_time() -> None:
    sweep = next(d for d in DEPLOYMENTS if d["name"] == "sweep")
    [schedule] = sweep["schedules"]
    assert schedule["timezone"] == "Asia/Shanghai" and schedule["cron"].split()[1] == "9"
