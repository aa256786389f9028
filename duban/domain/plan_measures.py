"""Read one measure's lines into its text, title, responsibilities and targets.

The second half of the plan parser (:mod:`duban.domain.plan_parser` cuts the plan
into measure blocks; this module reads each block): labelled lines
(牵头单位:X / 责任单位:Y) and clauses in parentheses become responsibilities,
完成时限 values and the goals in the text become targets, and doubtful spots become
:class:`ParseWarning` entries. Pure, stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from duban.domain.errors import PlanParseError
from duban.domain.parens import paren_groups
from duban.domain.parser_config import ParserConfig
from duban.domain.plan_draft import (
    Measure,
    ParseWarning,
    Responsibility,
    Role,
    Target,
    WarningKind,
)
from duban.domain.responsibility import ClauseParser, ClauseResult, KnownName
from duban.domain.targets import TargetFinder

_TITLE_MAX = 40

Lines = list[tuple[int, str]]  # (line no, text)


@dataclass
class _Reading:
    """A measure's lines sorted by what they say."""

    clause_texts: Lines = field(default_factory=list)
    # Labelled lines (牵头单位:X / 责任单位:Y) describe the measure together; each
    # clause in parentheses closes a part of it and names that part's own lead.
    labelled: Lines = field(default_factory=list)
    parts: Lines = field(default_factory=list)
    body_lines: Lines = field(default_factory=list)
    time_values: Lines = field(default_factory=list)


class MeasureReader:
    """Fills a :class:`Measure` from its block of lines.

    ``first_leads_stated`` is set by the parser when the plan says once for all
    that the first listed unit leads (列第一位者为牵头单位).
    """

    def __init__(
        self,
        config: ParserConfig,
        clauses: ClauseParser,
        targets: TargetFinder,
        known: KnownName | None = None,
    ) -> None:
        self.clauses = clauses
        self.targets = targets
        self.known = known
        self.first_leads_stated = False
        time_labels = sorted(config.time_labels, key=len, reverse=True)
        self.time_label_re = re.compile(
            r"^(?:" + "|".join(map(re.escape, time_labels)) + r")\s*[::]\s*(?P<value>.+)$"
        )
        # ……(牵头单位:X;完成时限:2023年底前) / 责任单位:X;完成时限:6月底前
        self._time_inline_re = re.compile(
            r"(?:" + "|".join(map(re.escape, time_labels)) + r")\s*[::]\s*(?P<value>[^;)]+)"
        )

    def fill(
        self, measure: Measure, lines: Lines, heading_title: str, warnings: list[ParseWarning]
    ) -> None:
        """Fill ``measure`` from its ``lines`` (the heading's text first)."""
        reading = self._read(lines, measure, warnings)
        clause_texts, body_lines = reading.clause_texts, reading.body_lines
        clause_result = self._responsibility(reading.labelled, reading.parts)
        measure.text = "\n".join(t for _n, t in lines)
        measure.title = _title_of(body_lines[0][1] if body_lines else heading_title)
        if clause_texts:
            measure.clause = ";".join(c.strip() for _n, c in clause_texts)
            measure.clause_line = clause_texts[0][0]
        measure.leaders = list(clause_result.leaders)
        self._add_responsibilities(measure, clause_result, clause_texts, warnings)
        for line_no, value in reading.time_values:
            self._add_time_value(measure, value, line_no, warnings)
        self._add_goals(measure, body_lines, reading.time_values, warnings)
        measure.targets.sort(key=lambda t: (t.line, t.due is None))

    def _read(self, lines: Lines, measure: Measure, warnings: list[ParseWarning]) -> _Reading:
        """Sort the lines into time values, clauses and body text (clauses taken out)."""
        reading = _Reading()
        for line_no, text in lines:
            timed = self.time_label_re.match(text)
            if timed:
                reading.time_values.append((line_no, timed.group("value").strip(" 。;")))
                continue
            inline = list(self._time_inline_re.finditer(text))
            reading.time_values.extend(
                (line_no, m.group("value").strip(" 。;,")) for m in inline
            )
            for time_match in reversed(inline):  # the clause reads on without its time
                text = (text[: time_match.start()] + text[time_match.end() :]).replace("()", "")
            label = self.clauses.label_start(text)
            if label is not None and label.start() == 0:
                reading.clause_texts.append((line_no, text))
                reading.labelled.append((line_no, text))
                continue
            if label is not None and not _inside_parens(text, label.start()):
                # "……。牵头单位:X;配合单位:Y" at the end of a paragraph.
                reading.clause_texts.append((line_no, text[label.start() :]))
                reading.labelled.append((line_no, text[label.start() :]))
                text = text[: label.start()].rstrip()
            kept, found = self._take_paren_clauses(text, line_no, measure, warnings)
            reading.clause_texts.extend(found)
            reading.parts.extend(found)
            reading.body_lines.append((line_no, kept))
        return reading

    def _add_goals(
        self,
        measure: Measure,
        body_lines: Lines,
        time_values: Lines,
        warnings: list[ParseWarning],
    ) -> None:
        """The goals in the body text; a single 完成时限 dates the measure's undated
        goals (增长8%以上 …)."""
        deadlines = {t.due: t.due_text for t in measure.targets if t.due is not None}
        for line_no, text in body_lines:
            dated, undated = self.targets.find(text, line=line_no)
            if len(time_values) == 1 and len(deadlines) == 1:
                ((due, due_text),) = deadlines.items()
                for target in undated:
                    target.due, target.due_text = due, due_text
                dated, undated = dated + undated, []
                # the 完成时限 target itself is now carried by these goals
                if dated:
                    measure.targets = [t for t in measure.targets if t.value is not None
                                       or t.ongoing or t.line != time_values[0][0]
                                       or t.text != measure.title]
            self._add_targets(measure, (dated, undated), line_no, warnings)

    def _responsibility(
        self, labelled: list[tuple[int, str]], parts: list[tuple[int, str]]
    ) -> ClauseResult:
        """The measure's responsibility: labelled lines read as one clause; every
        clause in parentheses read on its own (its first listed unit leads its part);
        then leads united in printed order, the others supporting."""
        results: list[ClauseResult] = []
        if labelled:
            together = ClauseResult()
            for line_no, clause in labelled:
                together.extend(self.clauses.parse(clause, line=line_no))
            results.append(together)
        for line_no, clause in parts:
            results.append(self.clauses.parse(clause, line=line_no))
        combined = ClauseResult()
        for result in results:
            result.resolve_responsible()
            for name in result.lead:
                if name not in combined.lead:
                    combined.lead.append(name)
            combined.lead_by_position = combined.lead_by_position or result.lead_by_position
        for result in results:
            result.lead = []
            combined.extend(result)
        combined.supporting = [n for n in combined.supporting if n not in combined.lead]
        return combined

    def _add_targets(
        self,
        measure: Measure,
        found: tuple[list[Target], list[Target]],
        line_no: int,
        warnings: list[ParseWarning],
    ) -> None:
        dated, undated = found
        measure.targets.extend(dated)
        for target in undated:
            measure.targets.append(target)
            if target.ongoing:
                continue  # 每年…: reported on every period, no deadline to ask for
            warnings.append(
                ParseWarning(
                    WarningKind.TARGET_WITHOUT_DATE,
                    line_no,
                    f"措施{measure.label}的目标“{target.text}”没有时限,导入后按方案期限处理",
                    measure.number,
                )
            )

    def _add_time_value(
        self, measure: Measure, value: str, line_no: int, warnings: list[ParseWarning]
    ) -> None:
        """A 完成时限 value (line or table cell): deadlines, or an ongoing task."""
        found = self.targets.time_value(value, line=line_no, subject=measure.title)
        if not found:
            warnings.append(
                ParseWarning(
                    WarningKind.TARGET_WITHOUT_DATE,
                    line_no,
                    f"措施{measure.label}的完成时限“{value}”无法识别为日期,请在草稿中补充",
                    measure.number,
                )
            )
            return
        for target in found:
            if target.due is not None and any(t.due == target.due for t in measure.targets):
                continue
            measure.targets.append(target)

    def _take_paren_clauses(
        self, text: str, line_no: int, measure: Measure, warnings: list[ParseWarning]
    ) -> tuple[str, list[tuple[int, str]]]:
        """Remove responsibility clauses in parentheses from a paragraph. A bare
        list of units counts only at the paragraph's end (各区(功能区) in a
        sentence is a name, not a clause)."""
        found: list[tuple[int, str]] = []
        kept = text
        for inner, start, end in reversed(paren_groups(text)):
            trailing = text[end:].strip(" 。;.")
            words = self.clauses.has_role_words(inner)
            if not words and (trailing or not self.clauses.is_unit_list(inner)):
                continue
            if self.clauses.is_only_note(inner):
                continue  # (列第一位者为牵头单位,下同) on its own
            if trailing:
                warnings.append(
                    ParseWarning(
                        WarningKind.AMBIGUOUS_CLAUSE,
                        line_no,
                        f"措施{measure.label}的分工表述“({inner})”不在段末,请核对",
                        measure.number,
                    )
                )
            found.insert(0, (line_no, inner))
            kept = kept[:start] + kept[end:]
        return kept.rstrip(), found

    def _add_responsibilities(
        self,
        measure: Measure,
        result: ClauseResult,
        clause_texts: list[tuple[int, str]],
        warnings: list[ParseWarning],
    ) -> None:
        line = measure.clause_line or measure.line
        if not clause_texts:
            warnings.append(
                ParseWarning(
                    WarningKind.NO_RESPONSIBILITY,
                    measure.line,
                    f"措施{measure.label}“{measure.title}”没有责任分工",
                    measure.number,
                )
            )
            return
        self._check_leads(measure, result, line, warnings)
        for name in result.lead:
            measure.responsibilities.append(Responsibility(name, Role.LEAD, line))
        for name in result.supporting:
            measure.responsibilities.append(Responsibility(name, Role.SUPPORTING, line))
        self._note_doubts(measure, result, line, warnings)

    def _check_leads(
        self, measure: Measure, result: ClauseResult, line: int, warnings: list[ParseWarning]
    ) -> None:
        """A clause naming only supporting units is an error; no unit at all, or a
        lead taken from the listing order, a warning."""
        if not result.lead and result.supporting:
            raise PlanParseError(
                f"措施{measure.label}的责任分工“{measure.clause}”未指明牵头单位", line=line
            )
        if not result.lead and not result.leaders:
            warnings.append(
                ParseWarning(
                    WarningKind.NO_RESPONSIBILITY,
                    line,
                    f"措施{measure.label}的责任分工“{measure.clause}”没有具体单位,"
                    "请在草稿中指定牵头单位",
                    measure.number,
                )
            )
        if result.lead_by_position and not (result.first_leads_stated or self.first_leads_stated):
            warnings.append(
                ParseWarning(
                    WarningKind.LEAD_ASSUMED,
                    line,
                    f"措施{measure.label}未写明牵头单位,已按排第一位的“{result.lead[0]}”为牵头单位,"
                    "请核对",
                    measure.number,
                )
            )

    def _note_doubts(
        self, measure: Measure, result: ClauseResult, line: int, warnings: list[ParseWarning]
    ) -> None:
        """Warnings for vague units, the clause parser's notes and unknown names."""
        for name in result.vague:
            warnings.append(
                ParseWarning(
                    WarningKind.VAGUE_DEPARTMENT,
                    line,
                    f"措施{measure.label}的“{name}”未指明具体单位,请在草稿中补充",
                    measure.number,
                )
            )
        for note in result.notes:
            warnings.append(
                ParseWarning(
                    WarningKind.AMBIGUOUS_CLAUSE,
                    line,
                    f"措施{measure.label}:{note}",
                    measure.number,
                )
            )
        if self.known is not None:
            for resp in measure.responsibilities:
                if not self.known(resp.name):
                    warnings.append(
                        ParseWarning(
                            WarningKind.UNKNOWN_DEPARTMENT,
                            line,
                            f"措施{measure.label}的“{resp.name}”不在机构目录中",
                            measure.number,
                        )
                    )



def _inside_parens(text: str, position: int) -> bool:
    return any(start < position < end for _inner, start, end in paren_groups(text))


def _title_of(first_line: str) -> str:
    """A measure's short title: its first sentence when short, else its first clause."""
    for stop in ("。", ":", ";"):
        head = first_line.split(stop, 1)[0].strip()
        if head != first_line.strip() and len(head) <= _TITLE_MAX:
            return head
    head = re.split(r"[,。;:]", first_line, maxsplit=1)[0].strip()
    return head if len(head) <= _TITLE_MAX else head[:_TITLE_MAX] + "…"
