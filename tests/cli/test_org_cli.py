"""``duban org load|show`` and ``duban policy show|apply`` on both backends.

The example file's addresses hold the placeholder password ``password`` and a
placeholder bot key: neither may ever appear in what the commands print.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from duban.config import PACKAGE_DIR
from tests.conftest import CliRunner
from tests.db.conftest import World, seed_world

EXAMPLE = PACKAGE_DIR / "data" / "org" / "example.yaml"
SECRETS = ("password", "00000000-placeholder-bot-key")


def ok(run_cli: CliRunner, *args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout and secret not in result.stderr
    return result.stdout


@pytest.fixture
def cli(database_url: str, cli_env: Callable[[str], None], run_cli: CliRunner) -> CliRunner:
    """A CLI on an upgraded, empty database."""
    cli_env(database_url)
    assert run_cli("db", "upgrade").exit_code == 0
    return run_cli


def test_org_load_the_example_then_nothing_changes(cli: CliRunner) -> None:
    first = ok(cli, "org", "load", str(EXAMPLE))
    assert "共 4 个单位:新增 4 个,更新 0 个,未变 0 个。" in first
    assert "联系人:共 5 人、通知地址 6 个;新增 5 人,更新 0 人,停用 0 人" in first
    assert "办公时间:09:00-18:00(Asia/Shanghai);任务链接:http://127.0.0.1:8000(已更新)。" in first
    assert "督办规则:“默认督办规则”(编号 1,9 步):新版本,已设为当前。" in first

    second = ok(cli, "org", "load", str(EXAMPLE))
    assert "无变化:4 个单位与数据库一致。" in second
    assert "联系人:无变化(5 人、通知地址 6 个)。" in second
    assert "(无变化)" in second and "督办规则:“默认督办规则”(编号 1,9 步):无变化。" in second


def test_org_show_lists_contacts_in_privacy_form_only(cli: CliRunner) -> None:
    ok(cli, "org", "load", str(EXAMPLE))
    text = ok(cli, "org", "show")
    assert "时区:Asia/Shanghai  办公时间:09:00-18:00  任务链接:http://127.0.0.1:8000" in text
    aliases = "市卫计局、市卫生和计划生育局、市卫生计生局"
    assert f"  珠海市卫生和计划生育局(市直部门;别名:{aliases})" in text
    assert "    联络员 张联络:mailto://liaison:****@mail.example.gov.cn/" in text
    assert "dubanwecom://0...y/" in text
    assert "  督办人员 督办科:mailto://duban:****@" in text
    assert "未配置联络员的单位(2 个,收不到通知):香洲区、横琴新区" in text
    assert "  7. 催办 [催办] 逾期 1 个工作日 → 联络员、负责人" in text

    data = json.loads(ok(cli, "org", "show", "--json"))
    assert (data["timezone"], data["office_hours"]) == ("Asia/Shanghai", "09:00-18:00")
    health = data["departments"][0]
    assert [c["name"] for c in health["liaison"]] == ["张联络"]
    assert len(health["liaison"][0]["notify"]) == 2 and health["head"][0]["name"] == "李局长"
    assert data["policy"]["id"] == 1 and len(data["policy"]["steps"]) == 9


def test_an_invalid_address_exits_1_names_the_entry_and_stores_nothing(
    cli: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "org.yaml"
    bad.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace(
            "dubanwecom://00000000-placeholder-bot-key", "nosuch://00000000-placeholder-bot-key"
        ),
        encoding="utf-8",
    )
    result = cli("org", "load", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"错误:{bad} departments 第1个单位“珠海市卫生和计划生育局” liaison 第1人“张联络”:"
        "notify 第2个地址无效(nosuch://***)"
    )
    for secret in SECRETS:
        assert secret not in result.stderr
    data = json.loads(ok(cli, "org", "show", "--json"))
    assert data["departments"] == [] and data["coordinators"] == []
    assert data["policy"]["id"] is None


def test_a_plain_directory_file_still_loads_and_deactivates_contacts(cli: CliRunner) -> None:
    ok(cli, "org", "load", str(EXAMPLE))
    out = ok(cli, "org", "load")
    assert "共 40 个单位:新增 36 个,更新 1 个,未变 3 个。" in out
    assert "停用 5 人" in out and "已停用(不在文件中):全市/督办人员/督办科" in out
    assert "任务链接:未设置(已更新)" in out
    data = json.loads(ok(cli, "org", "show", "--json"))
    assert all(not d["liaison"] for d in data["departments"])


@pytest.fixture
def world(
    migrated_url: str,
    cli_env: Callable[[str], None],
    session_factory: sessionmaker[Session],
    synced_directory: None,
) -> World:
    cli_env(migrated_url)
    return seed_world(session_factory)


def test_policy_show_and_apply(world: World, run_cli: CliRunner, tmp_path: Path) -> None:
    shown = ok(run_cli, "policy", "show")
    assert "督办规则:“默认督办规则”(内置默认,尚未载入" in shown
    refused = run_cli("policy", "apply")
    assert refused.exit_code == 1 and "尚未载入督办规则" in refused.stderr

    strict = tmp_path / "strict.yaml"
    strict.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        .replace("name: 默认督办规则", "name: 从严督办规则")
        .replace("workdays: 10, level: 3", "workdays: 3, level: 3"),
        encoding="utf-8",
    )
    loaded = ok(run_cli, "org", "load", str(strict))
    assert "“从严督办规则”(编号 1,9 步):新版本" in loaded
    assert "有 5 项未办结任务仍按交办时的规则办理" in loaded

    applied = ok(run_cli, "policy", "apply", "--measure", "9", "--as-of", "2015-10-08")
    assert "已让 1 项未办结任务改按督办规则“从严督办规则”(编号 1)办理" in applied
    everything = ok(run_cli, "policy", "apply", "--as-of", "2015-10-08")
    assert "已让 4 项" in everything and "另有 1 项原已按此规则办理" in everything
    again = ok(run_cli, "policy", "apply")
    assert "无变化:范围内 5 项未办结任务均已按" in again

    shown = ok(run_cli, "policy", "show")
    assert "督办规则:“从严督办规则”(编号 1)" in shown
    assert "  9. 督办(红色督办单,约谈) [红色督办] 逾期 3 个工作日 → 督查室" in shown
    assert "进度报送:每季度,期末后 5 个工作日内报送" in shown

    ok(run_cli, "org", "load", str(EXAMPLE))  # back to the default: a second version
    stale = ok(run_cli, "policy", "show")
    assert "编号 1 “从严督办规则”" in stale and "5 项" in stale
    assert "有 5 项未办结任务未按当前规则办理" in stale
    data = json.loads(ok(run_cli, "policy", "show", "--json"))
    assert data["id"] == 2 and [v["open_tasks"] for v in data["versions"]] == [5, 0]
