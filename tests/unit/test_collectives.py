"""Collective names of local governments expand like 各区, however a plan lists them."""

from __future__ import annotations

import pytest

from duban.domain.directory import Department, DepartmentKind, Directory, collective_kind
from duban.domain.plan_parser import parse_plan
from duban.services.plans.draft_io import dump_draft, load_draft


@pytest.mark.parametrize(
    "name",
    ["各区", "各区、县级市", "各有关区、县级市", "各县（市、区）政府", "各县(市、区)政府(管委会)",
     "各县、市、区政府", "各区县政府", "各乡镇"],
)
def test_local_government_collectives_expand_to_every_district(name: str) -> None:
    directory = Directory([Department("香洲区", DepartmentKind.DISTRICT), Department("市财政局")])
    assert collective_kind(name) is DepartmentKind.DISTRICT
    assert [d.name for d in directory.expand(name)] == ["香洲区"]
    assert directory.knows(name)


@pytest.mark.parametrize("name", ["各省级人民政府", "各开发区管委会", "各部门", "区直各部门"])
def test_other_names_starting_with_ge_are_not_district_collectives(name: str) -> None:
    assert collective_kind(name) is None


def test_leaders_and_ongoing_targets_survive_the_draft_file() -> None:
    draft = parse_plan(
        "某工作方案\n一、总体\n1.甲工作。推进甲。\n分管领导：张三\n牵头单位：市发改委\n完成时限：长期坚持"
    )
    again = load_draft(dump_draft(draft))
    [measure] = again.measures
    assert measure.leaders == ["张三"]
    assert [(t.ongoing, t.due) for t in measure.targets] == [(True, None)]
