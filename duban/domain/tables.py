"""Responsibility tables: rows of 序号 | 任务 | 牵头单位 | 配合单位 | 完成时限 as measures.

A table reaches the parser as lines whose cells are joined by TAB (one line per row;
the document readers produce them from Word, PDF, OFD and HTML tables). A row whose
cells name a task column and at least one responsibility or time column is a header;
the rows under it, up to the first line that is not a row, are measures.

:meth:`TableReader.expand` turns the document's lines into ``(line number, text)``
entries the parser reads as if the plan were written out: each row becomes a heading
``1.任务…`` (or ``(一)任务…`` for a Chinese-numeral 序号) followed by ``牵头单位:…``,
``配合单位:…``, ``责任单位:…``, ``分管领导:…`` and ``完成时限:…`` lines — all carrying the
row's own line number, so every measure, clause and target points at its table row.

* a row with one distinct text (a merged cell across the table) is a section heading
  when it reads as one (一、产业发展), else a caption, left out; a web page gives such a
  row as a line of its own between rows, which continues the table the same way;
* header cells are read without their notes in parentheses (责任单位(列第一位的为牵头
  单位)); a column of units whose name says no role (指导部门, 负责单位, 责任主体 …)
  lists the responsible units, the first of which leads; a second task-like column
  (改革举措 | 主要内容) is the measure's text under its title;
* a row without 序号 in a numbered table continues the measure above it;
* a table without a 序号 column numbers its rows in order;
* a unit cell's lines (joined by spaces) are split into names where a name ends
  (市发改委 市财政局), and joined where a name was wrapped (市财 政局);
* a header with a task column and a time, supporting or leader column but no lead or
  responsible column is an error: the plan's table cannot say who leads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from duban.domain.errors import PlanParseError
from duban.domain.parser_config import ParserConfig

_ITEM_NUMBER = re.compile(r"^(\d{1,3})[.、．]?$")
_CN_NUMBER = re.compile(r"^\(?([一二三四五六七八九十]+)[)、]?$")
_LEADING_NUMBER = re.compile(r"^\d{1,3}[.、](?!\d)\s*")
_SEPARATORS = "、,;,;/"
_PARENS = str.maketrans({"（": "(", "）": ")"})
_UNIT_COLUMN_ENDS = ("单位", "部门", "处室", "科室", "主体", "机构")
# How a unit's name begins (a new name on a new line) and bodies whose units are named
# after them (市委组织部, 国务院国资委): a line after one of these continues the name.
_NAME_STARTS = ("市", "省", "区", "县", "国家", "中国", "中共", "各", "全国", "自治区", "州",
                "镇", "乡", "街道")
_PARENT_BODIES = ("国务院", "市委", "省委", "区委", "县委", "州委", "党委", "市政府", "省政府",
                  "区政府", "县政府", "中共中央")


def _flat_cell(line: str) -> str:
    """A cell of a table given one cell per line, without its " |" ending."""
    return line.strip().removesuffix("|").strip()


def _plausible(cells: list[str], columns: Columns) -> bool:
    """Whether a row read one cell per line has its cells where the header says:
    units and leaders short names, not sentences; a time value short."""
    for index, _word in columns.roles:
        if len(cells[index]) > 80 or "。" in cells[index].rstrip("。 "):  # sentences
            return False
    return columns.time is None or len(cells[columns.time]) <= 30


def _flat_row(
    lines: list[str], index: int, width: int, piped: bool
) -> tuple[list[str] | None, int]:
    """``width`` cells from ``index`` (blank lines skipped; with ``piped`` a cell runs
    to the line ending in "|"), and the index after them; None if the lines run out."""
    cells: list[str] = []
    while len(cells) < width:
        while index < len(lines) and not lines[index].strip():
            index += 1
        if index >= len(lines):
            return None, index
        if piped:
            parts: list[str] = []
            while index < len(lines) and not lines[index].rstrip().endswith("|"):
                parts.append(lines[index].strip())
                index += 1
            if index >= len(lines):
                return None, index
            parts.append(_flat_cell(lines[index]))
            cells.append(" ".join(p for p in parts if p))
        else:
            cells.append(_flat_cell(lines[index]))
        index += 1
    return cells, index


@dataclass
class Columns:
    """Column indexes of a responsibility table's header (None if absent)."""

    task: int
    number: int | None = None
    lead: int | None = None
    supporting: int | None = None
    responsible: int | None = None
    leader: int | None = None
    time: int | None = None
    # further task-like columns (主要内容 beside 改革举措): the measure's text
    text: list[int] = field(default_factory=list)

    @property
    def roles(self) -> list[tuple[int, str]]:
        """(column, label word) of the columns that become clause lines."""
        found = [
            (self.leader, "分管领导"),
            (self.lead, "牵头单位"),
            (self.supporting, "配合单位"),
            (self.responsible, "责任单位"),
        ]
        return [(i, word) for i, word in found if i is not None]


class TableReader:
    """Finds responsibility tables among a document's lines (see module doc)."""

    def __init__(self, config: ParserConfig) -> None:
        self.config = config
        self._section_res = config.compiled("section_patterns")
        self._subsection_res = config.compiled("subsection_patterns")

    def columns(self, cells: list[str]) -> Columns | None:
        """The header's columns, or None if ``cells`` is not a responsibility header."""
        found: dict[str, int] = {}
        text: list[int] = []
        for index, raw in enumerate(cells):
            cell = re.sub(r"\([^()]*\)", "", re.sub(r"\s+", "", raw).translate(_PARENS))
            role = self._role_of(cell)
            if role == "task" and "task" in found:
                text.append(index)
            elif role is not None and role not in found:
                found[role] = index
        if "task" not in found or len(found) < 2:
            return None
        return Columns(**found, text=text)

    def _role_of(self, cell: str) -> str | None:
        if not cell or len(cell) > 12:
            return None
        if cell in self.config.number_headers:
            return "number"
        if "领导" in cell or cell in ("责任人", "负责人", "责任领导"):
            return "leader"
        if any(word in cell for word in ("牵头", "主办", "主责")):
            return "lead"
        if any(word in cell for word in ("配合", "协同", "参与", "协办", "协助")):
            return "supporting"
        if any(w in cell for w in ("责任单位", "责任部门", "实施单位", "承办单位", "责任主体")):
            return "responsible"
        if any(label in cell for label in self.config.time_labels) or cell.endswith(
            ("时间", "时限", "期限", "节点")
        ):
            return "time"
        if cell.endswith(_UNIT_COLUMN_ENDS):  # 指导部门, 负责单位: units, roles unsaid
            return "responsible"
        if any(word in cell for word in self.config.task_headers):
            return "task"
        return None

    def expand(self, lines: list[str]) -> list[tuple[int, str]]:
        """The parser's entries for ``lines`` (1-based line numbers kept)."""
        entries: list[tuple[int, str]] = []
        index = 0
        while index < len(lines):
            line = lines[index]
            flat = self._flattened(lines, index)
            if flat is not None:
                flat_columns, flat_rows, after = flat
                self._check_header(flat_columns, index + 1)
                entries.append((index + 1, ""))
                counter = 0
                for number, cells in flat_rows:
                    found, counter = self._row(cells, flat_columns, number, counter)
                    entries.extend(found)
                index = after
                continue
            header = self.columns(line.split("\t")) if "\t" in line else None
            if header is None:
                entries.append((index + 1, line))
                index += 1
                continue
            self._check_header(header, index + 1)
            entries.append((index + 1, ""))
            index += 1
            counter = 0
            while index < len(lines):
                line = lines[index]
                if "\t" not in line:
                    if not self._row_between_rows(lines, index):
                        break
                    rows, counter = self._row([line], header, index + 1, counter)
                else:
                    rows, counter = self._row(line.split("\t"), header, index + 1, counter)
                entries.extend(rows)
                index += 1
        return entries

    def _row_follows(self, lines: list[str], index: int, previous: int) -> bool:
        """Whether, past blank lines and merged section rows (四、… / 五、…), the next
        line starts a row numbered after ``previous``."""
        for line in lines[index:]:
            cell = _flat_cell(line)
            if cell and not self._is_heading(cell):
                match = _ITEM_NUMBER.match(cell)
                return match is not None and int(match.group(1)) > previous
        return False

    def _is_heading(self, text: str) -> bool:
        return any(p.match(text) for p in self._section_res + self._subsection_res)

    @staticmethod
    def _check_header(header: Columns, line: int) -> None:
        says_more = (header.time, header.supporting, header.leader) != (None, None, None)
        if header.lead is None and header.responsible is None and says_more:
            raise PlanParseError(
                "表格有“任务”等列,却没有“牵头单位”或“责任单位”列,无法确定谁牵头;"
                "请在表格中加上牵头单位列",
                line=line,
            )

    def _flattened(
        self, lines: list[str], start: int
    ) -> tuple[Columns, list[tuple[int, list[str]]], int] | None:
        """A table given one cell per line (a Word table saved as text, a web page's
        table copied as text; cells may end in " |"): a header of 3–8 short cells
        starting with 序号 on consecutive lines, then rows of as many cells, each row
        starting with its number. Returns (columns, [(line of the row, cells)], index
        after the table), or None if no such table starts at ``start``."""
        first = _flat_cell(lines[start])
        if first not in self.config.number_headers:
            return None
        piped = lines[start].rstrip().endswith("|")
        cells: list[str] = []
        index = start
        while index < len(lines) and len(cells) <= 8:
            cell = _flat_cell(lines[index])
            if cell and (_ITEM_NUMBER.match(cell) or self._is_heading(cell)):
                break
            if cell:
                if len(cell) > 12 or "\t" in lines[index]:
                    return None
                cells.append(cell)
            index += 1
        header = self.columns(cells) if 3 <= len(cells) <= 8 else None
        if header is None or header.number != 0:
            return None
        rows: list[tuple[int, list[str]]] = []
        previous = 0
        while index < len(lines):
            while index < len(lines) and not lines[index].strip():
                index += 1
            if index >= len(lines):
                break
            number = _ITEM_NUMBER.match(_flat_cell(lines[index]))
            if number is None or int(number.group(1)) <= previous:
                heading = _flat_cell(lines[index])
                if self._is_heading(heading) and self._row_follows(lines, index + 1, previous):
                    rows.append((index + 1, [heading]))
                    index += 1
                    continue
                break
            row, after = _flat_row(lines, index, len(cells), piped)
            if row is None or not _plausible(row, header):
                break  # out of lines, or a cell of several paragraphs shifted the cells
            rows.append((index + 1, row))
            previous, index = int(number.group(1)), after
        if not rows:
            return None
        return header, rows, index

    @staticmethod
    def _row_between_rows(lines: list[str], index: int) -> bool:
        """A short line followed by a table row: a merged row (一、知识产权保护方面) that
        the document gave as a paragraph; the table goes on after it."""
        for following in lines[index : index + 4]:
            if "\t" in following:
                return True
            if len(following.strip()) > 40:
                return False
        return False

    def _row(
        self, cells: list[str], columns: Columns, line: int, counter: int
    ) -> tuple[list[tuple[int, str]], int]:
        distinct = {c for c in cells if c}
        if len(distinct) == 1:
            (text,) = distinct
            heading = any(p.match(text) for p in self._section_res + self._subsection_res)
            return ([(line, text)] if heading else []), counter
        cells = cells + [""] * (max(len(cells), 8) - len(cells))
        task = cells[columns.task]
        number = cells[columns.number] if columns.number is not None else ""
        entries: list[tuple[int, str]] = []
        if columns.number is None:
            counter += 1
            entries.append((line, f"{counter}.{task}"))
        elif (match := _ITEM_NUMBER.match(number)) is not None:
            counter = int(match.group(1))
            entries.append((line, f"{counter}.{_LEADING_NUMBER.sub('', task)}"))
        elif (match := _CN_NUMBER.match(number)) is not None:
            entries.append((line, f"({match.group(1)}){task}"))
        elif task:
            entries.append((line, task))  # no number: the measure above continues
        for column in columns.text:
            more = cells[column].strip()
            if more and more not in ("/", "-", "—", "无"):
                closed = more.endswith(("。", ";", "!", "?"))
                entries.append((line, more if closed else more + "。"))
        for column, word in columns.roles:
            value = cells[column].strip()
            if value and value not in ("/", "-", "—", "无"):
                names = value if word == "分管领导" else self._units(value)
                entries.append((line, f"{word}:{names}"))
        if columns.time is not None and cells[columns.time].strip():
            entries.append((line, f"完成时限:{cells[columns.time].strip()}"))
        return entries, counter

    def _units(self, cell: str) -> str:
        """Join a unit cell's lines: a new name where a line starts one (市…, 省…, 国家…)
        or where the text before ends one (市发改委 / 市财政局), unless what came before is
        a parent body whose own units follow (市委 / 组织部, 国务院 / 国资委); a name
        wrapped in the middle is joined again (市财 / 政局)."""
        pieces = cell.split()
        text = pieces[0] if pieces else ""
        for piece in pieces[1:]:
            last = re.split(f"[{re.escape(_SEPARATORS)}]", text)[-1]
            if text.endswith(tuple(_SEPARATORS)) or piece.startswith(tuple(_SEPARATORS)):
                text += piece
            elif piece.startswith(_NAME_STARTS):
                text += "、" + piece
            elif last.endswith(_PARENT_BODIES):
                text += piece
            elif re.sub(r"\([^()]*\)$", "", text).endswith(self.config.name_suffixes):
                text += "、" + piece
            else:
                text += piece
        return text
