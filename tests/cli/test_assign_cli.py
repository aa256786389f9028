"""``duban assign`` refuses what it cannot assign before any flow runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Task
from tests.conftest import CliRunner

PLAN_2031 = (
    "关于推进某项工作的实施方案\n一、总体\n"
    "1.甲工作。到2031年,覆盖率达到90%。(市民政局牵头,各区配合)\n"
)


def test_a_year_the_calendar_does_not_know_is_an_error_and_nothing_is_assigned(
    tmp_path: Path, migrated_url: str, cli_env: Callable[[str], None], run_cli: CliRunner,
    session_factory: sessionmaker[Session], synced_directory: None,
) -> None:
    cli_env(migrated_url)
    plan = tmp_path / "plan.txt"
    plan.write_text(PLAN_2031, encoding="utf-8")
    assert run_cli("plan", "import", str(plan)).exit_code == 0
    result = run_cli("assign")
    assert result.exit_code == 1
    assert "日历不含2031年" in result.stderr and "2031.yaml" in result.stderr
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 0
    status = run_cli("calendar", "status")
    assert status.exit_code == 0, status.stderr
    assert "2031年尚未公布:1 项措施的完成时限在该年,导入该年日历后才能交办" in status.stdout


def test_unknown_plan_or_measure_is_named(
    migrated_url: str, cli_env: Callable[[str], None], run_cli: CliRunner
) -> None:
    cli_env(migrated_url)
    missing = run_cli("assign", "--plan", "不存在的方案")
    assert missing.exit_code == 1 and "不存在的方案" in missing.stderr
