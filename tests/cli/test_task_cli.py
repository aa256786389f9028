"""``duban tasks``, ``duban task …`` and ``duban extension …`` on both backends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CliRunner
from tests.db.conftest import (
    DOCTORS,
    HEALTH,
    REIMBURSEMENT,
    World,
    seed_world,
    snapshot,
)

LISTED_KEYS = {
    "id", "measure", "department", "named_as", "role", "due", "original_due", "status",
    "light", "state", "deadline", "measure_title",
}


@pytest.fixture
def world(
    migrated_url: str,
    cli_env: Callable[[str], None],
    session_factory: sessionmaker[Session],
    synced_directory: None,
) -> World:
    """The seeded world, in the database the CLI uses."""
    cli_env(migrated_url)
    return seed_world(session_factory)


def listed(run_cli: CliRunner, *args: str) -> list[dict[str, object]]:
    result = run_cli("tasks", "--json", *args)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def ok(run_cli: CliRunner, *args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_tasks_json_has_the_documented_shape(world: World, run_cli: CliRunner) -> None:
    rows = listed(run_cli, "--as-of", "2015-12-21")
    assert [r["id"] for r in rows] == [
        world.lead, world.support, world.district, world.later, world.single]
    for row in rows:
        assert row.keys() >= LISTED_KEYS
    by_id = {r["id"]: r for r in rows}
    assert by_id[world.district] | {} == by_id[world.district] | {
        "measure": 8, "department": "香洲区", "named_as": "各区", "role": "supporting",
        "due": "2015-12-17", "original_due": "2015-12-17", "deadline": "2015-12-31",
        "status": "overdue", "light": "red", "state": "assigned",
        "measure_title": "保障和改善民生",
    }
    lead = by_id[world.lead]
    assert (lead["department"], lead["named_as"], lead["role"]) == (HEALTH, "市卫计局", "lead")
    assert (lead["status"], lead["light"], lead["due"]) == ("due_soon", "yellow", "2015-12-31")


def test_tasks_filters(world: World, run_cli: CliRunner) -> None:
    def ids(*args: str) -> set[object]:
        return {r["id"] for r in listed(run_cli, "--as-of", "2016-01-05", *args)}

    assert ids("--department", "市卫计局") == {world.lead, world.later}
    assert ids("--department", "各区") == {world.district}
    assert ids("--measure", "9") == {world.single}
    assert ids("--plan", world.plan_key, "--measure", "8") == {
        world.lead, world.support, world.district, world.later}
    assert ids("--light", "red") == ids("--overdue") == {
        world.lead, world.support, world.district, world.single}
    assert ids("--light", "green") == set()
    assert ids("--department", "市人社局", "--light", "red") == {world.single}


def test_tasks_text_output_counts_lights(world: World, run_cli: CliRunner) -> None:
    out = ok(run_cli, "tasks", "--as-of", "2016-01-05")
    assert "截至 2016-01-05:共 5 项任务,红灯 4、黄灯 1、蓝灯 0、逾期办结 0、绿灯 0" in out
    assert "香洲区(各区)" in out and "已逾期2个工作日" in out


def test_the_lifecycle_through_the_cli(world: World, run_cli: CliRunner) -> None:
    tid = str(world.single)
    out = ok(run_cli, "task", "ack", tid, "--department", "市人社局", "--actor", "王五",
             "--as-of", "2015-03-03")
    assert f"签收成功:任务 #{tid}(已交办 → 已签收)" in out
    out = ok(run_cli, "task", "report", tid, "-d", "市人社局", "--note", "一季度进展",
             "--value", "19", "--as-of", "2015-04-03")
    assert f"指标:{DOCTORS} 19" in out
    ok(run_cli, "task", "submit", tid, "-d", "市人社局", "--note", "已完成,附名册",
       "--as-of", "2015-12-28T16:30")
    ok(run_cli, "task", "return", tid, "--reason", "缺名册", "--actor", "李四",
       "--as-of", "2015-12-29")
    ok(run_cli, "task", "submit", tid, "-d", "市人社局", "--note", "补交名册",
       "--as-of", "2015-12-30")
    out = ok(run_cli, "task", "approve", tid, "--as-of", "2015-12-31")
    assert "(已报结 → 已办结)" in out

    detail = json.loads(ok(run_cli, "task", "show", tid, "--json", "--as-of", "2016-01-05"))
    assert (detail["status"], detail["light"], detail["state"]) == (
        "done_on_time", "green", "approved")
    assert [(e["action"], e["actor"]) for e in detail["events"]] == [
        ("assign", "系统"),
        ("acknowledge", "珠海市人力资源和社会保障局(王五)"),
        ("report", "珠海市人力资源和社会保障局"),
        ("submit", "珠海市人力资源和社会保障局"),
        ("return", "李四"),
        ("submit", "珠海市人力资源和社会保障局"),
        ("approve", "督办科"),
    ]
    # --as-of 2015-12-28T16:30 is Shanghai time: stored as 08:30 UTC
    assert detail["events"][3]["at"] == "2015-12-28T08:30:00+00:00"
    assert detail["readings"][0] | {} == detail["readings"][0] | {
        "indicator": DOCTORS, "value": 19.0, "reported_on": "2015-04-03"}

    text = ok(run_cli, "task", "show", tid, "--as-of", "2016-01-05")
    for expected in (
        "第9项 推进医疗卫生改革",
        "单位:珠海市人力资源和社会保障局(方案写作:市人社局)",
        "按期办结",
        "2015-12-29 09:00 退回 督办科 李四(已报结 → 已退回):缺名册",
        "指标报送:",
    ):
        assert expected in text


def test_extension_through_the_cli(world: World, run_cli: CliRunner) -> None:
    tid = str(world.lead)
    ok(run_cli, "task", "ack", tid, "-d", "市卫计局", "--as-of", "2015-03-03")
    out = ok(run_cli, "task", "extend", tid, "-d", "市卫计局", "--to", "2016-03-31",
             "--reason", "汛期影响", "--as-of", "2015-12-20")
    match = re.search(r"延期申请 #(\d+)", out)
    assert match, out
    out = ok(run_cli, "extension", "approve", match.group(1), "--actor", "李四",
             "--as-of", "2015-12-21")
    assert f"任务 #{tid} 期限改为 2016-03-31" in out
    row = next(r for r in listed(run_cli, "--as-of", "2016-01-05") if r["id"] == world.lead)
    assert (row["due"], row["original_due"], row["status"]) == (
        "2016-03-31", "2015-12-31", "not_yet_due")
    out = ok(run_cli, "task", "show", tid, "--as-of", "2016-01-05")
    assert "期限:2016-03-31(原期限 2015-12-31)" in out and "已同意(李四)" in out

    out = ok(run_cli, "task", "extend", str(world.later), "-d", "市卫计局", "--to", "2018-03-30",
             "--reason", "x", "--as-of", "2016-05-03")
    refused = re.search(r"延期申请 #(\d+)", out)
    assert refused
    out = ok(run_cli, "extension", "refuse", refused.group(1), "--note", "理由不充分",
             "--as-of", "2016-05-04")
    assert "期限仍为 2017-12-29" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("task", "ack", "99999", "-d", "市卫计局"), "找不到任务 #99999"),
        (("task", "ack", "{lead}", "-d", "市外星局"), "机构目录中没有单位“市外星局”"),
        (("task", "ack", "{lead}", "-d", "市民政局"), "珠海市民政局无权办理"),
        (("task", "extend", "{lead}", "-d", "市卫计局", "--to", "2015-11-30", "--reason", "x"),
         "不晚于当前期限"),
        (("task", "extend", "{lead}", "-d", "市卫计局", "--to", "2016-02-30", "--reason", "x"),
         "--to 的日期“2016-02-30”无效"),
        (("task", "report", "{single}", "-d", "市人社局", "--note", "x", "--value", "很多"),
         f"指标“{DOCTORS}”的值“很多”不是数字"),
        (("task", "report", "{lead}", "-d", "市卫计局", "--note", "x", "--value", "75"),
         "有2个数值指标"),
        (("task", "report", "{lead}", "-d", "市卫计局", "--note", "x", "--value",
          f"{REIMBURSEMENT}=七成"), "不是数字"),
        (("task", "approve", "{lead}"), "任务尚未报结"),
        (("extension", "approve", "77"), "找不到延期申请 #77"),
        (("tasks", "--department", "市外星局"), "市外星局"),
        (("tasks",), "日历不含2035年"),
        (("task", "ack", "{lead}", "-d", "市卫计局"), "日历不含2035年"),
        (("task", "show", "{lead}", "--as-of", "yesterday"), "选项 --as-of 的值“yesterday”无效"),
    ],
    ids=[
        "unknown-task", "unknown-department", "other-department", "extension-earlier",
        "bad-date", "non-numeric", "bare-value-two-targets", "non-numeric-named",
        "approve-unsubmitted", "unknown-extension", "unknown-filter", "list-outside-calendar",
        "act-outside-calendar", "bad-as-of",
    ],
)
def test_bad_input_is_an_error_and_changes_nothing(
    world: World, run_cli: CliRunner, session_factory: sessionmaker[Session],
    args: tuple[str, ...], message: str,
) -> None:
    ok(run_cli, "task", "ack", str(world.single), "-d", "市人社局", "--as-of", "2015-03-03")
    ok(run_cli, "task", "ack", str(world.lead), "-d", "市卫计局", "--as-of", "2015-03-03")
    filled = [a.format(lead=world.lead, single=world.single) for a in args]
    if "--as-of" not in filled:
        day = "2035-01-02" if "2035" in message else "2015-12-01"
        filled += ["--as-of", day]
    before = snapshot(session_factory)
    result = run_cli(*filled)
    # A malformed option value is a usage error (2), refused before any work.
    assert result.exit_code == (2 if "选项" in message else 1), result.stdout
    assert result.stderr.startswith("错误:") and message in result.stderr, result.stderr
    assert result.stdout == ""
    assert snapshot(session_factory) == before
