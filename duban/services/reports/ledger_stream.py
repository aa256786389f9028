"""Many rows of a streamed sheet written as the XML text openpyxl would write.

openpyxl's write-only sheet still makes a cell object per value, binds its
type, copies its style, looks its style id up and writes it through lxml
element by element: measured at 100k tasks (2.7 million cells) that alone
took longer than the ledger's whole budget of 10 s, even for plain values.
The 台账 sheet's task rows are plain (text, numbers and dates in a few named
styles, a link per row), so :class:`SheetRows` writes them as text: the same
elements, attributes, style ids, escaping and character references that
openpyxl 3.1 writes for them (``tests/reports/test_ledger_stream.py``
compares them with openpyxl's own cells on varied values), to a temporary
file, and :meth:`SheetRows.close` splices that file into the sheet's part
before the workbook is saved. Memory stays flat: one row at a time.

What it relies on of openpyxl besides its public API, in this module only: a
write-only sheet's part is written to ``sheet._writer.out`` (a file name) and
the rows end at its first ``</sheetData>``; cell links are ``Hyperlink``
objects collected in ``sheet._hyperlinks`` and written with the sheet's tail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.writer.excel import ExcelWriter

from duban.services.reports.ledger_styles import CellStyles, clean_text, neutralise

MAX_TEXT = 32767  # characters in a cell; openpyxl cuts longer text there
_SHEET_DATA_END = b"</sheetData>"
ZIP_LEVEL = 3  # zlib's level for the workbook's parts (see save_workbook)
_EXACT = 10**15  # integers %.16g writes digit for digit
_TEXTS_KEPT = 20_000  # distinct texts remembered at most (memory stays flat)


def _number(value: float) -> str:
    """A number as openpyxl writes it (``safe_string``)."""
    if value != value or value in (float("inf"), float("-inf")):
        return ""
    return f"{value:.16g}"


def _escaped(text: str) -> str:
    """Text content as libxml2 escapes it (non-ASCII becomes character
    references when the part is encoded, see :meth:`SheetRows._flush`)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def _text_tail(value: str) -> str:
    """A text cell's XML after its reference and style, as openpyxl writes it
    (cleaned, :func:`neutralise`-d and cut as :meth:`CellStyles.cell` and
    openpyxl do)."""
    text = neutralise(clean_text(value))[:MAX_TEXT]
    if not text:
        return ' t="inlineStr"></c>'
    if text in ERROR_CODES:
        return f' t="e"><v>{_escaped(text)}</v></c>'
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f' t="inlineStr"><is><t{space}>{_escaped(text)}</t></is></c>'


class SheetRows:
    """Rows appended to a write-only ``sheet`` after the rows openpyxl wrote
    (``first_row`` is the next row's number), as openpyxl would write them.

    A cell is ``(value, style parts)`` (parts as :meth:`CellStyles.name`
    takes them; every cell is styled); a value is None, text, an int or float,
    or a date. Nothing else may be appended to the sheet until :meth:`close`,
    which also closes the sheet: set everything of the sheet's tail (filter,
    merged cells, print settings) before it.
    """

    def __init__(self, sheet: Any, styles: CellStyles, *, first_row: int) -> None:
        self.sheet = sheet
        self.styles = styles
        self.next_row = first_row
        self._style_ids: dict[tuple[str, ...], str] = {}
        self._letters: list[str] = []
        self._days: dict[date, str] = {}
        self._texts: dict[str, str] = {}  # a text's cell after its style (labels repeat)
        self._bound: set[type] = {str, int, float, type(None)}
        self._file: IO[bytes] = tempfile.TemporaryFile()
        self._buffer: list[str] = []
        self._buffered = 0

    def append(
        self,
        cells: Sequence[tuple[Any, tuple[str, ...]]],
        *,
        height: float | None = None,
        links: Mapping[int, str] | None = None,
    ) -> None:
        """One row: its cells from column A, its height in points (None: the
        default), and links by the cell's index."""
        number = self.next_row
        self.next_row += 1
        row = str(number)
        out = self._buffer
        if height is None:
            out.append(f'<row r="{row}">')
        else:
            out.append(f'<row r="{row}" ht="{_number(height)}" customHeight="1">')
        letters = self._letters
        while len(letters) < len(cells):
            letters.append(get_column_letter(len(letters) + 1))
        for index, (value, parts) in enumerate(cells):
            ref = letters[index] + row
            if type(value) not in self._bound:
                self._bind(value)
            style = self._style_ids.get(parts)
            if style is None:
                style = self._style_id(parts)
            if links and index in links:
                self.sheet._hyperlinks.append(Hyperlink(ref=ref, target=links[index]))
            out.append(self._cell(ref, style, value))
        out.append("</row>")
        self._buffered += 1
        if self._buffered >= 500:
            self._flush()

    def _cell(self, ref: str, style: str, value: Any) -> str:
        head = f'<c r="{ref}" s="{style}"'
        if value is None:
            return f'{head} t="n"></c>'
        if isinstance(value, str):
            tail = self._texts.get(value)
            if tail is None:
                if len(self._texts) >= _TEXTS_KEPT:
                    self._texts.clear()
                tail = self._texts[value] = _text_tail(value)
            return head + tail
        if isinstance(value, date):  # datetime too
            day = self._days.get(value)
            if day is None:
                day = self._days[value] = _number(to_excel(value))
            return f'{head} t="n"><v>{day}</v></c>'
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"cannot stream {value!r} into a cell")
        if type(value) is int and -_EXACT < value < _EXACT:
            return f'{head} t="n"><v>{value}</v></c>'  # as %.16g writes it
        return f'{head} t="n"><v>{_number(value)}</v></c>'

    def _bind(self, value: Any) -> None:
        """What binding the first value of a type to an openpyxl cell does to
        the workbook: a date or time registers its default number format."""
        if isinstance(value, date):
            WriteOnlyCell(self.sheet, value=value)
        self._bound.add(type(value))

    def _style_id(self, parts: tuple[str, ...]) -> str:
        """The workbook's style id of ``parts``, registered as openpyxl would
        at the first cell written in it."""
        cell = WriteOnlyCell(self.sheet)
        cell.style = self.styles.name(*parts)
        found = self._style_ids[parts] = str(cell.style_id)
        return found

    def _flush(self) -> None:
        # The sheet's part is ASCII with character references, as lxml writes it.
        self._file.write("".join(self._buffer).encode("ascii", "xmlcharrefreplace"))
        self._buffer.clear()
        self._buffered = 0

    def close(self) -> None:
        """Close the sheet (writing its tail) and splice the rows in before
        its ``</sheetData>``."""
        self._flush()
        self.sheet.close()
        part = self.sheet._writer.out
        with open(part, "rb") as handle:
            written = handle.read()
        end = written.index(_SHEET_DATA_END)
        spliced = f"{part}.rows"
        with open(spliced, "wb") as handle:
            handle.write(written[:end])
            self._file.seek(0)
            shutil.copyfileobj(self._file, handle, 1 << 20)
            handle.write(written[end:])
        self._file.close()
        os.replace(spliced, part)


def save_workbook(workbook: Workbook, path: Path) -> None:
    """Save a write-only ``workbook`` to ``path`` as :meth:`Workbook.save`
    does, every part the same, but deflated at :data:`ZIP_LEVEL`: zlib's
    default (6) took longer than writing the rows themselves at 100k tasks
    (180 MB of sheet XML), level 3 takes about a third of it for a file
    about a quarter larger."""
    if not workbook.worksheets:
        workbook.create_sheet()
    archive = ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=ZIP_LEVEL)
    workbook.properties.modified = datetime.now(tz=UTC).replace(tzinfo=None)
    ExcelWriter(workbook, archive).save()  # closes the archive
