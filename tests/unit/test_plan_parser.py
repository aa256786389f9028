"""Table-driven parser tests: (plan text, expected structure) and (text, expected error)."""

from __future__ import annotations

from datetime import date
from textwrap import dedent

import pytest

from duban.domain.errors import PlanParseError
from duban.domain.parser_config import ParserConfig
from duban.domain.plan_draft import PlanDraft
from duban.domain.plan_parser import parse_plan

HEAD = "关于推进某项工作的实施方案\n某府办〔2016〕8号\n"


def parse(body: str, **kwargs: object) -> PlanDraft:
    return parse_plan(HEAD + dedent(body).strip("\n"), **kwargs)  # type: ignore[arg-type]


def roles(draft: PlanDraft) -> dict[int, tuple[list[str], list[str]]]:
    return {m.number: (m.lead, m.supporting) for m in draft.measures}


RESPONSIBILITY_CASES = [
    pytest.param(
        "一、总体\n1.甲工作。推进甲。(市发改局牵头,市财政局、市教育局等单位和各区配合)",
        {1: (["市发改局"], ["市财政局", "市教育局", "各区"])},
        id="verb-form-half-width",
    ),
    pytest.param(
        "一、总体\n１．甲工作。推进甲。\uff08市发改局牵头\uff0c市财政局、市教育局等单位和各区配合\uff09",
        {1: (["市发改局"], ["市财政局", "市教育局", "各区"])},
        id="verb-form-full-width",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。(市财政局牵头市发改局、市民政局等单位配合)",
        {1: (["市财政局"], ["市发改局", "市民政局"])},
        id="no-comma-between-lead-and-supporting",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。(市委社管部牵头,市总工会、团市委、市妇联参与)",
        {1: (["市委社管部"], ["市总工会", "团市委", "市妇联"])},
        id="participate",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。(市委社管部、市民政局牵头,各区配合)",
        {1: (["市委社管部", "市民政局"], ["各区"])},
        id="several-leads",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。\uff08牵头单位\uff1a市发改局\uff1b配合单位\uff1a市财政局、市统计局\uff09",
        {1: (["市发改局"], ["市财政局", "市统计局"])},
        id="labelled-in-parentheses",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。\n牵头单位:市发改局\n责任单位:市财政局、市统计局",
        {1: (["市发改局"], ["市财政局", "市统计局"])},
        id="separate-label-lines",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。\n责任单位:市发改局、市财政局、各区",
        {1: (["市发改局"], ["市财政局", "各区"])},
        id="responsible-first-listed-leads",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。牵头单位:市发改局;配合单位:市财政局",
        {1: (["市发改局"], ["市财政局"])},
        id="inline-labels-at-paragraph-end",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。(市海洋农业和水务局牵头,市住房和城乡建设局配合)",
        {1: (["市海洋农业和水务局"], ["市住房和城乡建设局"])},
        id="names-with-he-stay-whole",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。(市委社管部牵头,市人大常委会办公室、市政协办和党联办参与)",
        {1: (["市委社管部"], ["市人大常委会办公室", "市政协办", "党联办"])},
        id="he-between-two-names-splits",
    ),
    pytest.param(
        "一、总体\n1.甲工作。完善村(居)服务,各区(功能区)可调整。(市民政局牵头,各区配合)",
        {1: (["市民政局"], ["各区"])},
        id="body-parentheses-are-not-clauses",
    ),
    pytest.param(
        "一、总体\n(一)甲工作。推进甲。(市发改局牵头,市财政局配合)\n"
        "(二)乙工作。推进乙。(市财政局牵头)",
        {1: (["市发改局"], ["市财政局"]), 2: (["市财政局"], [])},
        id="measures-numbered-with-parenthesised-numerals",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲,到2015年达到80%。\n"
        "进一步推进甲的后续工作,形成长效机制。(市发改局牵头,市财政局配合)",
        {1: (["市发改局"], ["市财政局"])},
        id="clause-on-a-continuation-paragraph",
    ),
]


# Clause shapes of other cities' plans (issue #11), each as printed.
RESPONSIBILITY_CASES += [
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（市卫生健康委（除标注“分别牵头”外，列第一位为牵头或汇总单位，"
        "下同）、市医保局负责）\n2.乙工作。推进乙。（市民政局、市财政局负责）",
        {1: (["市卫生健康委"], ["市医保局"]), 2: (["市民政局"], ["市财政局"])},
        id="note-in-parentheses-is-not-a-name",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。\n责任单位：市人力社保局、市农业农村局分别牵头",
        {1: (["市人力社保局", "市农业农村局"], [])},
        id="separately-lead",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（市发展改革委牵头，各县（市、区）政府配合）",
        {1: (["市发展改革委"], ["各县(市、区)政府"])},
        id="collective-with-nested-parentheses",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（市住房城乡建设局牵头，各区、县级市负责）\n"
        "2.乙工作。推进乙。（市水务局牵头，各有关区、县级市政府配合）",
        {1: (["市住房城乡建设局"], ["各区、县级市"]),
         2: (["市水务局"], ["各有关区、县级市政府"])},
        id="collective-list-stays-one-entry-and-lead-then-responsible-supports",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（市委宣传部（市新闻出版局）牵头，市文化广电旅游局配合）",
        {1: (["市委宣传部(市新闻出版局)"], ["市文化广电旅游局"])},
        id="name-with-parentheses",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（市发改委、市财政局按职责分工负责）",
        {1: (["市发改委"], ["市财政局"])},
        id="by-duty-first-listed-leads",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（市发改委牵头，领导小组各成员单位配合）",
        {1: (["市发改委"], [])},
        id="member-units-are-vague",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（市教育局、市人社局、市财政局）",
        {1: (["市教育局"], ["市人社局", "市财政局"])},
        id="unlabelled-list-at-paragraph-end",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。\n部门分工：市交通运输局、市公安局",
        {1: (["市交通运输局"], ["市公安局"])},
        id="division-of-labour-line",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。\n牵头责任单位：市发展改革委。\n"
        "协同责任单位：市经信局、市商务局等，各县、市、区政府。",
        {1: (["市发展改革委"], ["市经信局", "市商务局", "各县、市、区政府"])},
        id="lead-and-cooperating-responsible-labels",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。〔责任单位：省发展改革委、商务厅按职责分工负责。"
        "具体任务均涉及相关市（州）人民政府，不再做分工，下同。〕",
        {1: (["省发展改革委"], ["商务厅"])},
        id="tortoise-shell-brackets-with-a-note",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（人社部等有关部门和单位负责）\n"
        "2.乙工作。推进乙。（财政部、人社部、民政部等有关部门和单位按职责分工负责）",
        {1: (["人社部"], []), 2: (["财政部"], ["人社部", "民政部"])},
        id="tails-of-vague-units",
    ),
]


# Clause shapes of unseen plans (the corpus follow-up), each as printed somewhere.
RESPONSIBILITY_CASES += [
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（负责部门：商务部、海关总署；适用范围：所有试验区，以下除标注外"
        "适用范围均为所有试验区）\n2.乙工作。推进乙。（负责部门：民航局，适用范围：河南试验区）",
        {1: (["商务部"], ["海关总署"]), 2: (["民航局"], [])},
        id="other-labels-end-the-list",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。\n责任单位：市财政局、市发改委（牵头）、市统计局",
        {1: (["市发改委"], ["市财政局", "市统计局"])},
        id="a-name-marked-as-lead",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（牵头单位：市委组织部，配合单位：各项目牵头单位，各区、县级市）",
        {1: (["市委组织部"], ["各区、县级市"])},
        id="a-role-named-as-a-noun-names-no-one",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（市发改委会同有关部门负责）\n"
        "2.乙工作。推进乙。（市发改委、市财政局会同市统计局负责）",
        {1: (["市发改委"], []), 2: (["市发改委"], ["市财政局", "市统计局"])},
        id="together-with-reads-as-one-list",
    ),
    pytest.param(
        "一、总体\n1.甲工作。规范甲。（市场监管局负责）推进乙。（市体育局、市教育局负责）"
        "推进丙。（市体育局、市科技局负责）",
        {1: (["市场监管局", "市体育局"], ["市教育局", "市科技局"])},
        id="each-clause-in-a-paragraph-leads-its-part",
    ),
    pytest.param(
        "一、总体\n1.甲工作。推进甲。（市发改委为牵头单位，市财政局配合）\n"
        "2.乙工作。推进乙。（市政府办公室负总责，各区配合）",
        {1: (["市发改委"], ["市财政局"]), 2: (["市政府办公室"], ["各区"])},
        id="named-lead-and-overall-responsibility",
    ),
]


@pytest.mark.parametrize(("body", "expected"), RESPONSIBILITY_CASES)
def test_responsibility_variants(body: str, expected: dict[int, object]) -> None:
    assert roles(parse(body)) == expected


def test_a_lead_taken_from_position_is_warned_unless_the_plan_says_so() -> None:
    body = "一、总体\n1.甲工作。推进甲。\n责任单位：市发改委、市财政局"
    [warning] = [w for w in parse(body).warnings if w.kind == "lead_assumed"]
    assert "市发改委" in warning.message and warning.line == 5
    stated = parse(
        "一、总体\n1.甲工作。推进甲。（市发改委、市财政局负责。列第一位者为牵头单位，下同）"
    )
    assert not [w for w in stated.warnings if w.kind == "lead_assumed"]
    single = parse("一、总体\n1.甲工作。推进甲。\n责任单位：市发改委")
    assert not [w for w in single.warnings if w.kind == "lead_assumed"]


def test_vague_units_only_leave_the_measure_without_lead_and_warn() -> None:
    draft = parse("一、总体\n1.甲工作。推进甲。（各有关部门和单位按职责分工负责）")
    assert roles(draft) == {1: ([], [])}
    kinds = {w.kind for w in draft.warnings}
    assert {"no_responsibility", "vague_department"} <= kinds


def test_leaders_are_kept_apart_from_departments() -> None:
    draft = parse(
        "一、总体\n1.甲工作。推进甲。\n分管领导：张三\n牵头单位：市发改委\n"
        "2.乙工作。推进乙。\n牵头负责领导：金力。\n牵头责任单位：市财政局。"
    )
    assert [(m.leaders, m.lead) for m in draft.measures] == [
        (["张三"], ["市发改委"]), (["金力"], ["市财政局"])
    ]


def test_an_item_whose_title_starts_with_digits_follows_the_numbering() -> None:
    draft = parse(
        "一、人才\n10.引才项目。推进引才。（市人才办牵头）\n"
        "11.121人才梯队项目。培养人才。（市人社局牵头）\n"
        "12.2.5亿元的基金继续投放。（市财政局牵头）"
    )
    assert [(m.number, m.title) for m in draft.measures] == [
        (10, "引才项目"), (11, "121人才梯队项目"), (12, "2.5亿元的基金继续投放")
    ]
    assert draft.measures[1].lead == ["市人社局"]


def test_a_decimal_that_breaks_the_numbering_is_not_an_item() -> None:
    draft = parse("一、总体\n1.甲工作。推进甲。（市发改委牵头）\n3.5亿元用于甲。")
    assert [m.number for m in draft.measures] == [1]


@pytest.mark.parametrize(
    ("value", "due", "ongoing"),
    [
        pytest.param("2027年6月底前", date(2027, 6, 30), False, id="month-end"),
        pytest.param("2025年底前", date(2025, 12, 31), False, id="year-end"),
        pytest.param("2024年", date(2024, 12, 31), False, id="bare-year-in-a-time-column"),
        pytest.param("2024年第三季度", date(2024, 9, 30), False, id="quarter"),
        pytest.param("2023年—2025年", date(2025, 12, 31), False, id="range-ends-it"),
        pytest.param("长期坚持", None, True, id="standing"),
        pytest.param("持续推进", None, True, id="continuing"),
        pytest.param("每年12月底前", None, True, id="every-year"),
        pytest.param("全年", date(2016, 12, 31), False, id="the-whole-plan-year"),
        pytest.param("年内完成", date(2016, 12, 31), False, id="within-the-plan-year"),
    ],
)
def test_time_lines_give_deadlines_or_ongoing_tasks(
    value: str, due: date | None, ongoing: bool
) -> None:
    draft = parse(f"一、总体\n1.甲工作。推进甲。\n牵头单位：市发改委\n完成时限：{value}")
    [target] = draft.measures[0].targets
    assert (target.due, target.ongoing) == (due, ongoing)
    assert not [w for w in draft.warnings if w.kind == "target_without_date"]


def test_a_time_line_dates_the_measures_undated_goals() -> None:
    draft = parse("一、总体\n1.地区生产总值增长8%以上。\n牵头单位：市发改委\n完成时限：2024年底")
    assert [(t.due, t.value) for t in draft.measures[0].targets] == [(date(2024, 12, 31), 8.0)]


def test_full_width_case_really_is_full_width() -> None:
    full = RESPONSIBILITY_CASES[1].values[0]
    assert "\uff08" in full and "\uff0c" in full and "１．" in full  # type: ignore[operator]


TARGET_CASES = [
    pytest.param("到2015年,住院报销比例提高到75%以上", [(date(2015, 12, 31), ">=", 75, "%")],
                 id="by-year-at-least"),
    pytest.param("“十二五”期末,直选比例达到40%", [(date(2015, 12, 31), ">=", 40, "%")],
                 id="twelfth-five-year-plan"),
    pytest.param("“十三五”期末,覆盖率达到95%", [(date(2020, 12, 31), ">=", 95, "%")],
                 id="thirteenth-five-year-plan"),
    pytest.param("到2015年,每千名老人拥有养老床位不少于30张",
                 [(date(2015, 12, 31), ">=", 30, "张")], id="no-less-than-per-thousand"),
    pytest.param("到2016年,办理率超过90%", [(date(2016, 12, 31), ">", 90, "%")], id="over"),
    pytest.param("到2015年,覆盖率达到20%左右", [(date(2015, 12, 31), "=", 20, "%")], id="about"),
    pytest.param("2017年6月底前,投诉率控制在5%以内", [(date(2017, 6, 30), "<=", 5, "%")],
                 id="month-end-at-most"),
    pytest.param("到2018年,发生率低于3‰", [(date(2018, 12, 31), "<", 3, "‰")], id="below"),
    pytest.param("到2015年,20%的行政村实现社区化,30%的行政村建有300平方米以上的服务站",
                 [(date(2015, 12, 31), ">=", 20, "%"), (date(2015, 12, 31), ">=", 30, "%")],
                 id="two-shares-attribute-ignored"),
    pytest.param("到2017年建成制度,到2020年大体相当",
                 [(date(2017, 12, 31), None, None, None), (date(2020, 12, 31), None, None, None)],
                 id="two-dated-goals"),
    pytest.param("力争2019年上半年,新建公园10个", [(date(2019, 6, 30), ">=", 10, "个")],
                 id="first-half-year"),
    pytest.param("全面完成示范点建设工作,2016年底前完成",
                 [(date(2016, 12, 31), None, None, None)], id="date-closing-the-clause"),
    pytest.param("每个社区配备1名以上专业社工", [(None, ">=", 1, "名")], id="undated-quantity"),
    pytest.param("2014年出台的办法继续实施,完善相关制度", [], id="past-year-is-not-a-deadline"),
    pytest.param("推进300平方米以上的站点建设", [], id="number-with-attribute-only"),
    pytest.param("2019年1月1日至12月31日,困难企业可组织开展职工在岗培训", [],
                 id="a-period-is-not-a-deadline"),
    pytest.param("从2019年1月1日起,实施三年百万青年见习计划", [], id="a-start-is-not-a-deadline"),
    pytest.param("将补贴范围扩展至16—24岁失业青年", [], id="a-range-is-not-a-target"),
    pytest.param("可返还其上年度实际缴纳失业保险费的50%", [], id="policy-parameter"),
    pytest.param("可申请最高不超过15万元的创业担保贷款", [], id="policy-cap"),
    pytest.param("到2020年,全国农机总动力超过10亿千瓦",
                 [(date(2020, 12, 31), ">", 10, "亿千瓦")], id="unit-with-magnitude"),
    pytest.param("到2020年,能力持续提升。全国综合机械化率达到70%",
                 [(date(2020, 12, 31), None, None, None), (date(2020, 12, 31), ">=", 70, "%")],
                 id="paragraph-opening-date-governs-later-sentences"),
]


@pytest.mark.parametrize(("sentence", "expected"), TARGET_CASES)
def test_target_variants(sentence: str, expected: list[tuple[object, ...]]) -> None:
    draft = parse(f"一、总体\n1.甲工作。{sentence}。(市发改局牵头)")
    found = [(t.due, t.comparator, t.value, t.unit) for t in draft.measures[0].targets]
    assert found == expected


TARGET_CASES += [
    pytest.param("2012年起5年内,培训新型农民达到40000名",
                 [(date(2016, 12, 31), ">=", 40000, "名")], id="within-years-from-a-start"),
    pytest.param("重点扶持50个研修班和50场次名家讲座",
                 [(None, ">=", 50, "个"), (None, ">=", 50, "场次")], id="sessions-are-a-unit"),
    pytest.param("加大对35岁以下青年科技人员扶持力度", [], id="an-age-limit-is-who-qualifies"),
    pytest.param("对入选人才5年内享受政府薪酬补贴", [], id="a-dated-grant-is-not-a-goal"),
    pytest.param("在两年之内对其企业实行直通车机制", [], id="years-without-an-anchor-are-no-date"),
    pytest.param("优先支持其区域内1家符合条件的园区扩区", [], id="priority-support-is-a-grant"),
]


@pytest.mark.parametrize(
    ("body", "dues"),
    [
        pytest.param("1.甲工作。推进甲。（牵头单位：市发改委；完成时限：2024年6月底前）",
                     [date(2024, 6, 30)], id="time-label-inside-the-clause"),
        pytest.param("1.甲工作。推进甲。\n责任单位：市发改委；完成时限：9月底前",
                     [date(2016, 9, 30)], id="time-label-after-the-units-in-the-plans-year"),
        pytest.param("1.甲工作。6月底前出台细则，三季度末前全面完成。（市发改委牵头）",
                     [date(2016, 6, 30), date(2016, 9, 30)], id="dates-without-a-year"),
        pytest.param("1.甲工作。年底前建成平台，上半年完成选址。（市发改委牵头）",
                     [date(2016, 12, 31), date(2016, 6, 30)], id="year-end-and-half-year"),
        pytest.param("1.甲工作。每年12月底前报送总结。（市发改委牵头）", [],
                     id="a-recurring-month-is-no-deadline"),
    ],
)
def test_deadlines_of_an_annual_plan(body: str, dues: list[date]) -> None:
    draft = parse("一、总体\n" + body)
    assert [t.due for t in draft.measures[0].targets] == dues
    assert draft.measures[0].lead == ["市发改委"]


def test_items_numbered_with_a_closing_parenthesis() -> None:
    draft = parse(
        "一、总体\n1)甲工作。推进甲。（市发改委牵头）\n2)乙工作。推进乙。（市财政局牵头）"
    )
    assert roles(draft) == {1: (["市发改委"], []), 2: (["市财政局"], [])}


def test_numbering_restarting_under_each_second_level_heading() -> None:
    draft = parse(
        "一、总体\n（一）甲类\n1.甲工作。推进甲。（市发改委牵头）\n2.乙工作。推进乙。（市财政局牵头）\n"
        "（二）乙类\n1.丙工作。推进丙。（市教育局牵头）"
    )
    assert [(m.number, m.label) for m in draft.measures] == [
        (1, "一.(一).1"), (2, "一.(一).2"), (3, "一.(二).1")
    ]


def test_a_title_printed_over_two_lines_is_joined() -> None:
    draft = parse_plan("国务院关于促进综合保税区\n高水平开放高质量发展的若干意见\n国发〔2019〕3号\n"
                       "一、主要任务\n1.甲工作。推进甲。（海关总署负责）")
    assert draft.title == "国务院关于促进综合保税区高水平开放高质量发展的若干意见"
    assert draft.plan_year == 2019


@pytest.mark.parametrize(
    ("printed", "kept"),
    [
        pytest.param("珠府办〔2025〕5号", "珠府办〔2025〕5号", id="tortoise-shell-brackets"),
        pytest.param("粤府办【2015】8号", "粤府办【2015】8号", id="lenticular-brackets"),
        pytest.param("粤府办[2015]8号", "粤府办[2015]8号", id="square-brackets"),
        pytest.param("珠委办 〔2014〕 23 号", "珠委办〔2014〕23号", id="spaces-dropped"),
        pytest.param("国办发（2018）126号", "国办发(2018)126号", id="full-width-parentheses"),
        pytest.param("珠委办201423", "珠委办201423", id="no-brackets"),
    ],
)
def test_the_document_number_keeps_its_brackets(printed: str, kept: str) -> None:
    draft = parse_plan(f"关于推进某项工作的实施方案\n{printed}\n一、总体\n"
                       "1.甲工作。推进甲。（市发改局牵头）")
    assert draft.doc_number == kept
    assert draft.measures[0].lead == ["市发改局"]  # clauses still read 〔〕 as parentheses


def test_a_numbered_attachment_list_is_not_items() -> None:
    draft = parse_plan(
        "关于印发2022年目标任务的通知\n请认真贯彻落实。\n\n"
        "附件:1. 2022年预期目标任务分解表\n\n2. 2022年重点工作任务分解表\n"
        "3.2022年民生实事分解表\n某区人民政府办公室\n附件1\n"
        "一、预期目标\n1.地区生产总值增长5.5%左右。(区发展改革委负责)\n"
        "2.进出口总额增长5%以上。(区商务委负责)"
    )
    assert [(m.label, m.lead) for m in draft.measures] == [
        ("1", ["区发展改革委"]), ("2", ["区商务委"])
    ]


def test_a_list_is_a_title_too() -> None:
    draft = parse_plan("2025年开发区重点工作及责任清单\n一、项目\n1.优化项目服务。(招商工作部负责)")
    assert (draft.title, draft.plan_year) == ("2025年开发区重点工作及责任清单", 2025)


def test_recurring_goals_are_ongoing_without_a_date_or_warning() -> None:
    draft = parse("一、总体\n1.甲工作。每年选拔资助不少于100名青年科技人员。(市科技局牵头)")
    [target] = draft.measures[0].targets
    assert (target.due, target.comparator, target.value, target.ongoing) == (None, ">=", 100, True)
    assert not [w for w in draft.warnings if w.kind == "target_without_date"]


def test_a_bare_within_years_counts_from_the_start_the_plan_anchors() -> None:
    draft = parse(
        "一、总体\n1.目标。2012年起5年内,大力实施人才计划。\n"
        "2.甲项目。5年内重点引进100名企业家。(市委组织部牵头)"
    )
    [target] = draft.measures[1].targets
    assert (target.due, target.value) == (date(2016, 12, 31), 100)


def test_a_title_starting_with_digits_is_not_a_quantity() -> None:
    draft = parse(
        "一、人才\n10.引才项目。推进引才。（市人才办牵头）\n"
        "11.121人才梯队项目。重点培养不少于10名后备人才。（市人社局牵头）"
    )
    assert [(t.value, t.unit) for t in draft.measures[1].targets] == [(10, "名")]


def test_top_level_headings_are_measures_when_they_carry_the_clauses() -> None:
    draft = parse(
        "一、对成效明显的市，给予支持。（商务部负责）\n"
        "二、对成效明显的县，给予支持。（财政部、商务部负责）\n"
        "各有关部门于2018年12月31日前报送实施办法。从2019年起每年2月底前提出名单。"
    )
    assert [(m.label, m.lead, m.supporting) for m in draft.measures] == [
        ("一", ["商务部"], []), ("二", ["财政部"], ["商务部"])
    ]
    assert draft.sections == []
    # the closing paragraph belongs to no measure: its deadline is no measure's target
    assert draft.measures[1].targets == [] and draft.measures[1].end_line == 4


def test_unnumbered_prose_after_a_closed_measure_is_not_part_of_it() -> None:
    draft = parse(
        "一、总体\n1.甲工作。推进甲。（市发改委牵头）\n"
        "各地区要加强组织领导，确保2020年底前全面完成。"
    )
    assert draft.measures[0].targets == [] and draft.measures[0].end_line == 4


def test_undated_target_gives_a_warning_with_its_line() -> None:
    draft = parse("一、总体\n1.甲工作。每个社区配备1名以上社工。(市发改局牵头)")
    [warning] = [w for w in draft.warnings if w.kind == "target_without_date"]
    assert warning.line == 4 and warning.measure == 1


def test_chrome_around_the_plan_is_skipped() -> None:
    text = dedent(
        """\
        首页 信息公开
        当前位置:
        1.网站首页导航
        关于推进某项工作的实施方案
        2016-05-01
        一、总体要求
        1.甲工作。推进甲。(市发改局牵头)
        2.乙工作。推进乙。(市财政局牵头)

        版权所有 某市人民政府
        技术支持:某公司
        备案序号:粤ICP备12046471
        """
    )
    draft = parse_plan(text)
    assert draft.title == "关于推进某项工作的实施方案"
    assert [m.title for m in draft.measures] == ["甲工作", "乙工作"]
    assert draft.measures[-1].end_line == 8
    assert draft.plan_year == 2016


def test_per_section_numbering_becomes_running_numbers() -> None:
    draft = parse(
        "一、甲\n1.甲一。做甲。(市发改局牵头)\n2.甲二。做甲。(市发改局牵头)\n"
        "二、乙\n1.乙一。做乙。(市财政局牵头)"
    )
    assert [(m.number, m.label) for m in draft.measures] == [(1, "一.1"), (2, "一.2"), (3, "二.1")]


def test_unknown_department_is_warned_with_line() -> None:
    draft = parse("一、总体\n1.甲工作。推进甲。(市发改局牵头,市外星办配合)",
                  known=lambda name: name in {"市发改局"})
    [warning] = [w for w in draft.warnings if w.kind == "unknown_department"]
    assert "市外星办" in warning.message and warning.line == 4


def test_known_names_keep_he_whole_even_between_suffixes() -> None:
    body = "一、总体\n1.甲工作。推进甲。(市发改局牵头,市人大办和市政协办配合)"
    assert parse(body).measures[0].supporting == ["市人大办", "市政协办"]
    kept = parse(body, known=lambda name: name == "市人大办和市政协办")
    assert kept.measures[0].supporting == ["市人大办和市政协办"]


def test_configurable_patterns_read_a_different_house_style() -> None:
    body = "第一部分 总体\n第1条 甲工作。推进甲。【主责:市发改局】"
    config = ParserConfig.from_mapping(
        {
            "section_patterns": [r"^第(?P<label>[一二三四五六七八九十]+)部分\s*(?P<title>.+)$"],
            "item_patterns": [r"^第(?P<label>\d+)条\s*(?P<title>.+)$"],
            "lead_labels": ["主责"],
        }
    )
    text = HEAD + body.replace("【", "(").replace("】", ")")
    draft = parse_plan(text, config=config)
    assert draft.sections[0].title == "总体"
    assert roles(draft) == {1: (["市发改局"], [])}


ERROR_CASES = [
    pytest.param("", "文件为空", None, id="empty"),
    pytest.param("这是一段普通的文字。\n没有任何编号。", "未找到编号的措施", None, id="not-a-plan"),
    pytest.param(HEAD + "一、总体\n1.甲。做甲。(市发改局牵头)\n1.乙。做乙。(市财政局牵头)",
                 "措施编号1重复", 5, id="repeated-number"),
    pytest.param(HEAD + "一、总体\n1.甲。做甲。(市发改局牵头)\n2.乙。做乙。(市财政局配合)",
                 "未指明牵头单位", 5, id="clause-without-lead"),
    pytest.param(HEAD + "一、总体\n1.甲。做甲。\n配合单位:市财政局", "未指明牵头单位", 5,
                 id="labels-without-lead"),
    pytest.param(HEAD + "一、总体\n1.甲。做甲。(牵头单位:;配合单位:)", "未列出任何单位", 4,
                 id="labels-naming-nobody"),
]


@pytest.mark.parametrize(("text", "message", "line"), ERROR_CASES)
def test_bad_plans_raise_with_line(text: str, message: str, line: int | None) -> None:
    with pytest.raises(PlanParseError) as caught:
        parse_plan(text)
    assert message in caught.value.message
    assert caught.value.line == line


def test_bad_config_is_rejected() -> None:
    with pytest.raises(Exception, match="正则表达式无效"):
        ParserConfig.from_mapping({"item_patterns": ["(unclosed"]})
    with pytest.raises(Exception, match="未知的解析配置项"):
        ParserConfig.from_mapping({"no_such_key": []})
