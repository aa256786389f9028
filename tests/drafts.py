"""Plan drafts built by hand, so database tests do not depend on the parser."""

from __future__ import annotations

import hashlib
from datetime import date

from duban.domain.plan_draft import Measure, PlanDraft, Responsibility, Role, Section, Target

SAMPLE_SOURCE = "\n".join(
    [
        "关于加强社会建设的工作方案(测试)",  # 1
        "珠委办〔2014〕99号",  # 2
        "",  # 3
        "一、创新社会治理",  # 4
        "1.推进网格化管理。到2015年,网格化管理全面推开。",  # 5
        "(市委社管部牵头,市民政局和各区配合)",  # 6
        "2.推进家庭医生签约。到2015年,家庭医生签约率达到75%以上。(市卫计局牵头,市财政局配合)",  # 7
        "二、改善民生",  # 8
        "3.办好社区教育。(各区、市教育局牵头)",  # 9
    ]
)
SAMPLE_DOC_NUMBER = "珠委办〔2014〕99号"


def lead(name: str, line: int) -> Responsibility:
    return Responsibility(name=name, role=Role.LEAD, line=line)


def supporting(name: str, line: int) -> Responsibility:
    return Responsibility(name=name, role=Role.SUPPORTING, line=line)


def sample_draft() -> PlanDraft:
    """Three measures in two sections; aliases, a collective and two kinds of target."""
    return PlanDraft(
        title="关于加强社会建设的工作方案(测试)",
        doc_number=SAMPLE_DOC_NUMBER,
        plan_year=2014,
        horizon=date(2020, 12, 31),
        source_name="sample-plan.txt",
        source_sha256=hashlib.sha256(SAMPLE_SOURCE.encode("utf-8")).hexdigest(),
        sections=[
            Section(number=1, label="一", title="创新社会治理", line=4),
            Section(number=2, label="二", title="改善民生", line=8),
        ],
        measures=[
            Measure(
                number=1,
                label="1",
                title="推进网格化管理",
                text="推进网格化管理。到2015年,网格化管理全面推开。",
                line=5,
                end_line=6,
                section=1,
                clause="市委社管部牵头,市民政局和各区配合",
                clause_line=6,
                responsibilities=[
                    lead("市委社管部", 6),
                    supporting("市民政局", 6),
                    supporting("各区", 6),
                ],
                targets=[
                    Target(
                        text="到2015年,网格化管理全面推开",
                        line=5,
                        due=date(2015, 12, 31),
                        due_text="到2015年",
                        source_text="到2015年,网格化管理全面推开。",
                    )
                ],
            ),
            Measure(
                number=2,
                label="2",
                title="推进家庭医生签约",
                text="推进家庭医生签约。到2015年,家庭医生签约率达到75%以上。",
                line=7,
                end_line=7,
                section=1,
                clause="市卫计局牵头,市财政局配合",
                clause_line=7,
                responsibilities=[lead("市卫计局", 7), supporting("市财政局", 7)],
                targets=[
                    Target(
                        text="到2015年,家庭医生签约率达到75%以上",
                        line=7,
                        due=date(2015, 12, 31),
                        due_text="到2015年",
                        indicator="家庭医生签约率",
                        comparator=">=",
                        value=75.0,
                        unit="%",
                        source_text="到2015年,家庭医生签约率达到75%以上。",
                    )
                ],
            ),
            Measure(
                number=3,
                label="3",
                title="办好社区教育",
                text="办好社区教育。",
                line=9,
                end_line=9,
                section=2,
                clause="各区、市教育局牵头",
                clause_line=9,
                responsibilities=[lead("各区", 9), lead("市教育局", 9)],
            ),
        ],
    )
