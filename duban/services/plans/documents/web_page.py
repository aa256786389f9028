"""Web pages (.html/.htm) with the standard library's html.parser.

Block elements (p, div, h1–h6, li, br …) end a paragraph; scripts, styles and the head
are skipped. Tables: a row with two or more non-empty cells is a table row (cells
TAB-joined, a cell's own paragraphs joined by a space); a row with one cell — the
layout tables government sites wrap articles in — gives its paragraphs as paragraphs.
Breadcrumbs and footers around the plan are left to the parser's chrome patterns.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from duban.domain.errors import PlanParseError
from duban.domain.text_decoding import decode_plan_bytes
from duban.services.plans.documents import Block, PlanDocument

_BLOCK_TAGS = {
    "p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "section",
    "article", "dd", "dt", "dl", "blockquote", "pre", "center", "hr", "header", "footer",
    "table", "form",
}
_SKIP = {"script", "style", "head", "noscript", "template", "svg", "select", "button"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_-]+)""", re.I)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.paragraphs = 0
        self.tables = 0
        self.skip = 0
        self.current: list[str] = []
        # per open table: its number, its row count, the row's cells (each a list of paragraphs)
        self.stack: list[dict[str, object]] = []

    # -- text ----------------------------------------------------------------
    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.current.append(data)

    def _take(self) -> str:
        text = re.sub(r"\s+", " ", "".join(self.current)).strip()
        self.current = []
        return text

    def _flush(self) -> None:
        text = self._take()
        if not text:
            return
        cell = self._cell()
        if cell is not None:
            cell.append(text)
        else:
            self._paragraph(text)

    def _paragraph(self, text: str) -> None:
        self.paragraphs += 1
        self.blocks.append(Block(text, f"第{self.paragraphs}段"))

    def _cell(self) -> list[str] | None:
        if not self.stack:
            return None
        cells = self.stack[-1]["cells"]
        assert isinstance(cells, list)
        return cells[-1] if cells else None

    # -- tags ----------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
            return
        if tag == "table":
            self._flush()
            if self.stack:  # an inner table: the outer one is layout
                self._release_row(self.stack[-1])
            self.tables += 1
            self.stack.append({"number": self.tables, "rows": 0, "cells": []})
        elif tag == "tr" and self.stack:
            self._flush()
            self.stack[-1]["cells"] = []
        elif tag in ("td", "th") and self.stack:
            self._flush()
            cells = self.stack[-1]["cells"]
            assert isinstance(cells, list)
            cells.append([])
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if tag in ("td", "th"):
            self._flush()
        elif tag == "tr" and self.stack:
            self._flush()
            self._emit_row(self.stack[-1])
        elif tag == "table" and self.stack:
            self._flush()
            self._emit_row(self.stack.pop())
        elif tag in _BLOCK_TAGS:
            self._flush()

    def _release_row(self, table: dict[str, object]) -> None:
        cells = table["cells"]
        assert isinstance(cells, list)
        for cell in cells:
            for text in cell:
                self._paragraph(text)
            cell.clear()

    def _emit_row(self, table: dict[str, object]) -> None:
        cells = table["cells"]
        assert isinstance(cells, list)
        filled = [" ".join(cell) for cell in cells]
        if sum(1 for c in filled if c) >= 2:
            rows = int(str(table["rows"])) + 1
            table["rows"] = rows
            self.blocks.append(
                Block("\t".join(c.replace("\t", " ") for c in filled),
                      f"表{table['number']} 第{rows}行", "row",
                      table=int(str(table["number"])), row=rows)
            )
        else:
            self._release_row(table)
        table["cells"] = []

    def close(self) -> None:
        super().close()
        self._flush()
        while self.stack:
            self._emit_row(self.stack.pop())


def read_html(path: Path, shown: str) -> PlanDocument:
    data = path.read_bytes()
    declared = _CHARSET.search(data[:4096])
    text: str | None = None
    encoding = "utf-8"
    if declared:
        name = declared.group(1).decode("ascii").lower()
        name = "gb18030" if name in ("gb2312", "gbk") else name
        try:
            text, encoding = data.decode(name), name
        except (LookupError, UnicodeDecodeError):
            text = None
    if text is None:
        text, encoding = decode_plan_bytes(data, source=shown)
    reader = _Reader()
    try:
        reader.feed(text)
        reader.close()
    except Exception as err:  # html.parser is lenient; anything else is a broken file
        raise PlanParseError(f"网页无法解析({type(err).__name__})", source=shown) from None
    return PlanDocument(shown, "html", reader.blocks, encoding)
