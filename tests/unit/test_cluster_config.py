"""The production profile's checks before anything starts: clear errors, no
password in them, children's environments without the server's database URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from duban.ops.cluster import PREFECT_DB_VARIABLE, ClusterError, ClusterPlan, child_env
from duban.ops.databases import check_databases
from duban.ops.supervisor import Supervisor
from tests.conftest import CliRunner

DUBAN = "postgresql+psycopg://duban:s3cret@db.example:5432/duban"
PREFECT = "postgresql+asyncpg://prefect:s3cret@db.example:5432/prefect"


@pytest.mark.parametrize(
    ("duban", "prefect", "message"),
    [
        (DUBAN, "", f"未设置 {PREFECT_DB_VARIABLE}"),
        ("sqlite:////tmp/duban.db", PREFECT, "DUBAN_DATABASE_URL 不是 PostgreSQL"),
        (DUBAN, "sqlite+aiosqlite:////tmp/prefect.db", f"{PREFECT_DB_VARIABLE} 不是 PostgreSQL"),
        (DUBAN, "postgresql+psycopg://p:s3cret@db.example/prefect", "asyncpg"),
        (DUBAN, "postgresql+asyncpg://p:s3cret@db.example:5432/duban", "同一个数据库"),
    ],
)
def test_refused_configurations_say_why_without_the_password(
    duban: str, prefect: str, message: str
) -> None:
    with pytest.raises(ClusterError) as caught:
        check_databases(duban, prefect)
    assert message in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_separate_postgresql_databases_are_accepted() -> None:
    check_databases(DUBAN, PREFECT)


def test_only_the_server_sees_its_database_url(tmp_path: Path) -> None:
    plan = ClusterPlan(duban_url=DUBAN, prefect_url=PREFECT, home=tmp_path, workers=2)
    supervisor = Supervisor(plan, {"PATH": "/usr/bin"})
    assert supervisor.server.env[PREFECT_DB_VARIABLE] == PREFECT
    for child in [*supervisor.workers, supervisor.web]:
        assert PREFECT_DB_VARIABLE not in child.env
        assert child.env["DUBAN_DATABASE_URL"] == DUBAN
        assert child.env["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"
    assert [w.name for w in supervisor.workers] == ["worker-1", "worker-2"]
    assert "--limit" in supervisor.workers[0].argv
    assert child_env({PREFECT_DB_VARIABLE: PREFECT, "X": "1"}) == {"X": "1"}
    assert "s3cret" not in str(supervisor.status())


def test_deploy_needs_a_prefect_server(
    monkeypatch: pytest.MonkeyPatch, run_cli: CliRunner
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = run_cli("deploy")
    assert result.exit_code == 1 and "未设置 PREFECT_API_URL" in result.stderr


def test_cluster_status_reads_the_supervisors_status_file(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    missing = run_cli("cluster", "status", "--home", str(tmp_path / "none"))
    assert missing.exit_code == 1 and "没有运行中的生产配置状态文件" in missing.stderr
    plan = ClusterPlan(duban_url=DUBAN, prefect_url=PREFECT, home=tmp_path, workers=1)
    Supervisor(plan, {"PATH": "/usr/bin"}).write_status()  # nothing started yet
    shown = run_cli("cluster", "status", "--home", str(tmp_path))
    assert shown.exit_code == 0, shown.stderr
    assert "Prefect 服务器:http://127.0.0.1:4200/api" in shown.stdout
    assert "worker-1:已停止" in shown.stdout and "s3cret" not in shown.stdout
