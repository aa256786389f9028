"""Promise: the command line answers odd input in Chinese, never with a
traceback, and never acts out of time.

A usage error — an unknown command or option, a missing option, a value of
the wrong type, a choice that is not offered, an id no database can hold —
is a Chinese message naming the option or argument, with exit status 2. No
action is taken at a moment (``--as-of``) before its task was assigned, and
a date the working-day calendar cannot reach (an extension to 9999) is
refused naming the year, without a server path, here and on the web.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from tests.conftest import CliRunner
from tests.db.conftest import World, seed_world, snapshot
from tests.web.conftest import csrf

HUGE = str(2**63)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["task", "ack", "abc", "-d", "市民政局"], "参数 TASK_ID 的值“abc”应为整数"),
        (
            ["tasks", "--light", "purple"],
            "选项 --light 的值“purple”应为 red、yellow、blue、late、green 之一",
        ),
        (["task", "ack", "1"], "缺少选项 --department/-d"),
        (["task", "show", HUGE], f"参数 TASK_ID 的值“{HUGE}”超出范围"),
        (["extension", "approve", "0"], "参数 EXTENSION_ID 的值“0”超出范围(应不小于 1)"),
        (["tasks", "--nosuch"], "没有选项 --nosuch"),
        (["nosuch"], "没有命令“nosuch”"),
        (["task", "ack", "1", "2", "-d", "x"], "多余的参数:2"),
        (["tasks", "--as-of"], "选项 --as-of 需要一个值"),
    ],
    ids=["not-an-integer", "not-a-choice", "missing-option", "huge-id", "zero-id",
         "unknown-option", "unknown-command", "extra-argument", "option-without-value"],
)
def test_a_usage_error_is_a_chinese_message_with_status_2(
    run_cli: CliRunner, args: list[str], message: str
) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr and "--help 查看用法" in result.stderr
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr


@pytest.fixture
def cli_world(
    migrated_url: str,
    cli_env: Callable[[str], None],
    session_factory: sessionmaker[Session],
    synced_directory: None,
) -> World:
    cli_env(migrated_url)
    return seed_world(session_factory)


def test_an_id_beyond_any_database_is_never_a_traceback(
    cli_world: World, run_cli: CliRunner
) -> None:
    for args in (["tasks", "--measure", HUGE, "--as-of", "2015-06-01"],
                 ["plan", "show", HUGE]):
        result = run_cli(*args)
        assert "Traceback" not in result.stderr, args
        assert result.exit_code in (0, 1, 2), args


def test_nothing_is_done_at_a_moment_before_the_task_was_assigned(
    cli_world: World, run_cli: CliRunner, session_factory: sessionmaker[Session]
) -> None:
    before = snapshot(session_factory)
    for args in (["task", "ack", str(cli_world.lead), "-d", "市卫计局"],
                 ["task", "report", str(cli_world.lead), "-d", "市卫计局", "--note", "进展"],
                 ["task", "approve", str(cli_world.lead)]):
        result = run_cli(*args, "--as-of", "2015-03-01")  # assigned 2015-03-02
        assert result.exit_code == 1, args
        assert "早于任务交办时间 2015-03-02" in result.stderr, result.stderr
    assert snapshot(session_factory) == before
    assert run_cli("task", "ack", str(cli_world.lead), "-d", "市卫计局",
                   "--as-of", "2015-03-02T10:00").exit_code == 0


def test_an_extension_to_9999_is_refused_naming_the_year_not_a_path(
    cli_world: World, run_cli: CliRunner, session_factory: sessionmaker[Session]
) -> None:
    before = snapshot(session_factory)
    result = run_cli("task", "extend", str(cli_world.lead), "-d", "市卫计局", "--to",
                     "9999-12-31", "--reason", "工程延期", "--as-of", "2015-06-01")
    assert result.exit_code == 1 and "9999年" in result.stderr
    assert "/" not in result.stderr.split("9999-12-31")[-1]
    assert snapshot(session_factory) == before


def test_the_web_refuses_it_the_same_way(
    client: TestClient, world: World, link: Callable[..., str], web_settings: Settings
) -> None:
    base = f"/d/{link(world.lead)}/tasks/{world.lead}"
    form = csrf(client, base)
    client.post(f"{base}/extend", data={"new_due": "9999-12-31", "reason": "工程延期",
                                        "csrf_token": form})
    page = client.get(base).text
    assert "工作日历尚无9999年的节假日安排" in page
    assert str(web_settings.data_dir) not in page and "DUBAN_CALENDAR_DIR" not in page
