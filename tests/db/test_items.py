"""Single 督办件: a measure of the year's standing plan (created on first use),
assigned like any measure, shown with its source in the ledger; the standing
plan cannot be overwritten by an import nor taken for "the only plan"."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DirectoryError, DubanError
from duban.domain.items import Item, ItemSource
from duban.domain.periods import Period
from duban.services.calendar.data import build_work_calendar
from duban.services.plans.assignment import assign_measure
from duban.services.plans.catalog import find_plan
from duban.services.plans.importer import import_plan
from duban.services.plans.items import add_item, list_items
from duban.services.reports.ledger import build_ledger, stream_ledger
from duban.services.reports.ledger_files import (
    ledger_columns,
    write_ledger_xlsx,
    write_streamed_ledger_xlsx,
)
from duban.services.reports.ledger_tally import ScoreTally
from duban.services.reports.scorecard import scorecard_from_ledger
from models import AuditEntry, Department, Measure, Plan, Section, Task
from tests.conftest import WriteLog
from tests.drafts import sample_draft
from tests.reports.test_ledger_streamed import _parts

pytestmark = pytest.mark.usefixtures("synced_directory")

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
INSTRUCTION = Item(
    source=ItemSource.INSTRUCTION, doc_ref="市府办批〔2025〕12号", title="社区医院夜间门诊",
    text="请市卫计局研究解决社区医院夜间门诊不足问题。", lead=("市卫计局",),
    supporting=("市财政局", "各区"), due=date(2025, 6, 30), leader="张市长",
)
MEETING = Item(
    source=ItemSource.MEETING, doc_ref=None, title="课后服务全覆盖",
    text="会议议定:9月开学前完成中小学课后服务全覆盖。", lead=("珠海市教育局",),
    supporting=(), due=date(2025, 8, 29), leader=None,
)


def add(session_factory: sessionmaker[Session], item: Item, now: datetime = NOW) -> int:
    return add_item(item, session_factory=session_factory, now=now, zone=ZONE,
                    actor="督办科(张科长)").number


def test_items_become_numbered_measures_of_the_years_standing_plan_and_are_assigned(
    session_factory: sessionmaker[Session],
) -> None:
    import_plan(sample_draft(), session_factory=session_factory, now=NOW)
    first = add_item(INSTRUCTION, session_factory=session_factory, now=NOW, zone=ZONE,
                     actor="督办科(张科长)")
    assert (first.plan, first.number, first.created_plan) == ("2025年督办件", 1, True)
    assert add(session_factory, MEETING) == 2
    # Late on 31 December in Shanghai is already the next year: a new standing plan.
    assert add_item(MEETING, session_factory=session_factory,
                    now=datetime(2025, 12, 31, 17, 0, tzinfo=UTC), zone=ZONE,
                    actor="x").plan == "2026年督办件"

    with session_factory() as session:
        plan = session.scalars(select(Plan).where(Plan.key == "2025年督办件")).one()
        assert (plan.kind, plan.title, plan.plan_year, plan.horizon) == (
            "standing", "2025年督办件", 2025, date(2025, 12, 31))
        sections = session.scalars(select(Section.title).where(Section.plan_id == plan.id)
                                   .order_by(Section.number)).all()
        assert sections == ["领导批示", "会议纪要"]  # one per source, in the list's order
        measure = session.scalars(select(Measure).where(Measure.plan_id == plan.id,
                                                        Measure.number == 1)).one()
        assert (measure.source_kind, measure.doc_ref, measure.instructed_by) == (
            "instruction", "市府办批〔2025〕12号", "张市长")
        assert [(t.due, t.text) for t in measure.targets] == [
            (date(2025, 6, 30), "2025年6月30日前办结")]
        units = {(r.named_as, r.role, r.collective) for r in measure.responsibilities}
        assert units == {("市卫计局", "lead", False), ("市财政局", "supporting", False),
                         ("各区", "supporting", True)}
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "add_item")) == 3
        # The imported plan stays "the only plan" for commands that name none.
        assert find_plan(None, session=session).key == "珠委办〔2014〕99号"

    calendar = build_work_calendar([])
    result = assign_measure(session_factory, plan="2025年督办件", measure=1, now=NOW,
                            calendar=calendar)
    with session_factory() as session:
        districts = session.scalar(select(func.count()).select_from(Department)
                                   .where(Department.kind == "district"))
        lead = session.scalars(select(Task).where(Task.id.in_(result.created),
                                                  Task.role == "lead")).one()
    assert len(result.created) == 2 + (districts or 0)
    assert lead.due == date(2025, 6, 30)

    ledger = build_ledger(session_factory, as_of=date(2025, 3, 3), calendar=calendar,
                          plan="2025年督办件")
    headers = [c.header for c in ledger_columns(ledger)]
    assert headers[headers.index("措施名称") + 1] == "来源及文号"
    assert {r.item_source for r in ledger.rows} == {"领导批示 · 市府办批〔2025〕12号 · 张市长批示"}
    plain = build_ledger(session_factory, as_of=date(2025, 3, 3), calendar=calendar,
                         plan="珠委办〔2014〕99号")
    assert "来源及文号" not in [c.header for c in ledger_columns(plain)]

    listed = list_items(session_factory, year=2025)
    assert [(i.number, i.source_label, i.lead, i.due) for i in listed] == [
        (1, "领导批示", ["市卫计局"], date(2025, 6, 30)),
        (2, "会议纪要", ["珠海市教育局"], date(2025, 8, 29)),
    ]


def test_a_unit_gone_from_the_directory_or_an_import_over_the_standing_plan_writes_nothing(
    session_factory: sessionmaker[Session], writes: WriteLog
) -> None:
    add(session_factory, INSTRUCTION)
    writes.clear()
    gone = replace(INSTRUCTION, lead=("市不存在局",))
    with pytest.raises(DirectoryError, match="市不存在局"):
        add(session_factory, gone)
    draft = sample_draft()
    draft.doc_number, draft.title = None, "2025年督办件"
    with pytest.raises(DubanError, match="督办件汇总"):
        import_plan(draft, session_factory=session_factory, now=NOW)
    assert writes.statements == []


def test_a_ledger_of_items_and_a_plan_streamed_is_the_workbook_held(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Streamed, a ledger of several plans with 督办件 (方案 first, 来源及文号
    after the measure's name) is the held workbook part for part."""
    import_plan(sample_draft(), session_factory=session_factory, now=NOW)
    add(session_factory, INSTRUCTION)
    add(session_factory, MEETING)
    calendar = build_work_calendar([])
    for plan, measure in (("2025年督办件", 1), ("2025年督办件", 2), ("珠委办〔2014〕99号", 1)):
        assign_measure(session_factory, plan=plan, measure=measure, now=NOW, calendar=calendar)
    as_of = date(2025, 3, 3)
    ledger = build_ledger(session_factory, as_of=as_of, calendar=calendar, all_plans=True)
    assert len(ledger.plans) > 1 and any(r.item_source for r in ledger.rows)
    assert any(not r.item_source for r in ledger.rows)
    card = scorecard_from_ledger(ledger, period=Period(), calendar=calendar)
    held = write_ledger_xlsx(ledger, tmp_path / "held.xlsx", scorecard=card,
                             base_url="http://127.0.0.1:8000/")
    scoring = ScoreTally(as_of, Period(), calendar, batch=2)
    with session_factory() as session:
        stream = stream_ledger(session, as_of=as_of, calendar=calendar, all_plans=True, batch=2)
        write_streamed_ledger_xlsx(stream, tmp_path / "streamed.xlsx", scoring=scoring,
                                   base_url="http://127.0.0.1:8000/")
    assert scoring.scorecard(ledger) == card
    assert _parts(tmp_path / "streamed.xlsx") == _parts(held)
