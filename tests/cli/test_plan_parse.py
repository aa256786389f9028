"""``duban plan parse`` as a user runs it: the console script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REFERENCE_PLAN

DUBAN = [sys.executable, "-c", "from duban.cli import main; main()"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*DUBAN, *args], capture_output=True, text=True, env=full_env,
                          timeout=120)


def test_parse_json_gives_the_documented_shape() -> None:
    result = run("plan", "parse", str(REFERENCE_PLAN), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"title", "doc_number", "measures"} <= data.keys()
    m8 = next(m for m in data["measures"] if m["number"] == 8)
    assert m8["lead"] == ["市委社管部"] and m8["supporting"][-1] == "各区"
    assert m8["section"] == "二、着力保障改善民生,提升公共服务水平"
    target = m8["targets"][0]
    assert target == target | {"due": "2015-12-31", "comparator": ">=", "value": 75, "unit": "%"}
    assert sum(1 for m in data["measures"] if m["lead"]) == 27


def test_parse_text_output_lists_warnings_with_lines() -> None:
    result = run("plan", "parse", str(REFERENCE_PLAN))
    assert result.returncode == 0, result.stderr
    assert "共 7 个部分、30 项措施,27 项有责任分工" in result.stdout
    assert "第78行 [单位表述笼统]" in result.stdout
    assert "第114行 [目标无时限]" in result.stdout


def test_parse_shows_the_document_number_as_printed(tmp_path: Path) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text("珠海市数字政府建设工作方案\n珠府办〔2025〕5号\n一、数字政府\n"
                    "1.建设政务数据平台。（市数据局牵头，市财政局配合）\n", encoding="utf-8")
    result = run("plan", "parse", str(plan))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("方案:珠海市数字政府建设工作方案(珠府办〔2025〕5号)")


def test_parse_out_writes_an_editable_draft(tmp_path: Path) -> None:
    out = tmp_path / "draft.yaml"
    result = run("plan", "parse", str(REFERENCE_PLAN), "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# 督办") and "lead:\n  - 市委社管部" in text.replace("  - ", "  - ")


def test_parse_reports_unknown_departments_from_another_directory(tmp_path: Path) -> None:
    directory = tmp_path / "dir.yaml"
    directory.write_text("departments:\n  - {name: 珠海市民政局, aliases: [市民政局]}\n",
                         encoding="utf-8")
    result = run("plan", "parse", str(REFERENCE_PLAN), "--directory", str(directory), "--json")
    assert result.returncode == 0, result.stderr
    unknown = [w for w in json.loads(result.stdout)["warnings"]
               if w["kind"] == "unknown_department"]
    assert any("市委社管部" in w["message"] and w["line"] == 54 for w in unknown)
    assert not any("“市民政局”" in w["message"] for w in unknown)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "文件为空", id="empty"),
        pytest.param(b"\x00\x01\x02binary", "不是文本文件", id="binary"),
        pytest.param("随便写的一段话。".encode(), "未找到编号的措施", id="not-a-plan"),
        pytest.param(
            "方案\n一、总\n1.甲。做。(市民政局牵头)\n1.乙。做。(市民政局牵头)".encode(),
            "第4行", id="repeated-number"),
    ],
)
def test_bad_input_exits_1_with_a_chinese_message(
    tmp_path: Path, content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    out = tmp_path / "draft.yaml"
    result = run("plan", "parse", str(bad), "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.startswith("错误:") and message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_missing_file_is_named(tmp_path: Path) -> None:
    result = run("plan", "parse", str(tmp_path / "nope.txt"))
    assert result.returncode == 1 and "nope.txt" in result.stderr and "不存在" in result.stderr
