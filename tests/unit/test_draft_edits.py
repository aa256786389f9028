"""Review corrections to a draft: every field checked before anything changes,
names the directory does not know resolved, warnings that follow the draft."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from duban.domain.directory import Department, DepartmentKind, Directory
from duban.domain.draft_edits import MeasureEdit, TargetEdit, apply_edits, split_names
from duban.domain.draft_names import Resolution, resolve_name, unknown_names, with_pending
from duban.domain.draft_warnings import review_warnings, warning_key
from duban.domain.errors import DirectoryError
from duban.domain.plan_draft import NewAlias, NewDepartment, ParseWarning, WarningKind
from tests.drafts import sample_draft

DIRECTORY = Directory(
    [
        Department("珠海市卫生和计划生育局", aliases=("市卫计局",)),
        Department("珠海市财政局", aliases=("市财政局",)),
        Department("珠海市民政局", aliases=("市民政局",)),
        Department("中共珠海市委社会工作部", DepartmentKind.PARTY, ("市委社管部",)),
        Department("珠海市教育局", aliases=("市教育局",)),
        Department("香洲区", DepartmentKind.DISTRICT),
    ]
)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("市卫计局", ["市卫计局"]),
        ("市卫计局、市财政局", ["市卫计局", "市财政局"]),
        (" 市卫计局,市财政局;市民政局 ", ["市卫计局", "市财政局", "市民政局"]),
        ("各县(市、区)政府、市财政局", ["各县(市、区)政府", "市财政局"]),
        ("各县（市、区）政府", ["各县（市、区）政府"]),
        ("、、", []),
        ("市财政局、各区、县级市、市民政局", ["市财政局", "各区、县级市", "市民政局"]),
        ("各有关区、县级市政府", ["各有关区、县级市政府"]),
    ],
    ids=["one", "two", "mixed-separators", "comma-inside-parens", "full-width-parens", "empty",
         "collective-kept-whole", "collective-government"],
)
def test_names_typed_in_one_box_split_outside_parentheses(raw: str, names: list[str]) -> None:
    assert split_names(raw) == names


def test_valid_edits_replace_units_and_targets_keeping_provenance() -> None:
    draft = sample_draft()
    m2 = draft.measure(2)
    assert m2 is not None
    old = m2.targets[0]
    edit = MeasureEdit(
        number=2,
        lead=["市卫计局", "市民政局"],
        supporting=["市教育局、香洲区"],
        targets=[
            TargetEdit(text=old.text, due="2016-06-30", indicator="签约率", comparator=">=",
                       value="80", unit="%", origin=0),
            TargetEdit(text="建立家庭医生考核制度", due="2015-12-31"),
            TargetEdit(text="长期坚持家庭医生随访", ongoing=True),
            TargetEdit(),  # the blank new row is ignored
        ],
        leaders=["王副市长、李副市长"],
    )

    assert apply_edits(draft, [edit]) == []

    assert m2.lead == ["市卫计局", "市民政局"]
    assert m2.supporting == ["市教育局", "香洲区"]
    assert [r.line for r in m2.responsibilities] == [7, 7, 7, 7]
    first, added, ongoing = m2.targets
    assert (first.due, first.value, first.comparator, first.line) == (
        date(2016, 6, 30), 80.0, ">=", old.line)
    assert first.source_text == old.source_text and first.due_text is None  # the date moved
    assert (added.text, added.due, added.value, added.line) == (
        "建立家庭医生考核制度", date(2015, 12, 31), None, m2.line)
    assert ongoing.ongoing and ongoing.due is None
    assert m2.leaders == ["王副市长", "李副市长"]
    assert "target_without_date" not in {w.kind for w in review_warnings(draft, DIRECTORY.knows)}


def test_a_removed_target_goes_and_an_unchanged_date_keeps_its_printed_form() -> None:
    draft = sample_draft()
    m2 = draft.measure(2)
    assert m2 is not None
    m2.targets.append(copy.deepcopy(m2.targets[0]))
    m2.targets[0].due_text = "到2015年"
    rows = [TargetEdit.of(t, i) for i, t in enumerate(m2.targets)]
    rows[1].remove = True
    assert apply_edits(draft, [MeasureEdit(2, ["市卫计局"], [], rows)]) == []
    assert len(m2.targets) == 1 and m2.targets[0].due_text == "到2015年"


@pytest.mark.parametrize(
    ("edit", "message", "field", "row"),
    [
        (MeasureEdit(2, ["市卫计局"], [], [TargetEdit(text="x", due="2015-13-45")]),
         "措施2 目标1 截止日期:“2015-13-45”不是有效日期(应为 YYYY-MM-DD)", "due", 0),
        (MeasureEdit(2, ["市卫计局"], [], [TargetEdit(text="x", comparator=">=", value="七十")]),
         "措施2 目标1 数值:“七十”不是数字", "value", 0),
        (MeasureEdit(2, ["市卫计局"], [], [TargetEdit(text="x", comparator=">=")]),
         "措施2 目标1 数值:选了比较方式,请填写数值", "value", 0),
        (MeasureEdit(2, ["市卫计局"], [], [TargetEdit(text="x", value="75")]),
         "措施2 目标1 比较:填了数值,请选择比较方式(≥、>、≤、<、约等于)", "comparator", 0),
        (MeasureEdit(2, ["市卫计局"], [], [TargetEdit(text="x", comparator="≈", value="1")]),
         "措施2 目标1 比较:“≈”无效,应为 >= > <= < = 之一", "comparator", 0),
        (MeasureEdit(2, ["市卫计局"], [], [TargetEdit(), TargetEdit(due="2015-12-31")]),
         "措施2 目标1 目标原文:不能为空(不需要此目标请勾选“删除”)", "text", 1),
        (MeasureEdit(2, ["市卫计局"], [], [TargetEdit(text="x", value="nan", comparator="=")]),
         "措施2 目标1 数值:“nan”不是有限的数字", "value", 0),
        (MeasureEdit(2, ["市卫计局"], [], [TargetEdit(text="x", unit="个" * 51)]),
         "措施2 目标1 计量单位:超过50个字符", "unit", 0),
        (MeasureEdit(2, ["市卫计局"], [], [TargetEdit(text="x", due="2015-12-31", ongoing=True)]),
         "措施2 目标1 截止日期:长期任务不设截止日期(清空日期,或取消“长期任务”)", "due", 0),
        (MeasureEdit(2, [], ["市财政局"], []),
         "措施2 牵头单位:列有配合单位但没有牵头单位", "lead", None),
        (MeasureEdit(2, ["市卫计局", "市卫计局"], [], []),
         "措施2 牵头单位:“市卫计局”重复", "lead", None),
        (MeasureEdit(2, ["市卫计局"], ["市卫计局"], []),
         "措施2 配合单位:“市卫计局”同时列为牵头和配合单位", "supporting", None),
        (MeasureEdit(2, ["市卫计局"], ["各相关单位"], []),
         "措施2 配合单位:“各相关单位”未指明具体单位,请填写具体单位名称", "supporting", None),
        (MeasureEdit(9, ["市卫计局"], [], []), "方案中没有措施9", "lead", None),
    ],
    ids=["bad-date", "bad-number", "comparator-without-value", "value-without-comparator",
         "unknown-comparator", "target-without-text", "not-finite", "long-unit",
         "ongoing-with-date", "supporting-without-lead", "duplicate", "both-roles", "vague-name",
         "no-such-measure"],
)
def test_a_bad_field_is_named_and_nothing_changes(
    edit: MeasureEdit, message: str, field: str, row: int | None
) -> None:
    draft = sample_draft()
    before = copy.deepcopy(draft)
    good = MeasureEdit(1, ["市民政局"], [], [])  # valid, but must not be applied either
    errors = apply_edits(draft, [good, edit])
    assert [(e.message, e.field, e.row) for e in errors] == [(message, field, row)]
    assert draft == before


def test_an_unknown_name_is_picked_aliased_or_created_and_undone() -> None:
    draft = sample_draft()
    m1 = draft.measure(1)
    assert m1 is not None
    m1.responsibilities[1].name = "市民政厅"  # typo of a known name
    m1.responsibilities.append(copy.copy(m1.responsibilities[1]))
    m1.responsibilities[-1].name = "市卫计委"
    m1.responsibilities.append(copy.copy(m1.responsibilities[1]))
    m1.responsibilities[-1].name = "市数据局"
    known = DIRECTORY.knows
    assert list(unknown_names(draft, known)) == ["市民政厅", "市卫计委", "市数据局"]

    assert resolve_name(draft, "市民政厅", Resolution.PICK, directory=DIRECTORY,
                        department="市民政局") is None
    assert "市民政局" in m1.supporting and "市民政厅" not in m1.supporting
    assert resolve_name(draft, "市卫计委", Resolution.ALIAS, directory=DIRECTORY,
                        department="市卫计局") is None
    assert draft.new_aliases == [NewAlias("市卫计委", "珠海市卫生和计划生育局")]
    assert resolve_name(draft, "市数据局", Resolution.CREATE, directory=DIRECTORY,
                        kind="party") is None
    assert draft.new_departments == [NewDepartment("市数据局", "party")]
    assert unknown_names(draft, with_pending(DIRECTORY, draft).knows) == {}

    resolve_name(draft, "市数据局", Resolution.UNDO, directory=DIRECTORY)
    assert list(unknown_names(draft, with_pending(DIRECTORY, draft).knows)) == ["市数据局"]


@pytest.mark.parametrize(
    ("name", "how", "department", "kind", "message"),
    [
        ("市数据局", Resolution.PICK, "市不存在局", "",
         "“市数据局”改为“市不存在局”:“市不存在局”不在机构目录中"),
        ("市数据局", Resolution.PICK, "", "", "“市数据局”:请填写对应的已有单位"),
        ("市数据局", Resolution.ALIAS, "各区", "", "不能是“各区”等统称"),
        ("市数据局", Resolution.CREATE, "", "town", "新建“市数据局”:请选择单位类型"),
        ("市卫计局", Resolution.CREATE, "", "department", "“市卫计局”已在机构目录中,无需处理"),
    ],
    ids=["pick-unknown", "pick-empty", "alias-of-collective", "bad-kind", "already-known"],
)
def test_a_bad_decision_is_refused_with_its_reason(
    name: str, how: Resolution, department: str, kind: str, message: str
) -> None:
    draft = sample_draft()
    before = copy.deepcopy(draft)
    problem = resolve_name(draft, name, how, directory=DIRECTORY, department=department,
                           kind=kind)
    assert problem is not None and message in problem
    assert draft == before


def test_pending_changes_that_clash_are_refused() -> None:
    draft = sample_draft()
    draft.new_aliases = [NewAlias("市财政局", "市卫计局")]
    with pytest.raises(DirectoryError, match="市财政局"):
        with_pending(DIRECTORY, draft)
    draft.new_aliases = [NewAlias("x", "市不存在局")]
    with pytest.raises(DirectoryError, match="市不存在局"):
        with_pending(DIRECTORY, draft)


def test_warnings_follow_the_draft_and_checked_ones_stay_checked() -> None:
    draft = sample_draft()
    m1, m2, m3 = draft.measures
    m3.responsibilities = []
    m2.targets[0].due = None
    m1.responsibilities[0].name = "市数据局"
    draft.warnings = [
        ParseWarning(WarningKind.VAGUE_DEPARTMENT, 6, "措施1的“各相关单位”未指明具体单位", 1),
        ParseWarning(WarningKind.AMBIGUOUS_CLAUSE, 1, "未找到方案标题,已用文件名代替"),
        ParseWarning(WarningKind.NO_RESPONSIBILITY, 9, "stale: recomputed instead", 3),
        ParseWarning(WarningKind.TARGET_WITHOUT_DATE, 7,
                     f"措施2的目标“{m2.targets[0].text}”没有时限(recomputed)", 2),
        ParseWarning(WarningKind.TARGET_WITHOUT_DATE, 9, "措施3的完成时限“适时”无法识别为日期", 3),
    ]
    warnings = review_warnings(draft, DIRECTORY.knows)
    summary = [(w.kind, w.measure, w.checkable) for w in warnings]
    assert summary == [
        ("ambiguous_clause", None, True),
        ("vague_department", 1, True),
        ("unknown_department", 1, False),
        ("target_without_date", 2, True),
        ("target_without_date", 3, True),
        ("no_responsibility", 3, True),
    ]
    assert "措施3“办好社区教育”没有牵头单位,导入后不会交办" in warnings[-1].message
    assert "“适时”无法识别为日期" in warnings[-2].message

    draft.reviewed = [warnings[1].key, warnings[2].key]  # an unknown name cannot be ticked off
    again = review_warnings(draft, DIRECTORY.knows)
    assert [w.checked for w in again] == [False, True, False, False, False, False]

    m2.targets[0].due = date(2015, 12, 31)
    left = [w.measure for w in review_warnings(draft, DIRECTORY.knows)
            if w.kind == "target_without_date"]
    assert left == [3]
    assert warning_key("x", 1, "a") == warning_key("x", 1, "a") != warning_key("x", 2, "a")
