"""``duban plan import`` of a changed plan says what will happen to the tasks, and
``duban assign`` (the measure flows) prints, in Chinese, what it cancelled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CliRunner
from tests.db.test_changed_plans import AFTER, BEFORE

pytestmark = pytest.mark.prefect


def test_the_import_names_each_tasks_fate_and_assign_prints_the_cancelled(
    prefect_api: str,
    session_factory: sessionmaker[Session],
    synced_directory: None,
    migrated_url: str,
    cli_env: Callable[[str], None],
    run_cli: CliRunner,
    tmp_path: Path,
) -> None:
    cli_env(migrated_url)
    plan = tmp_path / "plan.txt"
    plan.write_text(BEFORE, encoding="utf-8")
    assert run_cli("plan", "import", str(plan)).exit_code == 0
    first = run_cli("assign", "--as-of", "2015-03-02")
    assert first.exit_code == 0, first.stderr
    assert "撤销" not in first.stdout

    plan.write_text(AFTER, encoding="utf-8")
    preview = run_cli("plan", "import", str(plan), "--dry-run")
    assert preview.exit_code == 0, preview.stderr
    assert "对已交办任务的影响" in preview.stdout
    assert "中共珠海市委社会工作部(牵头,期限 2015-06-30,已交办):撤销,由新任务接替" in (
        preview.stdout
    )
    assert run_cli("plan", "import", str(plan)).exit_code == 0

    second = run_cli("assign", "--as-of", "2015-04-13")
    assert second.exit_code == 0, second.stderr
    assert "措施1 推进网格化管理:新交办 1 项,已存在 0 项,撤销 2 项" in second.stdout
    assert "改由珠海市民政局承担,由 任务#" in second.stdout
    assert "撤销 4 项(方案已不再包含,已通知相关单位)" in second.stdout
