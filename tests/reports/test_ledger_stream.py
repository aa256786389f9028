"""The 台账 rows streamed as text are what openpyxl writes for the same cells:
the same workbook, part for part, on values that test escaping, types,
styles, heights and links (openpyxl's own write-only cells are the oracle)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from duban.services.reports.ledger_stream import SheetRows, save_workbook
from duban.services.reports.ledger_styles import CellStyles, add_filter

TOP = ("border", "top")
WRAP = ("border", "wrap")
DAY = ("border", "top", "date")
LINK = ("border", "wrap", "link")

Row = tuple[list[tuple[Any, tuple[str, ...]]], float | None, dict[int, str]]

ROWS: list[Row] = [
    (
        [
            (1, TOP),
            ("一、章节 plain", WRAP),
            ("", WRAP),
            (None, TOP),
            (date(2016, 1, 15), DAY),
            (datetime(2016, 1, 15, 9, 30), DAY),
            (0.5, TOP),
            (75.0, TOP),
            (-3, TOP),
            (1e20, TOP),
            ("措施名称", LINK),
        ],
        29.0,
        {10: "http://127.0.0.1:8000/dashboard/measures/7"},
    ),
    (
        [
            (2, TOP),
            ('=HYPERLINK("http://x")', WRAP),
            ("+cmd|' /C calc'!A0", WRAP),
            ("-1", TOP),
            ("@SUM(1)", TOP),
            ("\tTab", WRAP),
            ("=", TOP),
            ("'", TOP),
            ("a & b < c > d \"q\" 'a' &amp;", WRAP),
            ("line1\nline2\r\nline3\r", WRAP),
            ("措施 & <b>", LINK),
        ],
        137.0,
        {10: "http://x/dashboard/measures/8?a=1&b=<2>"},
    ),
    (
        [
            (3, ("border", "center", "red")),
            (" lead and trail ", WRAP),
            ("\u3000全角空格\u3000", WRAP),
            ("emoji 😀 and 𠀀 beyond the BMP", WRAP),
            ("#N/A", TOP),
            ("#DIV/0!", TOP),
            ("ctrl\x07char\x1f and \x00", WRAP),
            ("长" * 40_000, WRAP),
            (2**53 + 1, TOP),
            (float("nan"), TOP),
            (None, ("border", "center", "green")),
        ],
        None,
        {},
    ),
    (
        [
            (4, ("border", "center", "green")),
            (date(1900, 2, 1), DAY),
            (date(2099, 12, 31), ("bold", "border")),
            ("📎", ("header",)),
        ],
        15.5,
        {1: "http://x/a", 3: 'http://例子.中国/度量?q="引号"\t&x=1'},
    ),
    # Integers in columns that held integers (or not) before: each column's
    # digits in the piece made around its first integer's.
    *(
        (
            [
                (serial, TOP),
                ("一、章节 plain", WRAP),
                ("", WRAP),
                (None, TOP),
                (date(2016, 1, 15), DAY),
                (datetime(2016, 1, 15, 9, 30), DAY),
                (number, TOP),
                (10**15 - serial, TOP),
                (-number, TOP),
                (-(10**15) + serial, TOP),
                ("措施名称", LINK),
            ],
            None,
            {10: f"http://127.0.0.1:8000/dashboard/measures/{serial}"},
        )
        for serial, number in ((5, 0), (6, 7), (7, 10**15 - 1), (8, 7))
    ),
]


def _by_openpyxl(sheet: Any, styles: CellStyles, first: int) -> None:
    """The rows as openpyxl's own write-only cells (how the sheet was written before)."""
    for number, (cells, height, links) in enumerate(ROWS, start=first):
        if height is not None:
            sheet.row_dimensions[number].height = height
        written = []
        for index, (value, parts) in enumerate(cells):
            cell = styles.cell(sheet, value, *parts)
            if index in links:
                cell.hyperlink = links[index]
            written.append(cell)
        sheet.append(written)


def _streamed(sheet: Any, styles: CellStyles, first: int) -> None:
    rows = SheetRows(sheet, styles, first_row=first)
    for cells, height, links in ROWS:
        rows.append(cells, height=height, links=links)
    add_filter(sheet, header_row=1, last_row=rows.next_row - 1, columns=11)
    rows.close()


def _workbook(path: Path, write_rows: Callable[[Any, CellStyles, int], None]) -> Path:
    workbook = Workbook(write_only=True)
    styles = CellStyles(workbook)
    sheet = workbook.create_sheet("台账")
    sheet.freeze_panes = "A2"
    # Print settings come after the links in a sheet's tail.
    sheet.print_options.gridLines = True
    sheet.page_setup.orientation = "landscape"
    sheet.append([styles.cell(sheet, f"列{i}", "header") for i in range(11)])
    write_rows(sheet, styles, 2)
    if write_rows is _by_openpyxl:
        add_filter(sheet, header_row=1, last_row=1 + len(ROWS), columns=11)
    other = workbook.create_sheet("说明")
    other.append([styles.cell(other, "后面的表", "wrap"), styles.cell(other, 0.25, "percent")])
    if write_rows is _streamed:
        save_workbook(workbook, path)  # deflated faster, every part the same
    else:
        workbook.save(path)
    return path


@pytest.fixture
def both(tmp_path: Path) -> tuple[Path, Path]:
    return (
        _workbook(tmp_path / "openpyxl.xlsx", _by_openpyxl),
        _workbook(tmp_path / "streamed.xlsx", _streamed),
    )


def test_every_part_of_the_workbook_is_what_openpyxl_writes(both: tuple[Path, Path]) -> None:
    expected, streamed = (zipfile.ZipFile(path) for path in both)
    assert streamed.namelist() == expected.namelist()
    for name in expected.namelist():
        if name != "docProps/core.xml":  # the time it was written
            assert streamed.read(name) == expected.read(name), name


def test_the_streamed_cells_read_back_as_written(both: tuple[Path, Path]) -> None:
    expected, streamed = (load_workbook(path)["台账"] for path in both)
    assert streamed.max_row == 1 + len(ROWS)
    for want, got in zip(expected.iter_rows(), streamed.iter_rows(), strict=True):
        for a, b in zip(want, got, strict=True):
            assert (b.value, b.data_type, b.style, b.number_format) == (
                a.value, a.data_type, a.style, a.number_format
            ), b.coordinate
            assert (b.hyperlink.target if b.hyperlink else None) == (
                a.hyperlink.target if a.hyperlink else None
            )
    assert streamed["B3"].value == "'=HYPERLINK(\"http://x\")"  # text, never a formula
    assert streamed["E4"].data_type == "e" and streamed.row_dimensions[3].height == 137


def test_a_value_a_cell_cannot_hold_is_refused(tmp_path: Path) -> None:
    workbook = Workbook(write_only=True)
    styles = CellStyles(workbook)
    rows = SheetRows(workbook.create_sheet("台账"), styles, first_row=1)
    with pytest.raises(TypeError):
        rows.append([(True, TOP)])
    with pytest.raises(TypeError):
        rows.append([(object(), TOP)])
