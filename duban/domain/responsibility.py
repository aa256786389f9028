"""Responsibility clauses: who leads a measure, who supports it, which leader answers.

Understood forms (after NFKC normalisation, so full-width punctuation works):

* verbs, usually in parentheses at the end of a paragraph:
  ``(X牵头,Y、Z等单位和各区配合)``, ``(X牵头Y等单位配合)``, ``(X、W牵头,Y参与)``,
  ``(X、Y分别牵头)`` (both lead), ``(X牵头,Y负责)`` (Y supports: it carries out under X);
* responsibility without a lead: ``(X、Y负责)``, ``(X、Y按职责分工负责)``,
  ``责任单位:X、Y``, an unlabelled list ``(X、Y、Z)``: the first listed unit leads and the
  result says so (``lead_by_position``) so the coordinator can overrule it, unless the
  plan states that convention itself (``列第一位者为牵头单位`` …);
* labels, in parentheses or on lines of their own: ``(牵头单位:X;配合单位:Y)``,
  ``牵头责任单位:X`` / ``协同责任单位:Y``, ``责任单位:X、Y分别牵头`` (a label's list may
  carry verbs of its own);
* leaders (``分管领导:张三``, ``牵头负责领导:金力``): kept apart, never departments;
* notes inside a clause that name nobody (``下同``, ``列第一位者为牵头单位``,
  ``除标注“分别牵头”外``, ``不再做分工``) are dropped, in parentheses or between commas;
* names keep their parentheses (``市委宣传部(市新闻办)``, ``各县(市、区)政府(管委会)``);
  collectives listed with 、 stay one entry (``各区、县级市``, ``各县、市、区政府``);
  vague names (``各有关部门和单位``, ``市直各有关单位``) are reported, never assigned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from duban.domain.errors import PlanParseError
from duban.domain.parens import paren_groups, split_outside_parens, unwrap
from duban.domain.parser_config import ParserConfig

_SEPARATORS = "、,;;/"
_NAME_BAD_START = ("含", "包括", "如", "即", "指", "简称", "以下", "其中", "不含", "除", "详见")
_COLLECTIVE_TAIL = re.compile(r"(\(管委会\))?$")
_COLLECTIVE_GOV = re.compile(r"(人民政府|党委和政府|党委、政府|党委政府|政府|管委会)$")


@dataclass
class ClauseResult:
    """Names in printed order per role, plus notes for the reviewer.

    ``responsible`` holds units named without a role (责任单位, X、Y负责) until
    :meth:`resolve_responsible`; ``lead_by_position`` is then true when the
    first of them was made lead only because it is listed first.
    """

    lead: list[str] = field(default_factory=list)
    supporting: list[str] = field(default_factory=list)
    vague: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    responsible: list[str] = field(default_factory=list)
    leaders: list[str] = field(default_factory=list)
    lead_by_position: bool = False
    first_leads_stated: bool = False

    def extend(self, other: ClauseResult) -> None:
        for name in other.lead:
            if name not in self.lead:
                self.lead.append(name)
        for name in other.supporting:
            if name not in self.supporting and name not in self.lead:
                self.supporting.append(name)
        for name in other.responsible:
            if name not in self.responsible:
                self.responsible.append(name)
        for name in other.leaders:
            if name not in self.leaders:
                self.leaders.append(name)
        self.vague.extend(v for v in other.vague if v not in self.vague)
        self.notes.extend(other.notes)
        self.first_leads_stated = self.first_leads_stated or other.first_leads_stated

    def resolve_responsible(self) -> None:
        """Apply responsibility without a role: the first listed leads unless a
        lead was named otherwise; the others support."""
        if not self.responsible:
            return
        names = [n for n in self.responsible if n not in self.lead]
        if not self.lead and names:
            self.lead.append(names.pop(0))
            self.lead_by_position = bool(names)
        for name in names:
            if name not in self.supporting:
                self.supporting.append(name)
        self.supporting = [n for n in self.supporting if n not in self.lead]
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
        verbs = sorted(
            config.lead_verbs + config.support_verbs + config.responsible_verbs,
            key=len,
            reverse=True,
        )
        self._verb_re = re.compile("|".join(map(re.escape, verbs)))
        labels = sorted(
            config.lead_labels
            + config.support_labels
            + config.responsible_labels
            + config.leader_labels,
            key=len,
            reverse=True,
        )
        self._label_re = re.compile(r"(" + "|".join(map(re.escape, labels)) + r")\s*[::]")
        self._keyword_re = re.compile(
            "|".join(map(re.escape, sorted(verbs + labels, key=len, reverse=True)))
        )
        # Any other label inside a clause (适用范围:…, 完成时限:…) ends the list before it.
        self._other_label_re = re.compile(r"(?:^|(?<=[,;,;。\s]))([\u4e00-\u9fff]{2,8})\s*[::]")
        marks = sorted(config.lead_marks + config.support_marks, key=len, reverse=True)
        self._mark_re = re.compile(r"^(?P<name>.+?)\((?P<mark>" + "|".join(map(re.escape, marks))
                                   + r")\)$")
        self._joiner_re = (
            re.compile("|".join(map(re.escape, config.list_joiners))) if config.list_joiners
            else None
        )
        self._note_res = config.compiled("clause_note_patterns")
        self._first_leads_res = config.compiled("first_leads_patterns")
        self._vague_res = config.compiled("vague_patterns")
        self._collective_units = set(config.collective_units)

    # -- recognising ---------------------------------------------------------
    def is_clause(self, text: str) -> bool:
        """True if ``text`` (a parenthesis' content) reads as a responsibility clause:
        it has a role word, or it is only a list of units (``(X、Y、Z)``)."""
        return bool(self._keyword_re.search(text)) or self.is_unit_list(text)

    def has_role_words(self, text: str) -> bool:
        """True if ``text`` has a role verb or label (牵头, 配合, 责任单位 …)."""
        return bool(self._keyword_re.search(text))

    def is_only_note(self, text: str) -> bool:
        """True if ``text`` is a note naming nobody (列第一位者为牵头单位,下同)."""
        return self._drop_notes(unwrap(text.strip())) == ""

    def label_start(self, line: str) -> re.Match[str] | None:
        """The first responsibility label in ``line`` (牵头单位: …), if any."""
        return self._label_re.search(line)

    def states_first_leads(self, text: str) -> bool:
        """True if ``text`` states that the first listed unit leads."""
        return any(p.search(text) for p in self._first_leads_res)

    def is_note(self, text: str) -> bool:
        return any(p.search(text) for p in self._note_res)

    def is_unit_list(self, text: str) -> bool:
        """True if ``text`` is nothing but unit names (an unlabelled clause)."""
        text = text.strip(" 。;")
        if not text or len(text) > 400 or re.search(r"\d", text):
            return False
        names, _vague = self.split_names(text)
        if not names:
            return False
        return all(self.looks_like_unit(n) for n in names)

    def looks_like_unit(self, name: str) -> bool:
        """A department-like name: known, a collective, or ending like one."""
        if self.known(name) or self.is_vague(name):
            return True
        if len(name) < 2 or len(name) > 30 or "的" in name or name.startswith(_NAME_BAD_START):
            return False
        core = re.sub(r"\([^()]*\)", "", name)
        return name.startswith("各") or core.endswith(self.config.name_suffixes)

    def is_vague(self, name: str) -> bool:
        return name in self.config.vague_names or any(p.match(name) for p in self._vague_res)

    # -- parsing -------------------------------------------------------------
    def parse(self, text: str, *, line: int) -> ClauseResult:
        """Parse one clause; raises PlanParseError if it names nobody."""
        text = unwrap(text.strip())
        stated = self.states_first_leads(text)
        text = self._drop_notes(text)
        if self._joiner_re is not None:
            text = self._joiner_re.sub("、", text)
        if self._label_re.search(text):
            result = self._parse_labelled(text, line=line)
        elif self.has_verb(text):
            result = self._parse_verbs(text, line=line)
        else:
            result = ClauseResult()
            names, vague = self.split_names(text.strip(" ,;,;。"))
            self._place(result, names, result.responsible)
            result.vague.extend(vague)
        result.first_leads_stated = result.first_leads_stated or stated
        if result.empty and not result.vague and not result.leaders:
            raise PlanParseError(f"责任分工“{text}”未列出任何单位", line=line)
        return result

    def _drop_notes(self, text: str) -> str:
        """Remove notes that name nobody: parentheses and comma-separated
        segments matching a note pattern."""
        for inner, start, end in reversed(paren_groups(text)):
            if self.is_note(inner):
                text = text[:start] + text[end:]
        parts = split_outside_parens(text, ",;,;。")
        kept = [(piece, sep) for piece, sep in parts if not self.is_note(piece.strip())]
        return "".join(sep + piece for piece, sep in kept).strip(" ,;,;。")

    def has_verb(self, text: str) -> bool:
        """True if ``text`` has a role verb used as a verb (not 牵头 in 牵头单位)."""
        return any(self._verb_at_boundary(text, m) for m in self._verb_re.finditer(text))

    def _place(self, result: ClauseResult, names: list[str], default: list[str]) -> None:
        """Add ``names`` to ``default``, except a name that says its own role in
        parentheses (市发改委(牵头)), which goes where it says."""
        for raw in names:
            name, target = raw, default
            mark = self._mark_re.match(raw)
            if mark:
                name = mark.group("name").strip()
                target = (
                    result.lead if mark.group("mark") in self.config.lead_marks
                    else result.supporting
                )
            if name not in target:
                target.append(name)

    def _parse_labelled(self, text: str, *, line: int) -> ClauseResult:
        result = ClauseResult()
        matches = list(self._label_re.finditer(text))
        if text[: matches[0].start()].strip(" ,;,;。"):
            result.notes.append(f"分工表述“{text}”开头有无法识别的内容")
        for match, nxt in zip(matches, [*matches[1:], None], strict=True):
            label = match.group(1)
            stop = nxt.start() if nxt else len(text)
            other = self._other_label_re.search(text, match.end(), stop)
            if other is not None:  # 适用范围:… is not a list of units
                stop = other.start()
            body = text[match.end() : stop].strip(" ,;,;。")
            if label in self.config.leader_labels:
                for name in split_outside_parens(body, _SEPARATORS):
                    leader = name[0].strip(" ,;。")
                    if leader and leader not in result.leaders:
                        result.leaders.append(leader)
                continue
            if self.has_verb(body):
                # 责任单位:X、Y分别牵头 — the list says its roles itself.
                result.extend(self._parse_verbs(body, line=line))
                continue
            names, vague = self.split_names(body)
            result.vague.extend(vague)
            if label in self.config.lead_labels:
                self._place(result, names, result.lead)
            elif label in self.config.support_labels:
                self._place(result, names, result.supporting)
            else:
                self._place(result, names, result.responsible)
        return result

    def _parse_verbs(self, text: str, *, line: int) -> ClauseResult:
        result = ClauseResult()
        position = 0
        lead_seen = False
        for match in self._verb_re.finditer(text):
            if not self._verb_at_boundary(text, match):
                continue  # 协办 inside 市政协办 is part of a name
            segment = text[position : match.start()].strip(" ,;,;。")
            position = match.end()
            verb = match.group(0)
            if not segment:
                # "X牵头负责" is matched whole; a bare verb after a verb is noise.
                continue
            names, vague = self.split_names(segment)
            result.vague.extend(vague)
            if verb in self.config.lead_verbs:
                target, lead_seen = result.lead, True
            elif verb in self.config.support_verbs or lead_seen:
                target = result.supporting  # X牵头,Y负责: Y carries out under X
            else:
                target = result.responsible
            self._place(result, names, target)
        rest = text[position:].strip(" ,;,;。")
        if rest:
            result.notes.append(f"分工表述末尾“{rest}”未能识别为单位或职责")
        if result.empty and not result.vague:
            raise PlanParseError(f"责任分工“{text}”中没有“牵头”“配合”等职责用语", line=line)
        return result

    def _verb_at_boundary(self, text: str, match: re.Match[str]) -> bool:
        """A role verb ends a name list: it is followed by punctuation or the end,
        or it is 牵头 (which no department name contains), or a known name
        does not swallow it. A verb in parentheses marks the name before it
        (市发改委(牵头)) and ends nothing."""
        before = text[: match.start()]
        if before.count("(") > before.count(")"):
            return False
        if "牵头" in match.group(0):
            # 牵头单位 / 牵头部门 inside a list is a noun (各项目牵头单位), not a verb
            return not re.match(r"(单位|部门|领导|处室)", text[match.end() : match.end() + 2])
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
        for raw in self._merge_collectives(split_outside_parens(text, _SEPARATORS)):
            raw = self._strip_tail(raw.strip().removeprefix("由").strip())
            if not raw:
                continue
            if self.is_vague(raw):
                vague.append(raw)
                continue
            for name in self._split_conjunctions(raw):
                name = self._strip_tail(name.strip())
                if not name:
                    continue
                if self.is_vague(name):
                    vague.append(name)
                elif name not in names:
                    names.append(name)
        return names, vague

    def _merge_collectives(self, parts: list[tuple[str, str]]) -> list[str]:
        """Join 各区、县级市 / 各县、市、区政府 back into one collective name."""
        merged: list[str] = []
        for piece, sep in parts:
            piece = piece.strip()
            if merged and sep == "、" and merged[-1].startswith("各") and self._local_unit(piece):
                merged[-1] = f"{merged[-1]}、{piece}"
            else:
                merged.append(piece)
        return merged

    def _local_unit(self, piece: str) -> bool:
        core = _COLLECTIVE_GOV.sub("", _COLLECTIVE_TAIL.sub("", piece, count=1))
        return core in self._collective_units

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
            or self.is_vague(name)
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
