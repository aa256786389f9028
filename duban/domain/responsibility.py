"""Responsibility clauses: who leads a measure and who supports it.

Understood forms (after NFKC normalisation, so full-width punctuation works):

* verb form, in parentheses at the end of a paragraph:
  ``(X牵头,Y、Z等单位和各区配合)``, ``(X牵头Y等单位配合)``, ``(X、W牵头,Y参与)``;
* label form, in parentheses or on lines of their own:
  ``(牵头单位:X;配合单位:Y)``, ``牵头单位:X`` / ``责任单位:Y``;
* ``责任单位:A、B`` alone: the first listed leads, the others support.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from duban.domain.errors import PlanParseError
from duban.domain.parser_config import ParserConfig
from duban.domain.plan_draft import Role


@dataclass
class ClauseResult:
    """Names in printed order per role, plus notes for the reviewer."""

    lead: list[str] = field(default_factory=list)
    supporting: list[str] = field(default_factory=list)
    vague: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    responsible: list[str] = field(default_factory=list)

    def extend(self, other: ClauseResult) -> None:
        for name in other.lead:
            if name not in self.lead:
                self.lead.append(name)
        for name in other.supporting:
            if name not in self.supporting and name not in self.lead:
                self.supporting.append(name)
        self.vague.extend(other.vague)
        self.notes.extend(other.notes)
        self.responsible.extend(other.responsible)

    def resolve_responsible(self) -> None:
        """Apply 责任单位: first listed leads unless a lead was named otherwise."""
        if not self.responsible:
            return
        names = [n for n in self.responsible if n not in self.lead]
        if not self.lead and names:
            self.lead.append(names.pop(0))
        for name in names:
            if name not in self.supporting:
                self.supporting.append(name)
        self.responsible = []

    @property
    def empty(self) -> bool:
        return not (self.lead or self.supporting or self.responsible)


KnownName = Callable[[str], bool]


class ClauseParser:
    """Parses clause texts with the words of a :class:`ParserConfig`."""

    def __init__(self, config: ParserConfig, known: KnownName | None = None) -> None:
        self.config = config
        self.known = known or (lambda _name: False)
        verbs = sorted(config.lead_verbs + config.support_verbs, key=len, reverse=True)
        self._verb_re = re.compile("|".join(map(re.escape, verbs)))
        labels = sorted(
            config.lead_labels + config.support_labels + config.responsible_labels,
            key=len,
            reverse=True,
        )
        self._label_re = re.compile(r"(" + "|".join(map(re.escape, labels)) + r")\s*[::]")
        self._keyword_re = re.compile(
            "|".join(map(re.escape, sorted(verbs + labels, key=len, reverse=True)))
        )

    # -- recognising ---------------------------------------------------------
    def is_clause(self, text: str) -> bool:
        """True if ``text`` (a parenthesis' content) reads as a responsibility clause."""
        return bool(self._keyword_re.search(text))

    def label_start(self, line: str) -> re.Match[str] | None:
        """The first responsibility label in ``line`` (牵头单位: …), if any."""
        return self._label_re.search(line)

    # -- parsing -------------------------------------------------------------
    def parse(self, text: str, *, line: int) -> ClauseResult:
        """Parse one clause; raises PlanParseError if it names nobody."""
        text = text.strip().strip("()").strip()
        if self._label_re.search(text):
            result = self._parse_labelled(text, line=line)
        else:
            result = self._parse_verbs(text, line=line)
        if result.empty and not result.vague:
            raise PlanParseError(f"责任分工“{text}”未列出任何单位", line=line)
        return result

    def _parse_labelled(self, text: str, *, line: int) -> ClauseResult:
        result = ClauseResult()
        matches = list(self._label_re.finditer(text))
        if text[: matches[0].start()].strip(" ,;,;。"):
            result.notes.append(f"分工表述“{text}”开头有无法识别的内容")
        for match, nxt in zip(matches, [*matches[1:], None], strict=True):
            label = match.group(1)
            body = text[match.end() : nxt.start() if nxt else len(text)]
            names, vague = self.split_names(body.strip(" ,;,;。"))
            result.vague.extend(vague)
            if label in self.config.lead_labels:
                result.lead.extend(n for n in names if n not in result.lead)
            elif label in self.config.support_labels:
                result.supporting.extend(n for n in names if n not in result.supporting)
            else:
                result.responsible.extend(n for n in names if n not in result.responsible)
        return result

    def _parse_verbs(self, text: str, *, line: int) -> ClauseResult:
        result = ClauseResult()
        position = 0
        for match in self._verb_re.finditer(text):
            if not self._verb_at_boundary(text, match):
                continue  # 协办 inside 市政协办 is part of a name
            segment = text[position : match.start()].strip(" ,;,;。")
            position = match.end()
            if not segment:
                # "X牵头负责" is matched whole; a bare verb after a verb is noise.
                continue
            names, vague = self.split_names(segment)
            result.vague.extend(vague)
            role = Role.LEAD if match.group(0) in self.config.lead_verbs else Role.SUPPORTING
            target = result.lead if role is Role.LEAD else result.supporting
            target.extend(n for n in names if n not in target)
        rest = text[position:].strip(" ,;,;。")
        if rest:
            result.notes.append(f"分工表述末尾“{rest}”未能识别为单位或职责")
        if not result.lead and not result.supporting and not result.vague:
            raise PlanParseError(f"责任分工“{text}”中没有“牵头”“配合”等职责用语", line=line)
        return result

    def _verb_at_boundary(self, text: str, match: re.Match[str]) -> bool:
        """A role verb ends a name list: it is followed by punctuation or the end,
        or it is 牵头 (which no department name contains), or a known name
        does not swallow it."""
        if match.group(0).startswith("牵头"):
            return True
        following = text[match.end() : match.end() + 1]
        if following == "" or following in ",;,;。、 )":
            start = text.rfind("、", 0, match.start()) + 1
            word = text[start : match.end()].strip(" ,;,;")
            return not self.known(word)
        return False

    # -- names ---------------------------------------------------------------
    def split_names(self, text: str) -> tuple[list[str], list[str]]:
        """Split a printed list into ``(names, vague_names)`` in printed order."""
        names: list[str] = []
        vague: list[str] = []
        for raw in re.split(r"[、,;,;/]+", text):
            for name in self._split_conjunctions(self._strip_tail(raw.strip())):
                name = self._strip_tail(name.strip().removeprefix("由").strip())
                if not name:
                    continue
                if name in self.config.vague_names:
                    vague.append(name)
                elif name not in names:
                    names.append(name)
        return names, vague

    def _strip_tail(self, name: str) -> str:
        changed = True
        while changed:
            changed = False
            for tail in sorted(self.config.list_tails, key=len, reverse=True):
                if name.endswith(tail) and len(name) > len(tail):
                    name = name[: -len(tail)].strip()
                    changed = True
                    break
        return name

    def _looks_like_name(self, name: str) -> bool:
        return (
            self.known(name)
            or name.endswith(self.config.name_suffixes)
            or name in self.config.vague_names
            or name.startswith("各")
        )

    def _split_conjunctions(self, text: str) -> list[str]:
        """Split "A和B" only when both sides look like names and the whole does not."""
        if not text or self.known(text):
            return [text]
        for conj in self.config.name_conjunctions:
            index = text.find(conj)
            while index > 0:
                left, right = text[:index], text[index + len(conj) :]
                left_clean = self._strip_tail(left)
                if left_clean and right and self._looks_like_name(left_clean):
                    tail = self._split_conjunctions(right)
                    if all(self._looks_like_name(n) for n in tail):
                        return [left_clean, *tail]
                index = text.find(conj, index + 1)
        return [text]
