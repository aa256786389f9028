"""Responsibility tables as published (rows: cells joined by TAB, as the document
readers give them), table-driven: (lines, expected measures)."""

from __future__ import annotations

import pytest

from duban.domain.plan_draft import PlanDraft
from duban.domain.plan_parser import parse_plan

HEAD = "关于印发某项工作任务分工的通知\n某府办〔2023〕5号\n附件\n某项工作任务分工表\n"


def parse(*rows: str) -> PlanDraft:
    return parse_plan(HEAD + "\n".join(rows))


def read(draft: PlanDraft) -> list[tuple[str, list[str], list[str]]]:
    return [(m.label, m.lead, m.supporting) for m in draft.measures]


TABLE_CASES = [
    pytest.param(
        ["序号\t改革举措\t主要内容\t指导部门\t推广范围",
         "一、知识产权保护方面(共2项)",
         "1\t专利保险机制\t开发专利保险产品。\t国家知识产权局、中国银保监会\t全国",
         "2\t技术调查官制度\t引入技术调查官。\t最高人民法院\t全国",
         "二、科技金融创新方面(共1项)",
         "三、管理体制创新方面(共1项)",
         "5\t容错机制\t建立容错机制。\t国家发展改革委、国务院国资委\t全国"],
        [("1", ["国家知识产权局"], ["中国银保监会"]), ("2", ["最高人民法院"], []),
         ("5", ["国家发展改革委"], ["国务院国资委"])],
        id="guiding-departments-and-merged-section-rows-given-as-lines",
    ),
    pytest.param(
        ["序号\t重点任务\t责任单位（排在第一位的为牵头单位）\t完成时限",
         "1\t推进甲\t市发改委、市财政局\t2023年底前",
         "2\t推进乙\t市财政局（牵头）、市统计局\t长期坚持"],
        [("1", ["市发改委"], ["市财政局"]), ("2", ["市财政局"], ["市统计局"])],
        id="a-header-note-and-a-lead-marked-in-a-cell",
    ),
    pytest.param(
        ["序号\t工作任务\t牵头单位\t配合单位",
         "1\t推进甲\t市委 组织部\t国务院 国资委 科技部 财政部",
         "2\t推进乙\t市财 政局\t市委宣传部 市文旅局"],
        [("1", ["市委组织部"], ["国务院国资委", "科技部", "财政部"]),
         ("2", ["市财政局"], ["市委宣传部", "市文旅局"])],
        id="unit-cells-wrapped-over-lines",
    ),
    pytest.param(
        ["序号\t2022年预期目标\t责任单位",
         "1\t地区生产总值增长5.5%左右\t区发展改革委",
         "2\t进出口总额增长5%以上\t区商务委"],
        [("1", ["区发展改革委"], []), ("2", ["区商务委"], [])],
        id="a-goals-column-is-the-task",
    ),
    pytest.param(
        ["序号\t主要指标\t牵头单位\t配合单位",
         "1\t城镇新增就业1万人\t区人社局\t各街道"],
        [("1", ["区人社局"], ["各街道"])],
        id="an-indicators-column-is-the-task",
    ),
    pytest.param(
        ["序号\t重点工作\t责任领导\t责任单位\t完成时限",
         "1\t优化项目服务。\t叶林\t招商工作部、安商工作部\t全年"],
        [("1", ["招商工作部"], ["安商工作部"])],
        id="a-leader-column-and-units-without-a-lead",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), TABLE_CASES)
def test_table_variants(rows: list[str], expected: list[tuple[str, list[str], list[str]]]) -> None:
    assert read(parse(*rows)) == expected


def test_a_second_task_column_is_the_measures_text_under_its_title() -> None:
    draft = parse("序号\t改革举措\t主要内容\t指导部门",
                  "1\t专利保险机制\t开发专利保险产品，降低侵权损失。\t国家知识产权局")
    [measure] = draft.measures
    assert measure.title == "专利保险机制"
    assert "开发专利保险产品" in measure.text


def test_time_column_of_a_table_gives_deadlines_and_ongoing_tasks() -> None:
    draft = parse("序号\t重点任务\t牵头单位\t完成时间",
                  "1\t推进甲\t市发改委\t2024年6月底前",
                  "2\t推进乙\t市财政局\t持续推进",
                  "3\t推进丙\t市财政局\t2027年6月底前",
                  "4\t推进丁\t市统计局\t长期坚持",
                  "5\t推进戊\t市统计局\t全年")
    assert [[(str(t.due), t.ongoing) for t in m.targets] for m in draft.measures] == [
        [("2024-06-30", False)], [("None", True)], [("2027-06-30", False)],
        [("None", True)], [("2023-12-31", False)],  # 全年: the plan's year (〔2023〕)
    ]
    assert not [w for w in draft.warnings if w.kind == "target_without_date"]


def test_a_leader_column_gives_the_measures_leaders() -> None:
    draft = parse("序号\t重点工作\t责任领导\t责任单位\t完成时限",
                  "1\t优化项目服务。\t叶林\t招商工作部\t全年")
    assert draft.measures[0].leaders == ["叶林"]


FLAT_CASES = [
    pytest.param(
        ["序号", "", "2022年预期目标", "", "责任单位", "",
         "1", "", "地区生产总值增长5.5%左右", "", "区发展改革委", "",
         "2", "", "进出口总额增长5%以上", "", "区商务委"],
        [("1", ["区发展改革委"], []), ("2", ["区商务委"], [])],
        id="one-cell-a-line-as-word-saves-a-table-as-text",
    ),
    pytest.param(
        ["序号 |", "重点工作 |", "责任领导 |", "责任单位 |", "完成时限 |",
         "1 |", "优化项目服务, |", "叶林 |", "招商工作部、安商工作部 |", "全年 |",
         "2 |", "盘活存量土地, |", "马振明 |", "改革办 |", "2025年6月底前 |"],
        [("1", ["招商工作部"], ["安商工作部"]), ("2", ["改革办"], [])],
        id="cells-ending-in-a-bar-as-a-page-is-stored",
    ),
    pytest.param(
        ["序号 |", "工作任务 |", "牵头单位 |", "配合单位 |",
         "1 |", "推进甲工作, |", "市发改委 |", "市财政局、 |",
         "1 |", "推进乙工作, |", "市教育局 |", "市人社局 |"],
        [("1", ["市发改委"], ["市财政局"])],
        id="a-number-that-does-not-go-on-ends-the-table",
    ),
    pytest.param(
        ["序号", "工作任务", "牵头单位", "配合单位",
         "一、产业发展",
         "1", "推进甲工作", "市发改委", "市财政局",
         "二、民生保障",
         "2", "推进乙工作", "市教育局", "各区"],
        [("1", ["市发改委"], ["市财政局"]), ("2", ["市教育局"], ["各区"])],
        id="merged-section-rows-between-rows",
    ),
    pytest.param(
        ["序号", "工作任务", "牵头单位", "配合单位",
         "1", "推进甲工作", "市发改委", "市财政局",
         "2", "推进乙工作", "建成平台。完善机制,加快推进。", "市教育局", "各区"],
        [("1", ["市发改委"], ["市财政局"])],
        id="a-cell-of-two-paragraphs-ends-the-table-instead-of-misreading-it",
    ),
]


@pytest.mark.parametrize(("lines", "expected"), FLAT_CASES)
def test_tables_given_one_cell_a_line(
    lines: list[str], expected: list[tuple[str, list[str], list[str]]]
) -> None:
    assert read(parse(*lines)) == expected


def test_a_table_given_one_cell_a_line_keeps_times_leaders_and_row_lines() -> None:
    draft = parse("序号 |", "重点工作 |", "责任领导 |", "责任单位 |", "完成时限 |",
                  "1 |", "盘活存量土地。 |", "马振明 |", "改革办 |", "长期坚持 |",
                  "2 |", "建设污水", "管网。 |", "张云峰 |", "规划建设局 |", "2027年6月底前 |")
    first, second = draft.measures
    assert first.leaders == ["马振明"] and first.line == 10  # the row's first cell
    assert [(t.due, t.ongoing) for t in first.targets] == [(None, True)]
    assert second.title.startswith("建设污水 管网")  # a cell over two lines, up to its bar
    assert [str(t.due) for t in second.targets] == ["2027-06-30"]
