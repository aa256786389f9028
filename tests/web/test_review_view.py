"""Marking a measure's source: phrases found in NFKC text are marked in the
document as written; a table row, whose clause is not in its text, gets its
units marked; provenance labels fall back to line numbers."""

from __future__ import annotations

import pytest

from duban.domain.plan_draft import Measure, Responsibility, Role, Target
from duban.web.review_view import SourceDocument, highlight, source_of


@pytest.mark.parametrize(
    ("raw", "phrases", "html"),
    [
        ("推进改革。(市民政局牵头,市财政局配合)", [("市民政局牵头,市财政局配合", "clause")],
         '推进改革。(<mark class="clause">市民政局牵头,市财政局配合</mark>)'),
        ("推进改革。（市民政局牵头，市财政局配合）", [("市民政局牵头,市财政局配合", "clause")],
         '推进改革。（<mark class="clause">市民政局牵头，市财政局配合</mark>）'),
        ("到2015年达到75%以上", [("到2015年达到75%以上", "target"), ("2015年", "clause")],
         '<mark class="target">到2015年达到75%以上</mark>'),
        ("<b>甲</b>", [("甲", "target")], '&lt;b&gt;<mark class="target">甲</mark>&lt;/b&gt;'),
        ("无关的文字", [("市民政局", "clause")], "无关的文字"),
    ],
    ids=["half-width", "full-width-source", "overlap-first-wins", "escaped", "not-found"],
)
def test_phrases_are_marked_in_the_text_as_written(
    raw: str, phrases: list[tuple[str, str]], html: str
) -> None:
    assert str(highlight(raw, phrases)) == html


def test_a_table_row_gets_its_units_marked_and_its_provenance_label() -> None:
    measure = Measure(
        number=1, title="地区生产总值增长", text="", line=2, end_line=2,
        clause="牵头单位:区发改局;配合单位:区财政局",
        responsibilities=[Responsibility("区发改局", Role.LEAD, 2),
                          Responsibility("区财政局", Role.SUPPORTING, 2)],
        targets=[Target(text="增长6%左右", line=2, source_text="增长6%左右")],
    )
    document = SourceDocument(["序号 任务 牵头 配合", "1 增长6%左右 区发改局 区财政局"],
                              ["表1 第1行", "表1 第2行"])
    (line,) = source_of(measure, document)
    assert line.label == "表1 第2行"
    assert str(line.html) == ('1 <mark class="target">增长6%左右</mark> '
                              '<mark class="clause">区发改局</mark> '
                              '<mark class="clause">区财政局</mark>')
    assert SourceDocument(["a", "b"]).label(2) == "第2行"
