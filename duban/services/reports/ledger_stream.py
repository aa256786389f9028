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
file, and :func:`save_workbook` splices that file into the sheet's part as
it deflates it (:meth:`SheetRows.close` keeps the head and tail openpyxl
wrote around the rows). Memory stays flat: one row at a time.

The rows' links are written as text too: their ``<hyperlinks>`` element,
spliced into the sheet's tail where openpyxl puts it, and the sheet's
relationships part, which :func:`save_workbook` writes from a temporary file
when openpyxl writes that part (an object per link took seconds at 100k tasks).

What it relies on of openpyxl besides its public API, in this module only: a
write-only sheet's part is written to ``sheet._writer.out`` (a file name) and
the rows end at its first ``</sheetData>``; cell links are ``Hyperlink``
objects collected in ``sheet._hyperlinks``, numbered in the relationships
``sheet._writer._rels`` the sheet's tail collects and written in the tail
before the print settings (:data:`_AFTER_LINKS`); :class:`ExcelWriter` writes
a write-only sheet's part with ``archive.write(writer.out, name)``, and its
relationships part, when it has one, with ``writestr`` just after it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.packaging.relationship import Relationship
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.writer.excel import ExcelWriter

from duban.services.reports.ledger_styles import CellStyles, clean_text, neutralise

MAX_TEXT = 32767  # characters in a cell; openpyxl cuts longer text there
_SHEET_DATA_END = b"</sheetData>"
ZIP_LEVEL = 3  # zlib's level for the workbook's parts (see save_workbook)
_EXACT = 10**15  # integers %.16g writes digit for digit
_TEXTS_KEPT = 4_000  # distinct values remembered per column at most (memory stays flat)
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_LINK_TYPE = f"{_REL_NS}/hyperlink"
_RELS_HEAD = b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
# What openpyxl writes after <hyperlinks> in a sheet's tail, in its order.
_AFTER_LINKS = (b"<printOptions", b"<pageMargins", b"<pageSetup", b"<headerFooter",
                b"<rowBreaks", b"<colBreaks", b"<drawing", b"<legacyDrawing", b"<tableParts",
                b"</worksheet>")


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


def _attribute(text: str) -> str:
    """An attribute's value as libxml2 escapes it."""
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                         ("\t", "&#9;"), ("\n", "&#10;"), ("\r", "&#13;")):
        if raw in text:
            text = text.replace(raw, escaped)
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
        # A cell's XML after its reference and up to the next cell's, per
        # (column, columns, style parts, date style parts) and value; each
        # row's caches per its columns' parts.
        self._pieces: dict[tuple[Any, ...], dict[Any, str]] = {}
        # An integer's piece before and after its digits, per column cache (by id).
        self._around: dict[int, tuple[str, str]] = {}
        self._shapes: dict[Any, list[dict[Any, str]]] = {}
        self._heights: dict[float, str] = {}  # a row's height attributes
        self._bound: set[type] = {str, int, float, type(None)}
        self._file: IO[bytes] = tempfile.TemporaryFile()
        self._buffer: list[str] = []
        self._buffered = 0
        self._links: list[str] = []  # <hyperlink> elements not yet in _link_file
        self._rels: list[str] = []  # their <Relationship> elements
        self._link_count = 0
        self._targets: dict[str, str] = {}  # links' targets escaped as attributes
        self._link_file: IO[bytes] = tempfile.TemporaryFile()
        self._rels_file: IO[bytes] = tempfile.TemporaryFile()
        if sheet._hyperlinks:
            raise ValueError("rows with links stream after rows without any")

    def append(
        self,
        cells: Sequence[tuple[Any, tuple[str, ...]]],
        *,
        height: float | None = None,
        links: Mapping[int, str] | None = None,
    ) -> None:
        """One row: its cells from column A, its height in points (None: the
        default), and links by the cell's index."""
        parts = tuple(p for _value, p in cells)
        self.append_values([v for v, _parts in cells], parts, parts, height=height, links=links)

    def append_values(
        self,
        values: Sequence[Any],
        parts: tuple[tuple[str, ...], ...],
        dated: tuple[tuple[str, ...], ...],
        *,
        height: float | None = None,
        links: Mapping[int, str] | None = None,
    ) -> None:
        """One row of ``values`` from column A, each styled by its column's
        ``parts``, or its ``dated`` parts when it is a date; its height in
        points (None: the default), and links by the cell's index.

        A cell's XML after its reference, up to the next cell's reference
        (its :meth:`_piece`), is made once per column and value (they repeat:
        departments, labels, days) and the row is its pieces joined by the
        row's number, so a row costs few Python operations per cell."""
        number = self.next_row
        self.next_row += 1
        row = str(number)
        caches = self._shapes.get((parts, dated))
        if caches is None:
            caches = self._shapes[(parts, dated)] = [
                self._pieces.setdefault((index, len(parts), *pair), {})
                for index, pair in enumerate(zip(parts, dated, strict=True))
            ]
        if len(values) != len(caches):
            raise ValueError(f"{len(values)} values for {len(caches)} columns")
        pieces: list[Any] = list(map(dict.get, caches, values))  # a C loop, not a Python one
        # The misses (ids and serial numbers in every row) found by C scans,
        # made in column order: styles register as openpyxl's cells would.
        while None in pieces:
            index = pieces.index(None)
            value = values[index]
            cache = caches[index]
            around = self._around.get(id(cache)) if type(value) is int else None
            if around is not None and -_EXACT < value < _EXACT:
                pieces[index] = f"{around[0]}{value}{around[1]}"  # see _piece
            else:
                pieces[index] = self._piece(value, index, parts, dated, cache)
        if height is None:
            head = f'<row r="{row}">'
        else:
            size = self._heights.get(height)
            if size is None:
                size = self._heights[height] = f' ht="{_number(height)}" customHeight="1"'
            head = f'<row r="{row}"{size}>'
        if pieces:
            self._buffer.append(f'{head}<c r="A{row}{row.join(pieces)}')
        else:
            self._buffer.append(f"{head}</row>")
        if links:
            for index in sorted(links):
                self._link(self._letters[index] + row, links[index])
        self._buffered += 1
        if self._buffered >= 500:
            self._flush()

    def _piece(
        self,
        value: Any,
        index: int,
        parts: tuple[tuple[str, ...], ...],
        dated: tuple[tuple[str, ...], ...],
        cache: dict[Any, str],
    ) -> str:
        """Cell ``index``'s XML from after its row number (its reference is
        its column's letter and the row's number) to the next cell's row
        number, or the row's end; kept in ``cache`` (its column's)."""
        exact = type(value) is int and -_EXACT < value < _EXACT
        if exact:
            # An integer column's piece around its digits, made once: ids and
            # serial numbers never repeat, and a miss made the whole piece.
            around = self._around.get(id(cache))
            if around is not None:
                piece = f"{around[0]}{value}{around[1]}"
                if len(cache) < _TEXTS_KEPT:
                    cache[value] = piece
                return piece
        if type(value) not in self._bound:
            self._bind(value)
        style_parts = dated[index] if isinstance(value, date) else parts[index]
        style = self._style_ids.get(style_parts)
        if style is None:
            style = self._style_id(style_parts)
        letters = self._letters
        while len(letters) <= len(parts):
            letters.append(get_column_letter(len(letters) + 1))
        after = f'<c r="{letters[index + 1]}' if index + 1 < len(parts) else "</row>"
        piece = f'"{self._cell(style, value)}{after}'
        if exact:
            self._around[id(cache)] = (f'" s="{style}" t="n"><v>', f"</v></c>{after}")
        if not piece.isascii():
            # The part is ASCII with character references, as lxml writes it:
            # made once per cached value here instead of once per row when
            # encoding (a row's join is of ASCII text then too).
            piece = piece.encode("ascii", "xmlcharrefreplace").decode("ascii")
        if type(value) is not float:  # 0 == -0.0, written differently
            if len(cache) >= _TEXTS_KEPT:
                cache.clear()
            cache[value] = piece
        return piece

    def _link(self, ref: str, target: str) -> None:
        """The link of cell ``ref``, as openpyxl numbers and writes it."""
        self._link_count += 1
        rid = f"rId{self._link_count}"
        self._links.append(f'<hyperlink xmlns:r="{_REL_NS}" ref="{ref}" r:id="{rid}"/>')
        escaped = self._targets.get(target)
        if escaped is None:  # a measure's tasks link to its page
            if len(self._targets) >= _TEXTS_KEPT:
                self._targets.clear()
            escaped = self._targets[target] = _attribute(target)
        self._rels.append(
            f'<Relationship Type="{_LINK_TYPE}" Target="{escaped}" '
            f'TargetMode="External" Id="{rid}"/>'
        )

    def _cell(self, style: str, value: Any) -> str:
        """A cell's XML after its reference, as openpyxl writes it."""
        head = f' s="{style}"'
        if value is None:
            return f'{head} t="n"></c>'
        if isinstance(value, str):
            return head + _text_tail(value)
        if isinstance(value, date):  # datetime too
            return f'{head} t="n"><v>{_number(to_excel(value))}</v></c>'
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
        # ASCII already: each cell's tail has its character references (_tail).
        self._file.write("".join(self._buffer).encode("ascii"))
        self._buffer.clear()
        self._buffered = 0
        if self._links:
            self._link_file.write("".join(self._links).encode("ascii"))
            # The relationships part is UTF-8, as lxml writes it without a declaration.
            self._rels_file.write("".join(self._rels).encode("utf-8"))
            self._links.clear()
            self._rels.clear()

    def close(self) -> None:
        """Close the sheet (writing its tail) and keep what its part is made
        of: openpyxl's head up to ``</sheetData>``, the rows, its tail with
        their links where openpyxl writes links; :func:`save_workbook`
        writes the part from them, and the sheet's relationships part."""
        self._flush()
        self.sheet.close()
        writer = self.sheet._writer
        if writer._rels or self.sheet._hyperlinks:
            raise ValueError("the sheet's tail numbered relationships of its own")
        with open(writer.out, "rb") as handle:
            written = handle.read()
        end = written.index(_SHEET_DATA_END)
        pieces: list[bytes | IO[bytes]] = [written[:end], self._file]
        if not self._link_count:
            pieces.append(written[end:])
            self._link_file.close()
        else:
            links = min(at for at in (written.find(tag, end) for tag in _AFTER_LINKS)
                        if at >= 0)
            pieces += [written[end:links], b"<hyperlinks>", self._link_file, b"</hyperlinks>",
                       written[links:]]
        _STREAMED_PARTS[self.sheet] = pieces
        if self._link_count:
            # A stand-in so that openpyxl writes the part (see save_workbook).
            writer._rels.append(Relationship(type="hyperlink", TargetMode="External", Target=""))
            self._rels_file.write(b"</Relationships>")
            _STREAMED_RELS[self.sheet] = self._rels_file
        else:
            self._rels_file.close()


# The relationships parts of streamed sheets, and the pieces of their sheet
# parts (bytes and files), until their workbook is saved.
_STREAMED_RELS: weakref.WeakKeyDictionary[Any, IO[bytes]] = weakref.WeakKeyDictionary()
_STREAMED_PARTS: weakref.WeakKeyDictionary[Any, list[bytes | IO[bytes]]] = (
    weakref.WeakKeyDictionary())


class _Archive(ZipFile):
    """A zip file that writes the parts named in ``parts`` from those files
    (relationships head first) instead of what it is given for them, and the
    files named in ``sheets`` (openpyxl's sheet parts) from those pieces:
    the streamed rows are deflated from their file, never copied into the
    part first (180 MB at 100k tasks)."""

    def __init__(
        self,
        path: Path,
        parts: dict[str, IO[bytes]],
        sheets: dict[str, list[bytes | IO[bytes]]],
    ) -> None:
        super().__init__(path, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=ZIP_LEVEL)
        self._parts = parts
        self._sheets = sheets

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        pieces = self._sheets.pop(filename, None) if isinstance(filename, str) else None
        if pieces is None:
            super().write(filename, arcname, *args, **kwargs)
            return
        # As ZipFile.write makes it (name, time, mode), its size what is written.
        zinfo = ZipInfo.from_file(filename, arcname)  # strict timestamps, as this archive
        zinfo.compress_type = self.compression
        zinfo._compresslevel = self.compresslevel  # type: ignore[attr-defined]
        zinfo.file_size = sum(
            len(piece) if isinstance(piece, bytes) else piece.seek(0, os.SEEK_END)
            for piece in pieces
        )
        with self.open(zinfo, "w") as part:
            for piece in pieces:
                if isinstance(piece, bytes):
                    part.write(piece)
                else:
                    piece.seek(0)
                    shutil.copyfileobj(piece, part, 1 << 20)
                    piece.close()

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        source = self._parts.pop(zinfo_or_arcname, None) if isinstance(
            zinfo_or_arcname, str) else None
        if source is None:
            super().writestr(zinfo_or_arcname, data, *args, **kwargs)
            return
        with self.open(zinfo_or_arcname, "w") as part:
            part.write(_RELS_HEAD)
            source.seek(0)
            shutil.copyfileobj(source, part, 1 << 20)
        source.close()


def save_workbook(workbook: Workbook, path: Path) -> None:
    """Save a write-only ``workbook`` to ``path`` as :meth:`Workbook.save`
    does, every part the same, but deflated at :data:`ZIP_LEVEL`: zlib's
    default (6) took longer than writing the rows themselves at 100k tasks
    (180 MB of sheet XML), level 3 takes about a third of it for a file
    about a quarter larger. Streamed sheets' parts and relationships parts
    are written from :class:`SheetRows`' pieces and files."""
    if not workbook.worksheets:
        workbook.create_sheet()
    parts = {
        # The name ExcelWriter gives the part: sheets are numbered as saved.
        f"xl/worksheets/_rels/sheet{number}.xml.rels": _STREAMED_RELS.pop(sheet)
        for number, sheet in enumerate(workbook.worksheets, start=1)
        if sheet in _STREAMED_RELS
    }
    sheets = {
        sheet._writer.out: _STREAMED_PARTS.pop(sheet)
        for sheet in workbook.worksheets
        if sheet in _STREAMED_PARTS
    }
    archive = _Archive(path, parts, sheets)
    workbook.properties.modified = datetime.now(tz=UTC).replace(tzinfo=None)
    ExcelWriter(workbook, archive).save()  # closes the archive
    if parts or sheets:
        raise RuntimeError(f"streamed parts not written: {sorted(parts)} {sorted(sheets)}")
