"""The ledger of the small world: rows, history, the workbook's layout and
colours (read back with openpyxl) and the CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.scorecard import Period
from duban.domain.status import Light, TaskStatus
from duban.services.reports.ledger import build_ledger
from duban.services.reports.ledger_files import (
    LEDGER_COLUMNS,
    write_ledger_csv,
    write_ledger_xlsx,
)
from duban.services.reports.ledger_styles import LIGHT_FILLS
from duban.services.reports.scorecard import scorecard_from_ledger
from duban.services.tasks import lifecycle
from tests.db.conftest import CIVIL, HEALTH, HR, XIANGZHOU, at
from tests.reports.conftest import History

AS_OF = date(2016, 1, 29)
HEADERS = [c.header for c in LEDGER_COLUMNS]


def test_rows_carry_status_and_history(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    ledger = build_ledger(session_factory, as_of=AS_OF, calendar=history.calendar)
    rows = {row.task_id: row for row in ledger.rows}
    world = history.world
    assert [r.task_id for r in ledger.rows] == [
        world.lead,
        world.support,
        world.district,
        world.later,
        world.single,
    ]
    lead = rows[world.lead]
    assert (lead.measure, lead.department, lead.role_label) == (8, HEALTH, "牵头")
    assert lead.lead_departments == [] and lead.supporting_departments == []  # seeded bare
    assert next(t.goal for t in lead.targets if t.goal).endswith("≥75%")
    assert lead.targets[0].latest == 66.0
    assert lead.status is TaskStatus.DONE_ON_TIME and lead.light is Light.GREEN
    assert lead.latest_progress is not None and lead.latest_progress.startswith("二季度:出台方案")
    assert (lead.latest_progress_on, lead.report_count) == (date(2015, 7, 20), 2)
    assert (lead.submitted_on, lead.completed_on) == (date(2015, 12, 28), date(2016, 1, 5))
    single = rows[world.single]
    assert (single.due, single.original_due) == (date(2016, 1, 15), date(2015, 12, 31))
    assert single.extensions == ["2015-12-31→2016-01-15(已同意)"]
    assert single.status is TaskStatus.DONE_AFTER_EXTENSION
    district = rows[world.district]
    assert (district.department, district.named_as) == (XIANGZHOU, "各区")
    assert district.status is TaskStatus.OVERDUE and district.light is Light.RED
    assert [str(e) for e in district.escalations] == [
        "2015-12-18 催办",
        "2015-12-24 黄色督办",
        "2015-12-31 红色督办",
    ]
    assert rows[world.later].light is Light.YELLOW  # Q1 and Q2 reports missing
    # History stops at as_of: on 2015-12-20 the 12-24 督办 has not happened.
    earlier = build_ledger(session_factory, as_of=date(2015, 12, 20), calendar=history.calendar)
    assert [e.level for e in {r.task_id: r for r in earlier.rows}[world.district].escalations] == [
        1
    ]
    sections = ledger.by_section()
    # 市民政局's support task was submitted after its due date: 逾期办结, not green.
    assert rows[world.support].light is Light.LATE
    assert [(s.tasks, s.red, s.yellow, s.late, s.green) for s in sections] == [(5, 1, 1, 1, 2)]
    departments = {s.name: s for s in ledger.by_department()}
    assert departments[HEALTH].tasks == 2 and departments[CIVIL].approved == 1
    assert departments[HR].extended == 1 and departments[XIANGZHOU].escalated == 1


def test_workbook_layout_colours_and_csv(
    history: History, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    # User text that looks like a formula, with a control character in it.
    lifecycle.report(
        history.world.later,
        department=HEALTH,
        note='=HYPERLINK("http://x")\x07',
        now=at("2016-01-20"),
        session_factory=session_factory,
    )
    ledger = build_ledger(session_factory, as_of=AS_OF, calendar=history.calendar)
    card = scorecard_from_ledger(ledger, period=Period(), calendar=history.calendar)
    path = write_ledger_xlsx(ledger, tmp_path / "台账.xlsx", scorecard=card)
    book = load_workbook(path)
    assert book.sheetnames == ["台账", "按章节汇总", "按单位汇总", "考核", "说明"]
    sheet = book["台账"]
    # A title row, 制表单位 and the day, then the header and numbered rows.
    assert sheet["A1"].value == "珠海市加快社会建设工作方案督办台账(截至2016年1月29日)"
    assert sheet["A2"].value == "制表单位:督办科"
    assert any(c.value == "截至:2016-01-29" for c in sheet[2])
    assert [c.value for c in sheet[3]] == ["序号", *HEADERS]
    assert [sheet.cell(r, 1).value for r in range(4, sheet.max_row + 1)] == [1, 2, 3, 4, 5]
    assert sheet.freeze_panes == "A4" and sheet.print_title_rows == "$3:$3"
    assert sheet.auto_filter.ref == f"A3:{sheet.cell(3, len(HEADERS) + 1).column_letter}8"
    assert sheet.column_dimensions["D"].width == 24
    assert all(each.oddFooter.center.text == "第 &P 页,共 &N 页" for each in book.worksheets)
    light_col = HEADERS.index("灯色") + 2
    id_col = HEADERS.index("任务编号") + 2
    by_id = {sheet.cell(r, id_col).value: r for r in range(4, sheet.max_row + 1)}
    for row in ledger.rows:
        cell = sheet.cell(by_id[row.task_id], light_col)
        assert cell.value == row.light_label
        assert cell.fill.fgColor.rgb == LIGHT_FILLS[row.light]
    due = sheet.cell(by_id[history.world.single], HEADERS.index("完成时限") + 2)
    assert due.value.date() == date(2016, 1, 15) and due.number_format == "yyyy-mm-dd"
    assert sheet.cell(
        by_id[history.world.single], HEADERS.index("原定时限") + 2
    ).value.date() == date(2015, 12, 31)
    note = sheet.cell(by_id[history.world.later], HEADERS.index("最新进展") + 2)
    # Text a spreadsheet would run stays text (see tests/security/test_exports.py).
    assert (note.value, note.data_type) == ("'=HYPERLINK(\"http://x\")", "s")
    scores = book["考核"]
    assert scores.cell(2, 2).value == HEALTH and scores.freeze_panes == "A2"
    per_department = book["按单位汇总"]
    assert per_department.cell(per_department.max_row, 1).value == "合计"
    assert per_department.cell(per_department.max_row, 3).value == 5  # tasks
    assert per_department.cell(per_department.max_row, 2).value == 2  # measures, once each
    with write_ledger_csv(ledger, tmp_path / "ledger.csv").open(encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    assert table[0] == HEADERS and len(table) == 6
    single = next(r for r in table if r[HEADERS.index("任务编号")] == str(history.world.single))
    assert single[HEADERS.index("完成时限")] == "2016-01-15"
    assert single[HEADERS.index("灯色")] == "绿灯"
