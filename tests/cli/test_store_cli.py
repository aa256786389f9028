"""``duban db upgrade``, ``org load`` and ``plan import|list|show`` on both backends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from duban.config import REFERENCE_PLAN_FILE
from duban.db import head_revision
from duban.services.plans.draft_io import write_draft
from tests.conftest import CliRunner
from tests.drafts import SAMPLE_DOC_NUMBER, SAMPLE_SOURCE, sample_draft, supporting

NOT_READY = "错误:数据库尚未初始化,请先运行 duban db upgrade"


@pytest.fixture
def ready(database_url: str, cli_env: Callable[[str], None], run_cli: CliRunner) -> CliRunner:
    """A CLI on an upgraded database with the built-in directory loaded."""
    cli_env(database_url)
    assert run_cli("db", "upgrade").exit_code == 0
    assert run_cli("org", "load").exit_code == 0
    return run_cli


@pytest.fixture
def draft_file(tmp_path: Path) -> Path:
    """The sample draft as YAML, with its source document beside it."""
    (tmp_path / "sample-plan.txt").write_text(SAMPLE_SOURCE, encoding="utf-8")
    path = tmp_path / "sample.yaml"
    write_draft(sample_draft(), path)
    return path


def test_db_upgrade_masks_the_password_and_prints_the_revision(
    backend: str, database_url: str, cli_env: Callable[[str], None], run_cli: CliRunner
) -> None:
    if backend == "postgresql":
        database_url = database_url.replace("postgres@", "postgres:s3cret@", 1)
    cli_env(database_url)
    for _ in range(2):
        result = run_cli("db", "upgrade")
        assert result.exit_code == 0, result.stderr
        assert f"结构版本:{head_revision()}" in result.stdout
    assert "s3cret" not in result.stdout
    if backend == "postgresql":
        assert "postgres:***@127.0.0.1" in result.stdout


def test_commands_refuse_a_database_without_schema(
    database_url: str, cli_env: Callable[[str], None], run_cli: CliRunner, draft_file: Path
) -> None:
    cli_env(database_url)
    for args in (("plan", "import", str(draft_file)), ("plan", "list"), ("org", "load")):
        result = run_cli(*args)
        assert result.exit_code == 1
        assert NOT_READY in result.stderr


def test_org_load_reports_counts_and_is_repeatable(
    database_url: str, cli_env: Callable[[str], None], run_cli: CliRunner, tmp_path: Path
) -> None:
    cli_env(database_url)
    run_cli("db", "upgrade")
    first = run_cli("org", "load")
    assert first.exit_code == 0, first.stderr
    assert "共 40 个单位:新增 40 个,更新 0 个,未变 0 个。" in first.stdout
    second = run_cli("org", "load")
    assert "无变化:40 个单位与数据库一致。" in second.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("departments:\n  - {name: 甲局\n", encoding="utf-8")
    result = run_cli("org", "load", str(bad))
    assert result.exit_code == 1
    assert f"错误:{bad} 第3行:YAML 格式错误" in result.stderr


def test_import_a_draft_then_list_and_show(ready: CliRunner, draft_file: Path) -> None:
    result = ready("plan", "import", str(draft_file))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("已导入:《关于加强社会建设的工作方案(测试)》")
    assert "3 项措施、7 条责任分工、2 个目标" in result.stdout

    again = ready("plan", "import", str(draft_file))
    assert again.stdout.startswith("无变化")

    listing = ready("plan", "list")
    assert SAMPLE_DOC_NUMBER in listing.stdout and "关于加强社会建设的工作方案" in listing.stdout
    [summary] = json.loads(ready("plan", "list", "--json").stdout)
    assert (summary["key"], summary["measure_count"], summary["responsibility_count"]) == (
        SAMPLE_DOC_NUMBER,
        3,
        7,
    )

    table = ready("plan", "show").stdout
    assert "共 3 项措施" in table
    row = next(line for line in table.splitlines() if line.startswith("2 "))
    assert "市卫计局" in row and "市财政局" in row and row.rstrip().endswith("1")

    detail = ready("plan", "show", "2", "--plan", SAMPLE_DOC_NUMBER)
    assert detail.exit_code == 0, detail.stderr
    assert "牵头单位:市卫计局(即 珠海市卫生和计划生育局)" in detail.stdout
    assert "期限 2015-12-31(到2015年);指标 家庭医生签约率 ≥ 75%;第7行" in detail.stdout
    assert "原文(第7行):" in detail.stdout  # the source beside the draft was stored

    data = json.loads(ready("plan", "show", "1", "--json").stdout)
    assert [r["collective"] for r in data["measures"][0]["supporting"]] == [False, True]


def test_import_reports_what_changed_and_dry_run_writes_nothing(
    ready: CliRunner, draft_file: Path, tmp_path: Path
) -> None:
    ready("plan", "import", str(draft_file))
    changed = sample_draft()
    changed.measures[1].responsibilities.append(supporting("市人社局", 7))
    changed_file = tmp_path / "changed.yaml"
    write_draft(changed, changed_file)

    trial = ready("plan", "import", str(changed_file), "--dry-run", "--json")
    assert trial.exit_code == 0, trial.stderr
    report = json.loads(trial.stdout)
    assert (report["status"], report["dry_run"]) == ("updated", True)
    assert report["measures_changed"][0]["changes"] == [
        {"field": "supporting", "old": ["市财政局"], "new": ["市财政局", "市人社局"]}
    ]

    real = ready("plan", "import", str(changed_file))
    assert real.stdout.startswith("已更新")
    assert "配合单位:市财政局 → 市财政局;市人社局" in real.stdout
    assert ready("plan", "import", str(changed_file)).stdout.startswith("无变化")


def test_unknown_departments_fail_with_every_name(ready: CliRunner, tmp_path: Path) -> None:
    draft = sample_draft()
    draft.measures[0].responsibilities.append(supporting("市不存在局", 6))
    path = tmp_path / "unknown.yaml"
    write_draft(draft, path)

    result = ready("plan", "import", str(path))
    assert result.exit_code == 1
    assert "市不存在局(第1项措施第6行)" in result.stderr
    assert ready("plan", "list").stdout.strip() == "还没有导入任何工作方案。"

    created = ready("plan", "import", str(path), "--create-unknown")
    assert created.exit_code == 0, created.stderr
    assert "已新建 1 个单位(类型:市直部门):市不存在局" in created.stdout


def test_import_the_reference_plan_document(ready: CliRunner) -> None:
    result = ready("plan", "import", str(REFERENCE_PLAN_FILE))
    assert result.exit_code == 0, result.stderr
    assert "30 项措施" in result.stdout
    detail = ready("plan", "show", "8")
    assert "各区(全部区,交办时展开)" in detail.stdout
    assert ready("plan", "show", "99").stderr.startswith("错误:")


def test_an_import_from_the_command_line_is_audited_like_one_from_the_web(
    ready: CliRunner, draft_file: Path, database_url: str
) -> None:
    from duban.db import engine_for_url, make_session_factory
    from duban.services.desk.audit import audit_entries

    assert ready("plan", "import", str(draft_file), "--dry-run").exit_code == 0
    assert ready("plan", "import", str(draft_file)).exit_code == 0
    assert ready("plan", "import", str(draft_file)).stdout.startswith("无变化")

    engine = engine_for_url(database_url)
    try:
        entries = audit_entries(make_session_factory(engine))
    finally:
        engine.dispose()
    # the import that wrote the plan; the dry run and the unchanged import wrote nothing
    assert [(e.action, e.actor, e.subject) for e in entries] == [
        ("import_plan", "命令行", SAMPLE_DOC_NUMBER)
    ]
    assert entries[0].data["status"] == "created"
