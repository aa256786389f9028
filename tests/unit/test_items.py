"""A single 督办件 as typed: every field checked, each error naming its field."""

from __future__ import annotations

from datetime import date

import pytest

from duban.domain.items import (
    ItemInput,
    ItemSource,
    check_item,
    item_source_text,
    parse_source,
    standing_plan_key,
    title_from,
)

KNOWN = {"市卫计局", "市财政局", "市教育局", "各区"}
TODAY = date(2025, 3, 3)
SOURCES = "领导批示、会议纪要、政府工作报告、人大建议、政协提案、其他"


def good(**changes: object) -> ItemInput:
    values: dict[str, object] = {
        "source": "领导批示", "doc_ref": "市府办批〔2025〕12号", "title": "",
        "text": "请市卫计局研究解决社区医院夜间门诊不足问题。6月底前报结果。",
        "lead": ["市卫计局"], "supporting": ["市财政局、各区"], "due": "2025-06-30",
        "leader": "张市长",
    }
    values.update(changes)
    return ItemInput(**values)  # type: ignore[arg-type]


def test_a_good_item_is_read_with_a_title_from_its_first_sentence() -> None:
    item, errors = check_item(good(), known=KNOWN.__contains__, today=TODAY)
    assert errors == [] and item is not None
    assert item.source is ItemSource.INSTRUCTION and item.source_label == "领导批示"
    assert item.title == "请市卫计局研究解决社区医院夜间门诊不足问题"
    assert item.lead == ("市卫计局",) and item.supporting == ("市财政局", "各区")
    assert item.due == date(2025, 6, 30) and item.leader == "张市长"
    same, _ = check_item(good(source="instruction", title="夜间门诊"), known=KNOWN.__contains__,
                         today=TODAY)
    assert same is not None and same.source is ItemSource.INSTRUCTION and same.title == "夜间门诊"


@pytest.mark.parametrize(
    ("changes", "messages"),
    [
        ({"source": ""}, [f"来源:请选择({SOURCES})"]),
        ({"source": "批示"}, [f"来源:“批示”不是可选的来源({SOURCES})"]),
        ({"text": "  "}, ["督办事项:请填写批示或议定事项的内容"]),
        ({"lead": []}, ["牵头单位:请至少填写一个牵头单位"]),
        ({"lead": ["市不存在局"]},
         ["牵头单位:“市不存在局”不在机构目录中(请用目录中的单位名称或别名)"]),
        ({"supporting": ["各相关单位"]},
         ["配合单位:“各相关单位”未指明具体单位,请填写具体单位名称"]),
        ({"supporting": ["市卫计局"]}, ["配合单位:“市卫计局”重复列出"]),
        ({"due": ""}, ["办理期限:请填写办理期限(YYYY-MM-DD)"]),
        ({"due": "2025-02-30"}, ["办理期限:“2025-02-30”不是有效日期(应为 YYYY-MM-DD)"]),
        ({"due": "2025-03-02"}, ["办理期限:2025-03-02 早于今天(2025-03-03)"]),
        ({"doc_ref": "号" * 101}, ["文号:超过100个字符"]),
        ({"leader": "长" * 101}, ["批示领导:超过100个字符"]),
        ({"source": "", "lead": ["市不存在局"], "due": "x"},
         [f"来源:请选择({SOURCES})",
          "牵头单位:“市不存在局”不在机构目录中(请用目录中的单位名称或别名)",
          "办理期限:“x”不是有效日期(应为 YYYY-MM-DD)"]),
    ],
    ids=["no-source", "bad-source", "no-text", "no-lead", "unknown-unit", "vague-unit",
         "twice", "no-due", "bad-due", "past-due", "long-doc-ref", "long-leader", "several"],
)
def test_each_bad_field_is_named(changes: dict[str, object], messages: list[str]) -> None:
    item, errors = check_item(good(**changes), known=KNOWN.__contains__, today=TODAY)
    assert item is None
    assert [e.message for e in errors] == messages


def test_sources_titles_and_the_standing_plan_are_named_in_chinese() -> None:
    assert parse_source("政协提案") is ItemSource.CPPCC_PROPOSAL and parse_source("x") is None
    assert standing_plan_key(2027) == "2027年督办件"
    assert title_from("会议议定:" + "甲" * 40) == "会议议定:" + "甲" * 25 + "…"
    assert item_source_text("instruction", "市府办批〔2025〕12号", "张市长") == (
        "领导批示 · 市府办批〔2025〕12号 · 张市长批示")
    assert item_source_text("meeting", None, "王副市长") == "会议纪要 · 王副市长"
    assert item_source_text(None, "x", "y") == ""
