"""A database that cannot be reached is a Chinese message naming it (without
its password) and what to check, exit 1, never a traceback."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import CliRunner
from tests.notifications.conftest import find_free_port


def test_a_database_nobody_answers_at_is_named_without_its_password(
    cli_env: Callable[[str], None], run_cli: CliRunner
) -> None:
    port = find_free_port()  # nothing listens there
    cli_env(f"postgresql+psycopg://duban:s3cret-pw@127.0.0.1:{port}/duban")
    result = run_cli("deliveries")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"错误:无法使用数据库 postgresql+psycopg://duban:***@127.0.0.1:{port}/duban")
    assert "数据库服务是否在运行" in result.stderr and "DUBAN_DATABASE_URL" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
