"""md_escape, safe_href and fit_markdown: the markdown guarantees WeCom relies on."""

from __future__ import annotations

import re

import pytest

from notifications.markdown import MdText, fit_markdown, md_escape, md_link, safe_href

CONTROL = set("\\`*_{}[]()#|<>~&")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("普通文字", "普通文字"),
        ("**加粗**", "＊＊加粗＊＊"),
        ("[点我](http://evil.example)", "［点我］（http://evil.example）"),
        ("# 标题", "＃ 标题"),
        ("第一行\n# 第二行", "第一行 ＃ 第二行"),
        ('<font color="warning">红</font>', '＜font color="warning"＞红＜/font＞'),
        ("- 列表", "－ 列表"),
        ("1. 列表", "1． 列表"),
        ("`code` _x_ ~y~ a|b R&D", "｀code｀ ＿x＿ ～y～ a｜b R＆D"),
        (None, ""),
        (42, "42"),
        ("2015-12-31 达到75%以上", "2015-12-31 达到75%以上"),
    ],
)
def test_md_escape(raw: object, expected: str) -> None:
    assert md_escape(raw) == expected


@pytest.mark.parametrize("raw", ["**x** [a](b) #c <d> `e` _f_ \\g |h| ~i~ &j", "\n\n# x\r\n- y"])
def test_md_escape_leaves_no_control_characters_or_line_breaks(raw: str) -> None:
    escaped = md_escape(raw)
    assert not CONTROL & set(escaped)
    assert "\n" not in escaped and "\r" not in escaped
    assert md_escape(escaped) == escaped  # idempotent


def test_md_text_is_not_escaped_again() -> None:
    assert md_escape(MdText("**ok**")) == "**ok**"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://duban.example.gov.cn/tasks/1", "https://duban.example.gov.cn/tasks/1"),
        ("http://h/a b(c)", "http://h/a%20b%28c%29"),
        ("http://h/#/tasks/1?x=1&y=2", "http://h/#/tasks/1?x=1&y=2"),
        ("javascript:alert(1)", ""),
        ("/relative", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_safe_href(url: object, expected: str) -> None:
    assert safe_href(url) == expected


def test_md_link_escapes_text_and_drops_unsafe_targets() -> None:
    assert md_link("任务 [1]", "https://h/t/1") == "[任务 ［1］](https://h/t/1)"
    assert md_link("任务", "javascript:x") == "任务"


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _long_message(items: int, line: str = "这是一条很长的中文说明文字，" * 8) -> str:
    blocks = [
        f"**{i}. 措施{i} 标题**\n> {line}\n> 截止日期：2015-12-31" for i in range(1, items + 1)
    ]
    return "## 督办提醒\n\n张三：\n\n" + "\n\n".join(blocks) + "\n\n请登录督办系统办理。"


def test_fit_markdown_returns_short_text_unchanged() -> None:
    text = _long_message(2)
    assert fit_markdown(text) == [text]


@pytest.mark.parametrize("limit", [4096, 2048, 600])
@pytest.mark.parametrize("items", [30, 200])
def test_fit_markdown_parts_fit_and_are_labelled(limit: int, items: int) -> None:
    text = _long_message(items)
    parts = fit_markdown(text, limit)
    assert len(parts) > 1
    total = len(parts)
    for index, part in enumerate(parts, start=1):
        assert _bytes(part) <= limit
        part.encode("utf-8").decode("utf-8")  # whole characters only
        label = f"（{index}/{total}）" if index == 1 else f"（续{index}/{total}）"
        assert part.startswith(f"## 督办提醒{label}\n\n")
    # Cut only between items: every item's three lines stay together, in order.
    numbers = [int(n) for part in parts for n in re.findall(r"\*\*(\d+)\. 措施", part)]
    assert numbers == list(range(1, items + 1))
    for part in parts:
        for block in part.split("\n\n")[1:]:
            if block.startswith("**"):
                assert block.count("\n") == 2, block


def test_fit_markdown_cuts_an_oversized_line_between_characters() -> None:
    text = "## 标题\n\n" + "中" * 3000  # 9000 bytes on one line
    parts = fit_markdown(text, 4096)
    assert all(_bytes(part) <= 4096 for part in parts)
    body = "".join(part.split("\n\n", 1)[1] for part in parts)
    assert body == "中" * 3000


def test_fit_markdown_refuses_a_limit_too_small_to_hold_anything() -> None:
    with pytest.raises(ValueError):
        fit_markdown("## 标题\n\n" + "字" * 100, 20)
