"""Fixed-layout pages (PDF, OFD) back into paragraphs and table rows.

Input: per page, text lines with positions and the page's tables. Output: blocks.

* Page furniture goes: in the top or bottom tenth of a page, page numbers (``- 3 -``,
  ``第3页``, ``3/10``), lines that repeat on at least half the pages (running headers and
  footers, digits ignored) and lines set smaller than the body text.
* A line continues the paragraph before it when that line ran to the right margin and
  this one is not indented and does not start a heading (一、 / (一) / 1.); across a page
  break too, so a clause split over lines or pages reads whole.
* Table rows keep their cells (TAB-joined); a cell merged over several rows (None)
  repeats the text above it; a row whose number cell is empty at the top of a page
  continues the row the previous page ended with; a header row repeated on a new page
  is dropped.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

from duban.services.plans.documents import Block

_PAGE_NUMBER = re.compile(
    r"^[-—–\s]*(第\s*)?\d{1,4}\s*(页)?\s*(/\s*\d{1,4}|共\s*\d{1,4}\s*页)?[-—–\s]*$"
)
_HEADING = re.compile(
    r"^\s*(第[一二三四五六七八九十百]+[章节部分条]|[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）]"
    r"|\d{1,3}[.、．](?!\d)|[(（]\d{1,3}[)）]|附件)"
)


@dataclass
class Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def size(self) -> float:
        return max(self.bottom - self.top, 0.1)


@dataclass
class TableItem:
    top: float
    rows: list[list[str | None]]


@dataclass
class Page:
    number: int
    height: float
    lines: list[Line] = field(default_factory=list)
    tables: list[TableItem] = field(default_factory=list)


def _furniture_keys(pages: list[Page]) -> set[str]:
    counts: Counter[str] = Counter()
    for page in pages:
        keys = {_key(line) for line in page.lines if _in_margin_zone(line, page)}
        counts.update(keys)
    needed = max(2, (len(pages) + 1) // 2)
    return {key for key, count in counts.items() if count >= needed and key}


def _key(line: Line) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line.text))


def _in_margin_zone(line: Line, page: Page) -> bool:
    return line.top < page.height * 0.1 or line.bottom > page.height * 0.9


def _drop_furniture(pages: list[Page]) -> None:
    repeated = _furniture_keys(pages) if len(pages) > 1 else set()
    sizes = [line.size for page in pages for line in page.lines]
    small = statistics.median(sizes) * 0.8 if sizes else 0.0
    for page in pages:
        page.lines = [
            line
            for line in page.lines
            if not (
                _in_margin_zone(line, page)
                and (
                    _PAGE_NUMBER.match(line.text)
                    or _key(line) in repeated
                    or line.size < small  # headers and footers are set small
                )
            )
        ]


def _join(left: str, right: str) -> str:
    """Join a wrapped line: Chinese and numbers run on (a number may wrap mid-way);
    Latin words get a space back."""
    if left[-1:].isascii() and left[-1:].isalpha() and right[:1].isascii() and right[:1].isalpha():
        return f"{left} {right}"
    return left + right


def _margins(lines: list[Line]) -> tuple[float, float, float]:
    """(character size, left margin, right margin) of the body text: the leftmost and
    rightmost positions that several lines share (a wrapped paragraph's lines start at
    the left margin and run to the right one; first lines are indented)."""
    if not lines:
        return 1.0, 0.0, 0.0
    size = statistics.median(line.size for line in lines)
    needed = max(2, len(lines) // 20)
    starts = Counter(round(line.x0 / (size / 2)) for line in lines)
    middle = statistics.median(line.x1 for line in lines)
    ends = Counter(round(line.x1 / (size / 2)) for line in lines if line.x1 >= middle)
    shared_starts = [k for k, n in starts.items() if n >= needed] or list(starts)
    return size, min(shared_starts) * size / 2, ends.most_common(1)[0][0] * size / 2


def page_blocks(pages: list[Page]) -> list[Block]:
    """Paragraphs and table rows of ``pages`` in reading order (see module doc)."""
    _drop_furniture(pages)
    all_lines = [line for page in pages for line in page.lines]
    size, left, right = _margins(all_lines)
    blocks: list[Block] = []
    paragraph: list[str] = []
    paragraph_page = 0
    counts: dict[int, int] = {}
    previous: Line | None = None
    tables = _Tables(blocks)

    def flush() -> None:
        nonlocal paragraph
        if paragraph:
            text = paragraph[0]
            for piece in paragraph[1:]:
                text = _join(text, piece)
            counts[paragraph_page] = counts.get(paragraph_page, 0) + 1
            blocks.append(
                Block(text, f"第{paragraph_page}页 第{counts[paragraph_page]}段",
                      page=paragraph_page)
            )
        paragraph = []

    for page in pages:
        items: list[tuple[float, Line | TableItem]] = [(line.top, line) for line in page.lines]
        items += [(table.top, table) for table in page.tables]
        items.sort(key=lambda item: item[0])
        for position, (_top, item) in enumerate(items):
            if isinstance(item, TableItem):
                flush()
                previous = None
                tables.add(item, page.number, continues_last=position == 0)
                continue
            tables.close()
            text = item.text.strip()
            if not text:
                continue
            continues = (
                previous is not None
                and bool(paragraph)
                and previous.x1 >= right - 1.5 * size
                and item.x0 <= left + 0.8 * size
                and not _HEADING.match(text)
                and (item.top < previous.top or item.top - previous.bottom < 1.8 * size)
            )
            if not continues:
                flush()
                paragraph_page = page.number
            paragraph.append(text)
            previous = item
    flush()
    return blocks


class _Tables:
    """Appends table rows to ``blocks``, continuing a table across a page break."""

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self.count = 0
        self.open: tuple[int, int, list[str]] | None = None  # (table, rows, header)

    def close(self) -> None:
        self.open = None

    def add(self, table: TableItem, page: int, *, continues_last: bool) -> None:
        rows = [row for row in table.rows if any((cell or "").strip() for cell in row)]
        width = max((len(r) for r in rows), default=0)
        last = self.blocks[-1] if self.blocks else None
        continuing = (
            continues_last
            and self.open is not None
            and last is not None
            and last.kind == "row"
            and len(last.text.split("\t")) == width
        )
        if continuing and self.open is not None:
            number, count, header = self.open
            above = last.text.split("\t") if last is not None else []
        else:
            self.count += 1
            number, count, header, above = self.count, 0, [], []
        for index, row in enumerate(rows):
            raw = list(row) + [""] * (width - len(row))
            cells = [
                above[i] if cell is None and i < len(above) else _clean(cell)
                for i, cell in enumerate(raw)
            ]
            if header and cells == header:
                continue  # the header repeated on a new page
            previous = self.blocks[-1] if self.blocks else None
            if continuing and index == 0 and not _clean(raw[0]) and previous is not None:
                # a row split by the page break: its rest has no number of its own
                merged = [
                    _join(a, b) if b and b != a else a
                    for a, b in zip(above, cells, strict=False)
                ]
                self.blocks[-1] = Block("\t".join(merged), previous.where, "row",
                                        previous.page, previous.table, previous.row)
                above = merged
                continue
            count += 1
            if not header:
                header = cells
            self.blocks.append(
                Block("\t".join(cells), f"第{page}页 表{number} 第{count}行", "row",
                      page=page, table=number, row=count)
            )
            above = cells
        self.open = (number, count, header)


_NAME_END = ("局", "委", "办", "厅", "部", "室", "会", "院", "中心", "政府", "公司", "班", "组")


def _clean(cell: str | None) -> str:
    """A cell's lines as one: a wrapped line is joined as is; a line that is a short
    unit name (one name per line) is kept apart by a space."""
    if cell is None:
        return ""
    lines = [line.strip() for line in cell.replace("\t", " ").split("\n") if line.strip()]
    if not lines:
        return ""
    text = lines[0]
    for before, line in pairwise(lines):
        listed = len(before) <= 15 and before.endswith(_NAME_END) and len(line) <= 15
        text = f"{text} {line}" if listed else _join(text, line)
    return text
