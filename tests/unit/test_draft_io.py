"""The YAML draft keeps what review decided: directory changes, checked
warnings, warnings with their measure; a bad directory block is named."""

from __future__ import annotations

import pytest

from duban.domain.errors import DraftError
from duban.domain.plan_draft import NewAlias, NewDepartment, ParseWarning, WarningKind
from duban.services.plans.draft_io import dump_draft, load_draft
from tests.drafts import sample_draft


def test_directory_changes_reviewed_keys_and_warnings_survive_a_round_trip() -> None:
    draft = sample_draft()
    draft.new_departments = [NewDepartment("市数据局", "party")]
    draft.new_aliases = [NewAlias("市卫计委", "珠海市卫生和计划生育局")]
    draft.reviewed = ["vague_department:1:abc"]
    draft.warnings = [ParseWarning(WarningKind.VAGUE_DEPARTMENT, 6, "措施1的“各相关单位”…", 1)]
    text = dump_draft(draft)
    assert "directory:\n  new_departments:\n  - name: 市数据局\n    kind: party" in text
    assert load_draft(text) == draft
    plain = sample_draft()
    assert "directory:" not in dump_draft(plain) and load_draft(dump_draft(plain)) == plain


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("directory: [x]", "草稿 directory:应为包含 new_departments 和/或 aliases 的映射"),
        ("directory: {new_departments: [{name: 市数据局, kind: town}]}",
         "草稿 directory new_departments 第1项:kind“town”无效"),
        ("directory: {aliases: [{alias: 市卫计委}]}",
         "草稿 directory aliases 第1项:应为包含 alias 和 department 的映射"),
    ],
    ids=["not-a-mapping", "bad-kind", "alias-without-department"],
)
def test_a_bad_directory_block_is_named(block: str, message: str) -> None:
    text = dump_draft(sample_draft()) + block + "\n"
    with pytest.raises(DraftError) as info:
        load_draft(text)
    assert message in str(info.value)
