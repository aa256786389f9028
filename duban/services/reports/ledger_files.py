"""The ledger as files: an .xlsx workbook (openpyxl) and a CSV for programs.

Workbook sheets, all with Chinese headers, a frozen header row, filters,
column widths, and print settings (landscape, fit to page width, header row
repeated on every page):

- 台账: a title row (``…督办台账(截至2016年1月29日)``), a row with the
  制表单位 and the day, then the header and one numbered row (序号) per task
  (:data:`LEDGER_COLUMNS`); the light column is filled with its colour
  (:data:`~duban.services.reports.ledger_styles.LIGHT_FILLS`), dates are date cells;
- 按章节汇总 / 按单位汇总: counts per section and per department, with a
  合计 row;
- 考核: the department scorecard, when one is given;
- 说明: the day, the light legend and the scoring formula.

Every printed page carries the 制表单位 and the day in its header and
``第 N 页,共 M 页`` in its footer. Departments come in the directory's order
(机构序列) and by their full names. :func:`ledger_file_name` is the Chinese
name a download is offered under.

Values are written, never formulas, so a reader without a calculation engine
(openpyxl, pandas) sees the same numbers as Excel or LibreOffice. Text that a
spreadsheet would take for a formula (starting with ``= + - @``, a tab or a
carriage return: a note ``=HYPERLINK(…)``, a department named ``+cmd|…``) is
written with a ``'`` in front (:func:`neutralise`), in the CSV and in every
sheet of the workbook, so it stays text when opened, edited or re-saved.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import repeat
from operator import attrgetter, call, itemgetter
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from duban.domain.labels import LEVEL_LABELS
from duban.domain.status import LIGHT_LABELS, LIGHT_MEANINGS, Light
from duban.services.reports.ledger import LedgerStream
from duban.services.reports.ledger_cells import LedgerCells, TallyRow
from duban.services.reports.ledger_model import Ledger, LedgerRow, SummaryRow
from duban.services.reports.ledger_rows import TaskColumns
from duban.services.reports.ledger_stream import SheetRows, save_workbook
from duban.services.reports.ledger_styles import (
    CellStyles,
    add_filter,
    layout,
    neutralise,
    new_sheet,
    row_height,
)
from duban.services.reports.ledger_tally import LedgerTally, ScoreTally
from duban.services.reports.scorecard import COUNT_COLUMNS, NO_SCORE, Scorecard, weights_description

SHEET_LEDGER = "台账"
StyleRow = tuple[tuple[str, ...], ...]  # the style parts of each column of a row


@dataclass(frozen=True)
class Column:
    """A ledger column: header, width (characters), and the cell value of a row."""

    header: str
    width: float
    value: Callable[[LedgerRow], Any]  # attrgetter for an attribute (a C call per row)
    wrap: bool = False


_TEXT, _GOAL, _LATEST = attrgetter("text"), attrgetter("goal"), attrgetter("latest_text")


# A streamed ledger's cells are made in this order without a row
# (ledger_cells.LedgerCells.cells): change both together.
LEDGER_COLUMNS: tuple[Column, ...] = (
    Column("章节", 18, attrgetter("section"), wrap=True),
    Column("措施序号", 7, attrgetter("measure")),
    Column("措施名称", 24, attrgetter("measure_title"), wrap=True),
    Column("牵头单位", 18, lambda r: "、".join(filter(None, r.lead_departments)), wrap=True),
    Column("配合单位", 24, lambda r: "、".join(filter(None, r.supporting_departments)),
           wrap=True),
    Column("责任单位", 20, attrgetter("department"), wrap=True),
    Column("承担角色", 7, attrgetter("role_label")),
    # map and filter: C loops over a row's few values (the lambdas run per row).
    Column("目标任务", 36, lambda r: "\n".join(filter(None, map(_TEXT, r.targets))), wrap=True),
    Column("量化指标", 26, lambda r: "\n".join(filter(None, map(_GOAL, r.targets))), wrap=True),
    Column("指标最新值", 18, lambda r: "\n".join(filter(None, map(_LATEST, r.targets))),
           wrap=True),
    Column("完成时限", 11, attrgetter("due")),
    Column("原定时限", 11, attrgetter("original_due")),
    Column("办理状态", 9, attrgetter("state_label")),
    Column("进展状态", 11, attrgetter("status_label")),
    Column("灯色", 6, attrgetter("light_label")),
    Column("提示", 18, lambda r: ";".join(filter(None, r.reasons)), wrap=True),
    Column("最新进展", 30, lambda r: r.latest_progress or "", wrap=True),
    Column("最近报送日期", 11, attrgetter("latest_progress_on")),
    Column("报送次数", 7, attrgetter("report_count")),
    Column("缺报期数", 7, attrgetter("missing_reports")),
    Column("延期情况", 22, lambda r: "\n".join(filter(None, r.extensions)), wrap=True),
    Column("督办记录", 22, lambda r: "\n".join(filter(None, map(str, r.escalations))),
           wrap=True),
    Column("后续督办", 18, attrgetter("next_step"), wrap=True),
    Column("报结日期", 11, attrgetter("submitted_on")),
    Column("办结日期", 11, attrgetter("completed_on")),
    Column("任务编号", 7, attrgetter("task_id")),
)
PLAN_COLUMN = Column("方案", 20, attrgetter("plan"), wrap=True)
SERIAL_COLUMN = Column("序号", 5, lambda r: None)  # numbered as written
ITEM_COLUMN = Column("来源及文号", 22, attrgetter("item_source"), wrap=True)  # single 督办件
LIGHT_COLUMN = "灯色"

SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("measures", "措施数"),
    ("tasks", "任务数"),
    ("red", "红灯"),
    ("yellow", "黄灯"),
    ("blue", "蓝灯"),
    ("late", "逾期办结"),
    ("green", "绿灯"),
    ("open", "办理中"),
    ("submitted", "已报结待审核"),
    ("approved", "已办结"),
    ("overdue", "逾期"),
    ("extended", "调整过时限"),
    ("missing_reports", "缺报进度"),
    ("escalated", "被督办"),
)
_SUMMARY_LIGHTS = {LIGHT_LABELS[light]: light for light in Light}


def ledger_columns(ledger: Ledger, *, item_sources: bool | None = None) -> tuple[Column, ...]:
    """The columns of this ledger: with 方案 first when it covers several plans,
    and 来源及文号 after the measure's name when it has single 督办件
    (``item_sources``; None: when one of its rows has a source)."""
    columns = (PLAN_COLUMN, *LEDGER_COLUMNS) if len(ledger.plans) > 1 else LEDGER_COLUMNS
    if item_sources is None:
        item_sources = any(row.item_source for row in ledger.rows)
    if item_sources:
        at = next(i for i, c in enumerate(columns) if c.header == "措施名称") + 1
        columns = (*columns[:at], ITEM_COLUMN, *columns[at:])
    return columns


def ledger_file_name(ledger: Ledger, suffix: str = ".xlsx") -> str:
    """``督办台账(截至2016-01-29).xlsx`` with the plan's key when it covers one
    plan (``珠委办201423督办台账(截至…).xlsx``); no path separators."""
    key = ledger.plans[0][0] if len(ledger.plans) == 1 else ""
    name = f"{key}督办台账(截至{ledger.as_of.isoformat()}){suffix}"
    return name.replace("/", "-").replace("\\", "-")


# --- CSV -----------------------------------------------------------------------


def write_ledger_csv(ledger: Ledger, path: Path) -> Path:
    """The 台账 sheet as CSV (UTF-8 with BOM so Excel reads the Chinese; dates
    ISO; several values in one cell separated by newlines). Returns ``path``."""
    return _write_csv(ledger_columns(ledger), ledger.rows, path)


def write_streamed_ledger_csv(stream: LedgerStream, path: Path) -> Path:
    """:func:`write_ledger_csv` of a streamed ledger, each row dropped once written."""
    columns = ledger_columns(stream.ledger, item_sources=stream.item_sources)
    return _write_csv(columns, stream.rows, path)


def _write_csv(columns: Sequence[Column], rows: Iterable[LedgerRow], path: Path) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([c.header for c in columns])
        for row in rows:
            writer.writerow([_csv_value(c.value(row)) for c in columns])
    return path


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return str(value)


# --- workbook ------------------------------------------------------------------


def write_ledger_xlsx(
    ledger: Ledger,
    path: Path,
    *,
    scorecard: Scorecard | None = None,
    base_url: str | None = None,
) -> Path:
    """Write the workbook (see the module docstring) to ``path``; returns it.
    With ``base_url`` each measure's name links to its page on the site.

    Written as a stream (openpyxl's write-only workbook): each row goes to the
    file as it is made, its cells styled by name from a few named styles, so
    time and the workbook's memory grow with the rows, not faster."""
    columns = ledger_columns(ledger)
    _write_workbook(ledger, _held_entries(ledger.rows, columns), path, columns=columns,
                    scorecard=scorecard, base_url=base_url)
    return path


def write_streamed_ledger_xlsx(
    stream: LedgerStream,
    path: Path,
    *,
    scoring: ScoreTally | None = None,
    scorecard: Scorecard | None = None,
    base_url: str | None = None,
) -> LedgerTally:
    """Write the workbook of ``stream`` as :func:`write_ledger_xlsx` writes
    its ledger, each row dropped once written: the summaries are counted as
    the rows go by, and so is the 考核 sheet's scorecard with ``scoring``
    (or it is ``scorecard``, counted before). Returns what was counted
    (rows, lights)."""
    ledger = stream.ledger
    columns = ledger_columns(ledger, item_sources=stream.item_sources)
    cells = LedgerCells(stream.related, as_of=ledger.as_of, calendar=stream.calendar,
                        policy=stream.policy, zone=stream.zone, many_plans=len(ledger.plans) > 1,
                        item_sources=stream.item_sources)
    return _write_workbook(ledger, _streamed_entries(stream.batches, cells, scoring), path,
                           columns=columns, scorecard=scorecard, scoring=scoring,
                           base_url=base_url)


# A task's cells (without 序号), light, measure and what the summaries count of it.
Entry = tuple[list[Any], Light, int, "LedgerRow | TallyRow"]


def _held_entries(rows: Iterable[LedgerRow], columns: tuple[Column, ...]) -> Iterator[Entry]:
    values_of = [c.value for c in columns]
    for row in rows:
        yield list(map(call, values_of, repeat(row))), row.light, row.measure_id, row


def _streamed_entries(
    batches: Iterable[list[TaskColumns]], cells: LedgerCells, scoring: ScoreTally | None
) -> Iterator[Entry]:
    """A streamed ledger's entries, made from its tasks' columns (no row
    per task); the scorecard's records handed to ``scoring`` as they go."""
    make = cells.cells
    record = scoring is not None
    for tasks in batches:
        for task in tasks:
            values, light, tally, scored = make(task, record=record)
            if scored is not None and scoring is not None:
                scoring.add_record(scored)
            yield values, light, tally.measure_id, tally


def _write_workbook(
    ledger: Ledger,
    entries: Iterable[Entry],
    path: Path,
    *,
    columns: tuple[Column, ...],
    scorecard: Scorecard | None = None,
    scoring: ScoreTally | None = None,
    base_url: str | None = None,
) -> LedgerTally:
    workbook = Workbook(write_only=True)
    styles = CellStyles(workbook)
    tally = LedgerTally(ledger)
    _ledger_sheet(new_sheet(workbook, SHEET_LEDGER, ledger), ledger, entries, columns, styles,
                  counters=[tally.add], base_url=base_url)
    measures = len(tally.measure_ids)
    _summary_sheet(new_sheet(workbook, "按章节汇总", ledger), styles, "章节", tally.by_section(),
                   measures=measures)
    _summary_sheet(new_sheet(workbook, "按单位汇总", ledger), styles, "责任单位",
                   tally.by_department(), measures=measures)
    if scoring is not None:
        scorecard = scoring.scorecard(ledger)
    if scorecard is not None:
        _scorecard_sheet(new_sheet(workbook, "考核", ledger), styles, scorecard)
    _notes_sheet(new_sheet(workbook, "说明", ledger), styles, ledger, scorecard, tally.rows)
    workbook.properties.title = ledger.title
    workbook.properties.creator = "duban 督办"
    save_workbook(workbook, path)
    return tally


TITLE_ROWS = 2  # the 台账 sheet's title and 制表单位/截至 rows above its header


def _title_rows(sheet: Any, styles: CellStyles, ledger: Ledger, columns: int) -> None:
    """Row 1: ``…督办台账(截至…)`` across the table; row 2: 制表单位 on the
    left, 截至 on the right."""
    last = get_column_letter(columns)
    half = max(columns // 2, 1)
    sheet.row_dimensions[1].height = 30
    sheet.append([styles.cell(sheet, ledger.dated_title, "big", "title")])
    second: list[Any] = [None] * (half + 1)
    second[0] = f"制表单位:{ledger.issuer}"
    second[half] = styles.cell(sheet, f"截至:{ledger.as_of.isoformat()}", "right")
    sheet.append(second)
    for ref in (f"A1:{last}1", f"A2:{get_column_letter(half)}2",
                f"{get_column_letter(half + 1)}2:{last}2"):
        sheet.merged_cells.add(ref)


def _header_cells(
    sheet: Any, styles: CellStyles, headers: Sequence[str], *, lights: bool = False
) -> list[WriteOnlyCell]:
    """The header row; with ``lights`` (the summaries) a light's column in its colours."""
    return [
        styles.cell(sheet, header, "header", *(
            (_SUMMARY_LIGHTS[header].value,) if lights and header in _SUMMARY_LIGHTS else ()))
        for header in headers
    ]


def _ledger_sheet(
    sheet: Any,
    ledger: Ledger,
    entries: Iterable[Entry],
    table: tuple[Column, ...],
    styles: CellStyles,
    *,
    counters: Sequence[Callable[[Any], None]] = (),
    base_url: str | None = None,
) -> None:
    """The 台账 sheet: title rows and header through openpyxl, then the task
    rows streamed as text (:class:`~duban.services.reports.ledger_stream.SheetRows`),
    each entry's counted part handed to ``counters`` as it is written; closes
    the sheet."""
    columns = (SERIAL_COLUMN, *table)
    headers = [c.header for c in columns]
    header_row = TITLE_ROWS + 1
    title_index = headers.index("措施名称")
    light_index = headers.index(LIGHT_COLUMN)
    layout(sheet, [c.width for c in columns], header_row=header_row)
    _title_rows(sheet, styles, ledger, len(columns))
    sheet.append([styles.cell(sheet, header, "header") for header in headers])
    rows = SheetRows(sheet, styles, first_row=header_row + 1)
    plain: list[tuple[str, ...]] = [("border", "wrap" if c.wrap else "top") for c in columns]
    dated: list[tuple[str, ...]] = [(*parts, "date") for parts in plain]
    if base_url:
        plain[title_index] = (*plain[title_index], "link")
        dated[title_index] = plain[title_index]
    # Each light's styles: its column in its colour.
    shapes: dict[Light, tuple[StyleRow, StyleRow]] = {}
    for light in Light:
        parts, days = list(plain), list(dated)
        parts[light_index] = days[light_index] = ("border", "center", light.value)
        shapes[light] = (tuple(parts), tuple(days))
    measure_url = f"{base_url.rstrip('/')}/dashboard/measures/" if base_url else None
    # The wrapped columns' values (text) and widths: at least two of them.
    wrapped = itemgetter(*(index for index, c in enumerate(columns) if c.wrap))
    widths = [c.width for c in columns if c.wrap]
    for serial, (cells, light, measure_id, counted) in enumerate(entries, start=1):
        for count in counters:
            count(counted)
        values = [serial, *cells]
        links = {title_index: f"{measure_url}{measure_id}"} if measure_url else None
        # LibreOffice does not grow rows for wrapped text on import: size them.
        height = row_height(wrapped(values), widths)
        rows.append_values(values, *shapes[light], height=height, links=links)
    add_filter(sheet, header_row=header_row, last_row=rows.next_row - 1, columns=len(columns))
    rows.close()


def _summary_sheet(
    sheet: Any, styles: CellStyles, name_header: str, rows: Sequence[SummaryRow], *, measures: int
) -> None:
    """Counts per group (``measures``: the distinct measures of the whole ledger)."""
    headers = [name_header, *(label for _attr, label in SUMMARY_COLUMNS)]
    layout(sheet, [34, *(9 for _ in SUMMARY_COLUMNS)])
    sheet.append(_header_cells(sheet, styles, headers, lights=True))
    for summary in rows:
        values = [summary.name, *(getattr(summary, attr) for attr, _ in SUMMARY_COLUMNS)]
        sheet.append([styles.cell(sheet, value, "border", "wrap" if index == 0 else "top")
                      for index, value in enumerate(values)])
    total: list[Any] = ["合计", *(sum(getattr(s, a) for s in rows) for a, _ in SUMMARY_COLUMNS)]
    total[1] = measures  # departments share measures: count each measure once
    # The total row goes below the filtered range, so sorting keeps it last.
    add_filter(sheet, header_row=1, last_row=1 + len(rows), columns=len(headers))
    sheet.append([styles.cell(sheet, value, "bold", "border") for value in total])


def _scorecard_sheet(sheet: Any, styles: CellStyles, scorecard: Scorecard) -> None:
    headers = [
        "排名",
        "责任单位",
        "得分",
        "任务完成率",
        "报送率",
        *(label for _attr, label in COUNT_COLUMNS),
        *(LEVEL_LABELS[level] for level in (1, 2, 3)),
    ]
    layout(sheet, [6, 30, 8, 10, 8, *(9 for _ in COUNT_COLUMNS), 7, 9, 9])
    sheet.append(_header_cells(sheet, styles, headers))
    for row in scorecard.rows:
        values = [
            row.rank if row.rank is not None else "—",
            row.department,
            row.score if row.score is not None else NO_SCORE,
            row.task_rate if row.score is not None else "—",
            row.report_rate,
            *(getattr(row.counts, attr) for attr, _label in COUNT_COLUMNS),
            *(row.counts.escalations.get(level, 0) for level in (1, 2, 3)),
        ]
        sheet.append([
            styles.cell(sheet, value, "border", *(("percent",) if index in (3, 4) else ()))
            for index, value in enumerate(values)
        ])
    add_filter(sheet, header_row=1, last_row=1 + len(scorecard.rows), columns=len(headers))


def _notes_sheet(
    sheet: Any, styles: CellStyles, ledger: Ledger, scorecard: Scorecard | None, tasks: int
) -> None:
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 100
    sheet.page_setup.orientation = "landscape"
    lines: list[tuple[str, str, tuple[str, ...]]] = [
        ("台账", ledger.title, ()),
        ("统计日期", ledger.as_of.isoformat(), ()),
        ("任务数", str(tasks), ()),
        *((LIGHT_LABELS[light], LIGHT_MEANINGS[light], (light.value,)) for light in Light),
        ("原定时限", "完成时限经同意延期或调整后,原来的时限", ()),
        ("督办记录",
         "催办(逾期后第1个工作日)、黄色督办(逾期5个工作日)、红色督办(逾期10个工作日)", ()),
    ]
    if scorecard is not None:
        lines.append(("考核期间", scorecard.period.label, ()))
        lines.extend(("考核计分", text, ()) for text in weights_description(scorecard.weights))
    for key, text, light in lines:
        sheet.append([styles.cell(sheet, key, "wrap", *light), styles.cell(sheet, text, "wrap")])
