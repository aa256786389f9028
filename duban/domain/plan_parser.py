"""Read a Chinese work plan (工作方案) into a :class:`PlanDraft`.

The parser is pure: text in, draft out (stdlib only). It

1. normalises each line (NFKC: full-width punctuation becomes half-width),
2. finds the title and document number and skips the web-page chrome around
   the plan (breadcrumbs before the title, footers after the last measure),
3. classifies headings by level (一、 / (一) / 1.) and decides which level
   carries the measures,
4. cuts the body into sections and measure blocks (a measure runs to the next
   heading; later paragraphs continue it only if they read as prose),
5. parses each measure's responsibility clause and targets.

Errors (no measure found, a measure number repeated, a clause with no lead)
raise :class:`PlanParseError` with the 1-based line; doubtful spots become
:class:`ParseWarning` entries for the coordinator's review.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from duban.domain.cn_numbers import parse_cn_int
from duban.domain.errors import PlanParseError
from duban.domain.parens import paren_groups
from duban.domain.parser_config import ParserConfig
from duban.domain.plan_draft import (
    Measure,
    ParseWarning,
    PlanDraft,
    Section,
    WarningKind,
)
from duban.domain.plan_lines import as_printed, attachment_list, normalize_line, start_year
from duban.domain.plan_measures import MeasureReader
from duban.domain.responsibility import ClauseParser, KnownName
from duban.domain.tables import TableReader
from duban.domain.targets import TargetFinder

_SECTION, _SUBSECTION, _ITEM = "section", "subsection", "item"
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_PROSE_END = ("。", ";", "!", "?", ":", "…", "”", ")")
# An item whose title starts with digits: "11.121人才梯队项目。"
_DIGIT_TITLE_ITEM = re.compile(
    r"^(?P<label>\d{1,3})\.(?P<title>\d+(?:\.\d+)?[\u4e00-\u9fff%\"“].*)$"
)


@dataclass
class _Heading:
    level: str
    label: str
    title: str
    # "11.121人才梯队项目": an item only if 11 follows the item before it.
    needs_sequence: bool = False


@dataclass
class _Block:
    heading: _Heading
    line: int
    lines: list[tuple[int, str]] = field(default_factory=list)  # (line no, normalised text)
    section: Section | None = None
    subsection: str | None = None
    subsection_label: str | None = None

    @property
    def end_line(self) -> int:
        return self.lines[-1][0] if self.lines else self.line


class PlanParser:
    """Parses plan text with the patterns of a :class:`ParserConfig`.

    ``known`` tells whether a department name is in the directory; it keeps
    names with 和 whole (市海洋农业和水务局) and marks unknown names.
    """

    def __init__(self, config: ParserConfig | None = None, *, known: KnownName | None = None):
        self.config = config or ParserConfig()
        self.known = known
        self.clauses = ClauseParser(self.config, known)
        self.targets = TargetFinder(self.config)
        self.tables = TableReader(self.config)
        self._numbers: list[int] = []
        self._section_res = self.config.compiled("section_patterns")
        self._subsection_res = self.config.compiled("subsection_patterns")
        self._item_res = self.config.compiled("item_patterns")
        self._title_res = self.config.compiled("title_patterns")
        self._doc_res = self.config.compiled("doc_number_patterns")
        self._chrome_res = self.config.compiled("chrome_patterns")
        self.measures = MeasureReader(self.config, self.clauses, self.targets, known)

    # ------------------------------------------------------------------ API --
    def parse(self, text: str, *, source_name: str | None = None) -> PlanDraft:
        """Return the draft of ``text``; raises PlanParseError (see module doc)."""
        normalized = [normalize_line(raw) for raw in text.splitlines()]
        if not any(normalized):
            raise PlanParseError("文件为空,没有可解析的内容", source=source_name)
        entries = self.tables.expand(normalized)
        lines = [t for _n, t in entries]
        self._numbers = [n for n, _t in entries]
        listed = attachment_list(lines)
        headings = self._sequenced(
            {i: h for i, line in enumerate(lines) if i not in listed and (h := self._heading(line))}
        )
        stated = any(self.clauses.states_first_leads(line) for line in lines)
        self.measures.first_leads_stated = stated
        title_index, title = self._find_title(lines, headings)
        doc_number = self._find_doc_number(lines, title_index, headings, text.splitlines())
        start = title_index + 1 if title is not None else self._first_structural(lines, headings)
        measure_level = self._measure_level(lines, headings, start=start)
        warnings: list[ParseWarning] = []
        sections, blocks = self._blocks(lines, headings, start, measure_level)
        if not blocks:
            raise PlanParseError(
                "未找到编号的措施条目(如以“1.”或“(一)”开头的段落),这可能不是一份工作方案",
                source=source_name,
            )
        measures = self._number_measures(blocks, measure_level, warnings)
        plan_year = self._plan_year(doc_number, lines, title_index)
        self.targets.start_year = start_year(lines[max(start, 0) :])
        self.targets.plan_year = plan_year
        for measure, block in zip(measures, blocks, strict=True):
            self.measures.fill(measure, block.lines, block.heading.title, warnings)
        if title is None:
            title = source_name or "未命名方案"
            warnings.insert(
                0, ParseWarning(WarningKind.AMBIGUOUS_CLAUSE, 1, "未找到方案标题,已用文件名代替")
            )
        dues = [t.due for m in measures for t in m.targets if t.due]
        draft = PlanDraft(
            title=title,
            doc_number=doc_number,
            measures=measures,
            sections=sections,
            plan_year=plan_year,
            horizon=max(dues) if dues else None,
            source_name=source_name,
            source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            warnings=warnings,
        )
        return draft

    # ------------------------------------------------------------ structure --
    def _heading(self, line: str) -> _Heading | None:
        for level, patterns in (
            (_SECTION, self._section_res),
            (_SUBSECTION, self._subsection_res),
            (_ITEM, self._item_res),
        ):
            for pattern in patterns:
                match = pattern.match(line)
                if match and _CJK_RE.search(match.group("title")):
                    return _Heading(level, match.group("label"), match.group("title").strip())
        match = _DIGIT_TITLE_ITEM.match(line)
        if match and self.config.measure_level != _SUBSECTION:
            return _Heading(_ITEM, match.group("label"), match.group("title"), needs_sequence=True)
        return None

    @staticmethod
    def _sequenced(headings: dict[int, _Heading]) -> dict[int, _Heading]:
        """Keep a digits-first item ("11.121…") only where it continues the items
        before it; elsewhere it is a sentence starting with a decimal."""
        kept: dict[int, _Heading] = {}
        previous: int | None = None
        for index in sorted(headings):
            heading = headings[index]
            if heading.level == _ITEM:
                number = int(heading.label) if heading.label.isdigit() else None
                if heading.needs_sequence and (previous is None or number != previous + 1):
                    continue
                previous = number
            kept[index] = heading
        return kept

    def _is_chrome(self, line: str) -> bool:
        return any(p.search(line) for p in self._chrome_res)

    @staticmethod
    def _first_structural(lines: list[str], headings: dict[int, _Heading]) -> int:
        """Index of the first section heading (or first heading if the plan has
        no sections): numbered links in page chrome above it are ignored."""
        sections = [i for i, h in headings.items() if h.level == _SECTION]
        if sections:
            return min(sections)
        return min(headings) if headings else len(lines)

    def _find_title(
        self, lines: list[str], headings: dict[int, _Heading]
    ) -> tuple[int, str | None]:
        """Index and text of the title line: the last title-like line before the
        first section heading (-1 and None if none)."""
        first = self._first_structural(lines, headings)
        best: tuple[int, str | None] = (-1, None)
        for index in range(first):
            line = lines[index]
            if self._is_chrome(line):
                continue
            for pattern in self._title_res:
                match = pattern.match(line)
                if match:
                    best = (index, match.group("title"))
        index, title = best
        if title is not None and "关于" not in title and index > 0:
            # a title printed over two lines: 国务院关于促进综合保税区 / 高水平……的若干意见
            before = lines[index - 1]
            if "关于" in before and len(before) <= 40 and not re.search(r"[。,;:!?]", before):
                return index, before + title
        return best

    def _find_doc_number(
        self, lines: list[str], title_index: int, headings: dict[int, _Heading],
        raw_lines: list[str],
    ) -> str | None:
        """The 文号 as printed: 〔2025〕 stays 〔2025〕 (only the matching reads the
        normalised line, where 〔〕 are parentheses), so plan keys keep it too."""
        first = self._first_structural(lines, headings)
        for index in range(max(0, title_index - 3), first):
            compact = lines[index].replace(" ", "")
            for pattern in self._doc_res:
                match = pattern.match(compact)
                if match:
                    return as_printed(match, raw_lines[self._numbers[index] - 1])
        return None

    @staticmethod
    def _plan_year(doc_number: str | None, lines: list[str], title_index: int) -> int | None:
        if doc_number and (match := re.search(r"(?:19|20)\d{2}", doc_number)):
            return int(match.group(0))
        for line in lines[max(0, title_index) : title_index + 4]:
            if match := re.match(r"^((?:19|20)\d{2})[-年./]", line):
                return int(match.group(1))
        return None

    def _measure_level(self, lines: list[str], headings: dict[int, _Heading], start: int) -> str:
        """The heading level whose blocks are the measures: the level carrying the most
        responsibility clauses (the deeper one on a tie); with no clause anywhere, items
        if there are any, else (一) headings. Top-level headings (一、) are measures only
        when they carry more clauses than any level below them (一、…(X负责) with nothing
        numbered under it)."""
        if self.config.measure_level != "auto":
            return self.config.measure_level
        levels = {h.level for i, h in headings.items() if i >= start}
        scores = {_SECTION: 0, _SUBSECTION: 0, _ITEM: 0}
        current: str | None = None
        for index in range(start, len(lines)):
            heading = headings.get(index)
            if heading is not None:
                current = heading.level
            if current and self._has_clause(lines[index]):
                scores[current] += 1
        deeper = [level for level in (_ITEM, _SUBSECTION) if level in levels]
        if not deeper:
            return _SECTION
        if scores[_SECTION] > max(scores[level] for level in deeper):
            return _SECTION
        if len(deeper) == 1:
            return deeper[0]
        return _SUBSECTION if scores[_SUBSECTION] > scores[_ITEM] else _ITEM

    def _has_clause(self, line: str) -> bool:
        if self.clauses.label_start(line):
            return True
        return any(self.clauses.is_clause(inner) for inner, _s, _e in paren_groups(line))

    def _is_continuation(self, line: str, *, closed: bool = False) -> bool:
        if self._is_chrome(line):
            return False
        if self._has_clause(line) or self.measures.time_label_re.match(line):
            return True
        if closed:
            return False
        cjk = len(_CJK_RE.findall(line))
        return cjk >= 8 and (line.endswith(_PROSE_END) or "。" in line)

    def _blocks(
        self, lines: list[str], headings: dict[int, _Heading], start: int, measure_level: str
    ) -> tuple[list[Section], list[_Block]]:
        sections: list[Section] = []
        blocks: list[_Block] = []
        section: Section | None = None
        subsection: str | None = None
        subsection_label: str | None = None
        current: _Block | None = None
        closed = False
        for index in range(max(start, 0), len(lines)):
            line = lines[index]
            if not line:
                continue
            heading = headings.get(index)
            if heading and heading.level == _SECTION and measure_level != _SECTION:
                current = None
                section = Section(
                    number=_cn_or_int(heading.label, self._numbers[index]),
                    label=heading.label,
                    title=heading.title,
                    line=self._numbers[index],
                )
                sections.append(section)
                subsection = subsection_label = None
                continue
            if heading and heading.level == measure_level:
                current = _Block(heading, self._numbers[index], [], section, subsection,
                                 subsection_label)
                current.lines.append((self._numbers[index], heading.title))
                blocks.append(current)
                closed = self._ends_with_clause(heading.title)
                continue
            if heading and heading.level == _SUBSECTION and measure_level == _ITEM:
                current = None
                subsection, subsection_label = heading.title, heading.label
                continue
            same_row = current is not None and self._numbers[index] == current.line
            if current is not None and (same_row or self._is_continuation(line, closed=closed)):
                current.lines.append((self._numbers[index], line))
                closed = closed or self._ends_with_clause(line)
            else:
                current = None
        return sections, blocks

    def _ends_with_clause(self, line: str) -> bool:
        """True if the paragraph ends with a responsibility clause in parentheses: the
        measure is complete, and unnumbered prose after it belongs to no measure
        (the closing paragraphs of a plan)."""
        groups = paren_groups(line)
        if not groups:
            return False
        inner, _start, end = groups[-1]
        return not line[end:].strip(" 。;.") and self.clauses.is_clause(inner)

    def _number_measures(
        self, blocks: list[_Block], level: str, warnings: list[ParseWarning]
    ) -> list[Measure]:
        """Measures numbered as printed; numbering that restarts in each section
        becomes a running number with the printed one kept as the label."""
        printed = [_cn_or_int(b.heading.label, b.line) for b in blocks]
        per_section = _restarts_per_section(blocks, printed)
        measures: list[Measure] = []
        for ordinal, (block, number) in enumerate(zip(blocks, printed, strict=True), start=1):
            label = (
                f"({block.heading.label})" if level == _SUBSECTION else block.heading.label
            )
            if per_section:
                heads = [block.section.label if block.section else None,
                         f"({block.subsection_label})" if block.subsection_label else None]
                label = ".".join([h for h in heads if h] + [label])
            measures.append(
                Measure(
                    number=ordinal if per_section else number,
                    title="",
                    text="",
                    line=block.line,
                    end_line=block.end_line,
                    section=block.section.number if block.section else None,
                    label=label,
                )
            )
        if per_section:
            warnings.append(
                ParseWarning(
                    WarningKind.AMBIGUOUS_CLAUSE,
                    blocks[0].line,
                    "措施按章节分别编号,已改为全文连续编号(原编号见 label)",
                )
            )
        return measures


def _restarts_per_section(blocks: list[_Block], printed: list[int]) -> bool:
    """Whether the numbering restarts at 1 in a new section or subsection;
    raises PlanParseError for a number repeated or going back otherwise."""
    per_section = False
    for i in range(1, len(blocks)):
        if printed[i] <= printed[i - 1]:
            restarted = printed[i] == 1 and (
                blocks[i].section is not blocks[i - 1].section
                or blocks[i].subsection_label != blocks[i - 1].subsection_label
            )
            if not restarted:
                first = (
                    next(blocks[j].line for j in range(i) if printed[j] == printed[i])
                    if printed[i] in printed[:i]
                    else blocks[i - 1].line
                )
                raise PlanParseError(
                    f"措施编号{blocks[i].heading.label}重复或倒序(前见第{first}行)",
                    line=blocks[i].line,
                )
            per_section = True
    return per_section


def _cn_or_int(label: str, line: int) -> int:
    try:
        return parse_cn_int(label)
    except ValueError:
        raise PlanParseError(f"无法识别编号“{label}”", line=line) from None


def parse_plan(
    text: str,
    *,
    config: ParserConfig | None = None,
    known: KnownName | None = None,
    source_name: str | None = None,
) -> PlanDraft:
    """Convenience wrapper: ``PlanParser(config, known=known).parse(text)``."""
    return PlanParser(config, known=known).parse(text, source_name=source_name)
