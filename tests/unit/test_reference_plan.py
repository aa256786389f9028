"""The reference plan (../shared/plans) parsed exactly: every clause and target."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from duban.domain.plan_draft import PlanDraft
from duban.services.accounts.directory import load_directory_file
from duban.services.plans.files import parse_plan_file
from tests.paths import REFERENCE_PLAN, default_directory_file

# measure -> (lead, supporting) exactly as printed, 各区 as its own entry.
CLAUSES: dict[int, tuple[list[str], list[str]]] = {
    4: (["市委社管部"], ["市海洋农业和水务局", "市财政局", "市教育局", "市文化体育旅游局",
                        "市卫计局", "市人社局", "市民政局", "市住规建局", "各区"]),
    5: (["市教育局"], ["市编办", "市财政局", "市公安局", "市卫计局", "市人社局", "市妇联", "各区"]),
    6: (["市人社局"], ["市总工会"]),
    7: (["市发改局"], ["市商务局", "市人社局", "市工商局", "市民政局"]),
    8: (["市委社管部"], ["市人社局", "市民政局", "市住规建局", "各区"]),
    9: (["市卫计局"], ["市食药监局", "市文化体育旅游局"]),
    10: (["市民政局"], ["各区"]),
    11: (["市委社管部"], ["市委组织部", "市住规建局", "市民政局", "市信息化办", "各区"]),
    12: (["市委社管部"], ["市民政局", "市政务服务局", "市海洋农业和水务局", "各区"]),
    13: (["市委社管部"], ["市编办", "市法制局", "市民政局", "各区"]),
    14: (["市民政局"], []),
    15: (["市委社管部"], ["市总工会", "团市委", "市妇联"]),
    16: (["市民政局"], ["市财政局", "市编办"]),
    17: (["市文明办"], ["团市委"]),
    18: (["市委社管部"], ["市人大常委会办公室", "市政协办", "党联办"]),
    19: (["市委社管部"], ["市法制局", "市人大常委会法工委"]),
    20: (["市依法治市办"], ["市法制局"]),
    21: (["市委政法委"], ["市委宣传部", "各区"]),
    22: (["市委政法委"], ["市信访局", "各区"]),
    23: (["市委政法委"], ["市公安局", "市安监局", "市食药监局"]),
    24: (["市委社管部"], ["市公安局", "市卫计局", "市人社局", "市总工会", "团市委", "市妇联"]),
    25: (["市委宣传部"], ["市公安局", "市政务服务局", "市文明办", "市信息化办", "各区"]),
    26: (["市委社管部"], ["市委组织部", "市民政局", "各区"]),
    27: (["市财政局"], ["市发改局", "市民政局"]),
    28: (["市委宣传部"], ["市文明办"]),
    29: (["市委社管部"], ["市民政局", "团市委"]),
    30: (["市委社管部"], ["市信息化办", "市政务服务局", "各区"]),
}

# Every quantified target: (measure, due, indicator, comparator, value, unit).
Y15, Y16, Y17 = date(2015, 12, 31), date(2016, 12, 31), date(2017, 12, 31)
QUANTIFIED = [
    (8, Y15, "城乡居民基本医疗保险和医疗政策范围内的住院报销比例", ">=", 75, "%"),
    (8, Y15, "全市保障性住房覆盖率", "=", 20, "%"),
    (8, Y15, "每千名老人拥有养老床位", ">=", 30, "张"),
    (9, Y17, "城乡每万名居民有合格的全科医生", ">=", 23, "名"),
    (10, Y15, "直选比例", ">=", 40, "%"),
    (10, Y15, "规范达标率", ">=", 70, "%"),
    (12, Y15, "行政村实现社区化建设和管理的比例", ">=", 20, "%"),
    (12, Y15, "行政村建有300平方米以上的公共服务站的比例", ">=", 30, "%"),
    (17, Y15, "全市注册志愿者占常住人口的比例", ">=", 10, "%"),
    (17, Y15, "全市参加过志愿服务的人数占常住人口的比例", ">=", 30, "%"),
    (24, Y16, "每个行政区建立以工业园区为中心的异地务工人员社会服务机构", ">=", 1, "个"),
    (29, Y17, "全市每万人中社工", ">=", 10, "名"),
    (29, None, "每个社区配备专业社工", ">=", 1, "名"),
    (30, Y15, "政务公开信息实现网上发布的比例", ">=", 100, "%"),
    (30, Y15, "行政许可事项网上办理率", ">", 90, "%"),
]

# Dated goals without a number: (measure, due).
DATED = [
    (3, Y16), (3, date(2020, 12, 31)), (4, date(2020, 12, 31)), (5, date(2020, 12, 31)),
    (8, Y17), (9, date(2020, 12, 31)), (11, Y15), (14, Y15), (14, Y15), (14, Y17),
    (14, date(2020, 12, 31)), (15, Y15), (16, Y17), (16, date(2020, 12, 31)),
]


@pytest.fixture(scope="module")
def draft() -> PlanDraft:
    directory = load_directory_file(default_directory_file())
    parsed, _text = parse_plan_file(REFERENCE_PLAN, directory=directory)
    return parsed


def test_title_number_and_structure(draft: PlanDraft) -> None:
    assert draft.title == "关于创建社会建设示范市的工作方案"
    assert draft.doc_number == "珠委办201423"
    assert draft.plan_year == 2014
    assert [m.number for m in draft.measures] == list(range(1, 31))
    assert [s.label for s in draft.sections] == list("一二三四五六七")
    assert draft.measure(4).section == 2 and draft.measure(30).section == 7
    assert draft.measure(5).title == "办好人民满意的教育"
    assert draft.measure(23).title == "强化动态应急管理责任,维护社会公共安全"


def test_every_responsibility_clause_exactly(draft: PlanDraft) -> None:
    with_clause = {m.number: (m.lead, m.supporting) for m in draft.measures if m.responsibilities}
    assert with_clause == CLAUSES


def test_measures_without_clause_are_warned(draft: PlanDraft) -> None:
    no_resp = [w.measure for w in draft.warnings if w.kind == "no_responsibility"]
    assert no_resp == [1, 2, 3]


def test_vague_supporting_units_are_warned_not_listed(draft: PlanDraft) -> None:
    vague = [(w.measure, w.line) for w in draft.warnings if w.kind == "vague_department"]
    assert vague == [(14, 78)]


def test_every_quantified_target(draft: PlanDraft) -> None:
    found = [
        (m.number, t.due, t.indicator, t.comparator, t.value, t.unit)
        for m in draft.measures
        for t in m.targets
        if t.value is not None
    ]
    assert found == QUANTIFIED


def test_every_dated_goal(draft: PlanDraft) -> None:
    found = [(m.number, t.due) for m in draft.measures for t in m.targets if t.value is None]
    assert found == DATED


def test_target_lines_point_at_the_source(draft: PlanDraft) -> None:
    lines = Path(REFERENCE_PLAN).read_text(encoding="utf-8").splitlines()
    for measure in draft.measures:
        for target in measure.targets:
            assert target.text.split(",")[-1][:6] in lines[target.line - 1].replace(",", ",")


def test_undated_target_is_warned_with_its_line(draft: PlanDraft) -> None:
    undated = [(w.measure, w.line) for w in draft.warnings if w.kind == "target_without_date"]
    assert undated == [(29, 114)]


def test_known_directory_gives_no_unknown_names(draft: PlanDraft) -> None:
    assert not [w for w in draft.warnings if w.kind == "unknown_department"]


def test_horizon_is_the_latest_deadline(draft: PlanDraft) -> None:
    assert draft.horizon == date(2020, 12, 31)
