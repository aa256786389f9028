"""How the ledger's workbook looks: cell styles, light colours, page layout.

:class:`CellStyles` registers the few named styles once and makes every cell
(text cleaned and :func:`neutralise`-d, so never a formula); :func:`new_sheet`,
:func:`layout` and :func:`add_filter` set a streamed sheet's page header and
footer, widths, frozen header, print settings and filter; :func:`row_height`
sizes a row of wrapped text. :mod:`duban.services.reports.ledger_files`
writes the sheets with them.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Iterable, Sequence
from copy import copy
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.styles.fonts import DEFAULT_FONT
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from duban.domain.status import Light
from duban.services.reports.ledger_model import Ledger

# Solid fills (ARGB) of the light cell, and the font colour that reads on each.
LIGHT_FILLS: dict[Light, str] = {
    Light.RED: "FFE5484D",
    Light.YELLOW: "FFFFD43B",
    Light.BLUE: "FF4C8BF5",
    Light.LATE: "FFB197FC",
    Light.GREEN: "FF40C057",
}
LIGHT_FONTS: dict[Light, str] = {
    Light.RED: "FFFFFFFF",
    Light.YELLOW: "FF000000",
    Light.BLUE: "FFFFFFFF",
    Light.LATE: "FF000000",
    Light.GREEN: "FFFFFFFF",
}
HEADER_FILL = "FFD9E2F3"
LINE_HEIGHT = 13.5  # points per text line at the default 11 pt font
MAX_LINES = 10  # a row never grows taller than this many lines
DATE_FORMAT = "yyyy-mm-dd"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` with a ``'`` in front when a spreadsheet would read it as a
    formula (OWASP's advice for CSV injection); otherwise unchanged."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


_THIN = Side(style="thin", color="FFBFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FONT = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")
_TOP = Alignment(vertical="top")
_CENTER = Alignment(horizontal="center", vertical="top")
_HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
_ALIGNMENTS = {
    "wrap": _WRAP,
    "top": _TOP,
    "center": _CENTER,
    "right": Alignment(horizontal="right"),
    "title": Alignment(horizontal="center", vertical="center"),
}


class CellStyles:
    """The workbook's few cell styles, registered once as named styles: a
    cell takes one by name (a copy of its style ids) instead of hashing a
    border, an alignment, a fill and a font for every cell. A style is a
    tuple of parts, applied in order: ``border``, an alignment (``wrap``,
    ``top``, ``center``, ``right``, ``title``), ``header`` (bold, filled,
    centred, bordered), ``bold``, ``big`` (the title's 16 pt), ``date``,
    ``percent``, ``link``, or a light's value (its fill and font)."""

    def __init__(self, workbook: Workbook) -> None:
        self.workbook = workbook
        self.names: dict[tuple[str, ...], str] = {}

    def name(self, *parts: str) -> str:
        found = self.names.get(parts)
        if found is not None:
            return found
        style = NamedStyle(name=f"台账·{'·'.join(parts)}", font=copy(DEFAULT_FONT))
        for part in parts:
            if part == "border":
                style.border = _BORDER
            elif part in _ALIGNMENTS:
                style.alignment = _ALIGNMENTS[part]
            elif part == "header":
                style.font = _HEADER_FONT
                style.fill = PatternFill("solid", fgColor=HEADER_FILL)
                style.alignment = _HEADER_ALIGNMENT
                style.border = _BORDER
            elif part == "bold":
                style.font = _HEADER_FONT
            elif part == "big":
                style.font = Font(bold=True, size=16)
            elif part == "date":
                style.number_format = DATE_FORMAT
            elif part == "percent":
                style.number_format = "0.0%"
            elif part == "link":
                style.font = Font(color="FF0B5CAD", underline="single")
            else:
                light = Light(part)
                style.fill = PatternFill("solid", fgColor=LIGHT_FILLS[light])
                style.font = Font(bold=True, color=LIGHT_FONTS[light])
        self.workbook.add_named_style(style)
        self.names[parts] = style.name
        return style.name

    def cell(self, sheet: Any, value: Any, *parts: str) -> WriteOnlyCell:
        """A cell of ``value`` (text cleaned and :func:`neutralise`-d, so it is
        never a formula) in the style of ``parts`` (none: unstyled)."""
        if isinstance(value, str):
            value = neutralise(clean_text(value))
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str) and cell.data_type == "f":
            cell.data_type = "s"
        if parts:
            cell.style = self.name(*parts)
        return cell


def new_sheet(workbook: Workbook, title: str, ledger: Ledger) -> Any:
    """A new streamed sheet with the page header and footer: the 制表单位 and
    the day on top, ``第 N 页,共 M 页`` below."""
    sheet = workbook.create_sheet(title)
    sheet.oddFooter.center.text = "第 &P 页,共 &N 页"
    sheet.oddHeader.left.text = f"{ledger.issuer}"
    sheet.oddHeader.right.text = f"截至 {ledger.as_of.isoformat()}"
    return sheet


def layout(sheet: Any, widths: Sequence[float], *, header_row: int = 1) -> None:
    """Before the first row (a stream writes these first): column widths, the
    frozen header, landscape A3 fitted to the page width, the header row on
    every printed page."""
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A3
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def add_filter(sheet: Any, *, header_row: int, last_row: int, columns: int) -> None:
    """The header's filter over the rows written (none without rows)."""
    if last_row > header_row:
        sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(columns)}{last_row}"


def clean_text(value: Any) -> Any:
    """Text without the control characters a workbook cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def text_width(text: str) -> int:
    """Width in Excel's character units: wide (CJK) characters count 2."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@functools.lru_cache(maxsize=8192)
def text_lines(text: str, width: float) -> int:
    """Lines ``text`` takes wrapped in a column ``width`` characters wide (at
    least one per line of its own). Cached: a ledger repeats its sections,
    departments and labels on every row."""
    usable = max(width, 1)
    if 2 * len(text) <= usable:  # every line fits even if every character is wide
        return text.count("\n") + 1
    return sum(max(1, math.ceil(text_width(part) / usable)) for part in text.split("\n"))


def row_height(texts: Iterable[str], widths: Iterable[float]) -> float:
    """Points for a row whose wrapped cells hold ``texts`` in columns
    ``widths`` characters wide: enough lines for the tallest cell, at most
    :data:`MAX_LINES`."""
    return _HEIGHTS[min(max(map(text_lines, texts, widths), default=1), MAX_LINES)]


# Points per number of lines (0 counts as 1).
_HEIGHTS = tuple(round(max(lines, 1) * LINE_HEIGHT + 2, 1) for lines in range(MAX_LINES + 1))
