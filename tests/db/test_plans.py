"""Reading stored plans back: summaries and measure details."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.services.plans.catalog import list_plans, show_plan
from duban.services.plans.importer import import_plan
from tests.drafts import SAMPLE_DOC_NUMBER, SAMPLE_SOURCE, sample_draft

pytestmark = pytest.mark.usefixtures("synced_directory")


@pytest.fixture
def imported(session_factory: sessionmaker[Session]) -> int:
    report = import_plan(sample_draft(), session_factory=session_factory, source_text=SAMPLE_SOURCE)
    assert report.plan_id is not None
    return report.plan_id


def test_list_plans_counts_measures_and_responsibilities(
    session_factory: sessionmaker[Session], imported: int
) -> None:
    import_plan(
        replace(
            sample_draft(), doc_number="珠委办〔2015〕1号", measures=sample_draft().measures[:1]
        ),
        session_factory=session_factory,
    )
    with session_factory() as session:
        summaries = list_plans(session=session)
    assert [(s.key, s.measure_count, s.responsibility_count) for s in summaries] == [
        (SAMPLE_DOC_NUMBER, 3, 7),
        ("珠委办〔2015〕1号", 1, 3),
    ]
    assert summaries[0].id == imported


def test_show_plan_lists_measures_with_printed_and_official_names(
    session_factory: sessionmaker[Session], imported: int
) -> None:
    with session_factory() as session:
        detail = show_plan(session=session)
    assert detail.id == imported and detail.has_source_text
    assert [m.number for m in detail.measures] == [1, 2, 3]
    m1 = detail.measures[0]
    assert m1.section == "一、创新社会治理"
    assert [(r.named_as, r.department) for r in m1.lead] == [
        ("市委社管部", "中共珠海市委社会工作部")
    ]
    assert [(r.named_as, r.department, r.collective) for r in m1.supporting] == [
        ("市民政局", "珠海市民政局", False),
        ("各区", None, True),
    ]
    assert all(m.source_excerpt is None for m in detail.measures)


def test_show_one_measure_has_targets_and_the_source_lines(
    session_factory: sessionmaker[Session], imported: int
) -> None:
    with session_factory() as session:
        detail = show_plan(str(imported), 1, session=session)
        by_key = show_plan(SAMPLE_DOC_NUMBER, 2, session=session)
    [measure] = detail.measures
    assert (
        measure.source_excerpt
        == "1.推进网格化管理。到2015年,网格化管理全面推开。\n(市委社管部牵头,市民政局和各区配合)"
    )
    [target] = by_key.measures[0].targets
    assert (target.indicator, target.comparator, target.value, target.unit) == (
        "家庭医生签约率",
        ">=",
        75.0,
        "%",
    )
    assert target.due is not None and target.due.isoformat() == "2015-12-31"
    data = by_key.to_dict()
    assert data["measures"][0]["targets"][0]["due"] == "2015-12-31"
    assert data["measures"][0]["lead"][0]["department"] == "珠海市卫生和计划生育局"


def test_missing_plans_and_measures_are_named(
    session_factory: sessionmaker[Session], imported: int
) -> None:
    with session_factory() as session:
        with pytest.raises(NotFoundError, match="没有第9项措施"):
            show_plan(None, 9, session=session)
        with pytest.raises(NotFoundError, match="找不到工作方案“珠委办〔1999〕1号”"):
            show_plan("珠委办〔1999〕1号", session=session)
    import_plan(
        replace(sample_draft(), doc_number="珠委办〔2015〕1号"), session_factory=session_factory
    )
    with session_factory() as session, pytest.raises(DubanError, match="请用 --plan 指定"):
        show_plan(session=session)


def test_no_plans_yet(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        assert list_plans(session=session) == []
        with pytest.raises(NotFoundError, match="还没有导入任何工作方案"):
            show_plan(session=session)
