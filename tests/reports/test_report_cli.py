"""``duban report …`` on the small world, in process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from icalendar import Calendar
from openpyxl import load_workbook

from tests.conftest import CliRunner
from tests.db.conftest import HEALTH, XIANGZHOU
from tests.reports.conftest import History


def test_report_commands(
    history: History,
    migrated_url: str,
    cli_env: Callable[[str], None],
    run_cli: CliRunner,
    tmp_path: Path,
) -> None:
    cli_env(migrated_url)
    out, csv_out = tmp_path / "台账.xlsx", tmp_path / "台账.csv"
    result = run_cli("report", "ledger", "--out", str(out), "--csv", str(csv_out),
                     "--as-of", "2016-01-29")
    assert result.exit_code == 0, result.stderr
    assert "5 项任务(红灯 1、黄灯 1、蓝灯 0、逾期办结 1、绿灯 2)" in result.stdout
    assert load_workbook(out)["台账"].max_row == 3 + 5 and csv_out.is_file()

    result = run_cli("report", "scorecard", "--period", "2015-10-01..2016-01-31",
                     "--as-of", "2016-01-29", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    first = data["departments"][0]
    assert (first["department"], first["score"]) == (HEALTH, 95.0)
    # 香洲区 supports only (the completion rate counts 牵头 tasks): no score, last.
    district = next(d for d in data["departments"] if d["department"] == XIANGZHOU)
    assert (district["score"], district["rank"], district["escalations"]) == (
        None, None, {"1": 1, "2": 1, "3": 1})
    assert data["departments"][-2:] == [d for d in data["departments"] if d["score"] is None]
    table = run_cli("report", "scorecard", "--period", "2015-Q4", "--as-of", "2016-01-29")
    assert table.exit_code == 0 and "排名" in table.stdout and "得分 = 70" in table.stdout

    weights = tmp_path / "weights.yaml"
    weights.write_text("task_points: 80\nreport_points: 20\n", encoding="utf-8")
    heavier = run_cli("report", "scorecard", "--period", "2015-10-01..2016-01-31",
                      "--as-of", "2016-01-29", "--weights", str(weights), "--json")
    assert json.loads(heavier.stdout)["departments"][0]["score"] == 96.7  # 80 + 20 × 5/6

    result = run_cli("report", "ics", "-d", "市卫计局", "--as-of", "2016-01-29", "--all")
    assert result.exit_code == 0, result.stderr
    feed = Calendar.from_ical(result.stdout)
    assert len(feed.walk("VEVENT")) == 2 + 3 + 11  # two due dates, their report deadlines
    result = run_cli("report", "ics", "-d", "市卫计局", "--as-of", "2016-01-29")
    feed = Calendar.from_ical(result.stdout)
    # The open task only: its dates from a month back to 60 days ahead (the report
    # deadline of 2016-01-08), or with --days a year ahead (four more; its due
    # date, 2017-12-29, is further).
    assert len(feed.walk("VEVENT")) == 1
    result = run_cli("report", "ics", "-d", "市卫计局", "--as-of", "2016-01-29", "--days", "366")
    assert len(Calendar.from_ical(result.stdout).walk("VEVENT")) == 5
    assert run_cli("report", "ics", "-d", "市卫计局", "--days", "367").exit_code != 0
    chart = tmp_path / "m8.svg"
    result = run_cli("report", "chart", "--measure", "8", "--out", str(chart))
    assert result.exit_code == 0 and chart.read_text(encoding="utf-8").startswith("<?xml")


def test_report_errors_are_chinese(
    history: History,
    migrated_url: str,
    cli_env: Callable[[str], None],
    run_cli: CliRunner,
    tmp_path: Path,
) -> None:
    cli_env(migrated_url)
    cases = [
        (("report", "ics", "-d", "不存在的局"), "不存在的局"),
        (("report", "scorecard", "--period", "2015-13"), "考核期间"),
        (("report", "ledger", "--out", str(tmp_path / "x.txt")), ".xlsx"),
        (("report", "chart", "--measure", "99", "--out", str(tmp_path / "c.svg")), "第99项"),
        (("report", "ledger", "--out", str(tmp_path / "no" / "x.xlsx")), "目录不存在"),
    ]
    for args, words in cases:
        result = run_cli(*args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("错误:") and words in result.stderr, result.stderr
