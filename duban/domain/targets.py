"""Dated and quantified targets in a measure's text.

A sentence (split at 。;!?) is cut at each date expression (到2015年,
"十二五"期末, 2016年底前 …): the date governs the clauses after it up to
the next date or the sentence end. In each governed stretch every quantity
(75%以上, 不少于30张, 超过90%, 20%左右, 10亿千瓦) is one target; a stretch with
no quantity is one dated target. A date that opens a paragraph ("到2020年,
……。全国……达到70%。") also governs the quantities of the paragraph's later
sentences that have no date of their own. Quantities before any date are
targets without a date, which the parser reports for review.

Not targets: periods (2019年1月1日至12月31日) and start dates (从2019年起),
ranges (16—24岁), and policy parameters — quantities in a clause that grants
or prices something (可返还……的50%, 最高不超过15万元, ……的标准).

:meth:`TargetFinder.time_value` reads a 完成时限 value (a table cell or a
``完成时限:`` line): one or more deadlines, or an ongoing task (长期坚持,
持续推进, 每年…) with no date of its own. The date expressions themselves are
read by :mod:`duban.domain.deadlines`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from duban.domain.deadlines import RECURRING, DateMatch, find_dates, time_dates
from duban.domain.parser_config import ParserConfig
from duban.domain.plan_draft import Target

_COMPARATOR_PRE = {
    "不少于": ">=",
    "不低于": ">=",
    "至少": ">=",
    "达到": ">=",
    "达": ">=",
    "提高到": ">=",
    "提高至": ">=",
    "提升到": ">=",
    "提升至": ">=",
    "增加到": ">=",
    "增加至": ">=",
    "增长到": ">=",
    "增至": ">=",
    "拥有": ">=",
    "有": ">=",
    "超过": ">",
    "高于": ">",
    "多于": ">",
    "不超过": "<=",
    "不高于": "<=",
    "不多于": "<=",
    "控制在": "<=",
    "降低到": "<=",
    "降低至": "<=",
    "下降到": "<=",
    "下降至": "<=",
    "降到": "<=",
    "降至": "<=",
    "低于": "<",
    "少于": "<",
    "约": "=",
    "为": "=",
}
_COMPARATOR_POST = {
    "以上": ">=",
    "以下": "<=",
    "以内": "<=",
    "之内": "<=",
    "左右": "=",
    "上下": "=",
}
_POSSESSIVE_VERBS = ("拥有", "有")
_NON_TARGET_UNITS = ("年", "月", "日", "号", "届", "期", "周", "季度")
_RANGE_MARKS = ("—", "-", "–", "~", "至", "到", "－")
# A unit and the character after it that make a word, not a quantity (121人才梯队).
_UNIT_WORDS = ("人才", "人员", "人口", "人群", "人民", "名单", "项目", "家庭", "次数", "台账")
_SENTENCE_RE = re.compile(r"[^。;!?]+[。;!?]?")
_CLAUSE_SPLIT_RE = re.compile(r"[,:]")
_PAREN_RE = re.compile(r"\([^()]*\)")



@dataclass(frozen=True)
class Quantity:
    start: int
    end: int
    value: float
    unit: str | None
    comparator: str
    pre: str
    post: str


class TargetFinder:
    """Finds targets with the unit list and fillers of a :class:`ParserConfig`."""

    def __init__(
        self, config: ParserConfig, *, start_year: int | None = None,
        plan_year: int | None = None,
    ) -> None:
        self.config = config
        # Set by the parser per document: the start "N年内" counts from, and the year
        # of dates printed without one (6月底前).
        self.start_year = start_year
        self.plan_year = plan_year
        units = sorted(config.units, key=len, reverse=True)
        pre = sorted(_COMPARATOR_PRE, key=len, reverse=True)
        self._qty_re = re.compile(
            r"(?P<pre>" + "|".join(map(re.escape, pre)) + r")?\s*"
            r"(?<![\d.A-Za-z])(?P<num>\d+(?:\.\d+)?)(?![\d.])\s*"
            r"(?P<unit>(?:万|亿)?(?:" + "|".join(map(re.escape, units)) + r"))?"
            r"(?P<post>" + "|".join(_COMPARATOR_POST) + r")?"
        )

    # -- quantities ----------------------------------------------------------
    def quantities(self, clause: str) -> list[Quantity]:
        """Target quantities in a clause; rates' denominators (每10万人), dates,
        ordinals and attributes (300平方米以上的站) are left out."""
        found: list[Quantity] = []
        masked = _PAREN_RE.sub(lambda m: " " * len(m.group(0)), clause)
        for match in self._qty_re.finditer(masked):
            num_start = match.start("num")
            before = masked[:num_start].rstrip()
            unit = match.group("unit")
            pre = match.group("pre") or ""
            post = match.group("post") or ""
            after = masked[match.end() :]
            if before.endswith(("每", "第")) or after.startswith(_NON_TARGET_UNITS):
                continue
            if unit and (unit[-1] + after[:1]) in _UNIT_WORDS:
                continue  # 121人才梯队: a name, not 121 people
            if unit == "岁" and not pre:
                continue  # 35岁以下青年: who qualifies, not a goal
            if before.endswith(_RANGE_MARKS) and before[:-1].rstrip()[-1:].isdigit():
                continue  # the end of a range: 16—24岁
            if re.match(r"^\s*(?:—|-|–|~|至)\s*\d", after):
                continue  # the start of a range
            if unit is None and not (pre or post):
                continue
            if after.startswith("的") and unit not in ("%", "‰") and match.start() > 0:
                continue  # an attribute: 建有300平方米以上的公共服务站
            comparator = _COMPARATOR_POST.get(post) or _COMPARATOR_PRE.get(pre) or ">="
            found.append(
                Quantity(
                    match.start(),
                    match.end(),
                    float(match.group("num")),
                    unit,
                    comparator,
                    pre,
                    post,
                )
            )
        return found

    def indicator(self, clause: str, quantity: Quantity) -> str | None:
        """What is measured, in the plan's words (subject of the clause)."""
        text = _PAREN_RE.sub("", clause)
        masked = _PAREN_RE.sub(lambda m: "\0" * len(m.group(0)), clause)
        # Positions in `clause` -> positions in `text` (parentheses removed).
        start = len(masked[: quantity.start].replace("\0", ""))
        end = len(masked[: quantity.end].replace("\0", ""))
        before = text[:start].strip()
        after = text[end:].strip()
        if quantity.pre:
            before = before.removesuffix(quantity.pre).strip()
        if quantity.unit in ("%", "‰") and after.startswith("的"):
            noun = after[1:].strip()  # 20%的行政村实现…… : the share of the noun
            indicator = f"{before}{noun}的比例"
        elif quantity.unit in ("%", "‰") and re.search(r"占.+的$", before):
            indicator = f"{before}比例"  # 注册志愿者占常住人口的10%
        else:
            noun = re.sub(r"的?(目标|水平)$", "", after).strip()
            verb = quantity.pre if quantity.pre in _POSSESSIVE_VERBS else ""
            indicator = f"{before}{verb}{noun}"
        indicator = self._strip_fillers(indicator).strip(" ,的")
        return indicator or None

    def _strip_fillers(self, text: str) -> str:
        scope = re.match(r"^(全市|我市|全省|各区)", text)
        prefix = scope.group(1) if scope else ""
        text = text[len(prefix) :]
        changed = True
        while changed:
            changed = False
            for filler in sorted(self.config.indicator_fillers, key=len, reverse=True):
                if text.startswith(filler) and len(text) > len(filler):
                    text = text[len(filler) :]
                    changed = True
        return prefix + text

    # -- time values ---------------------------------------------------------
    def time_value(self, value: str, *, line: int, subject: str) -> list[Target]:
        """Targets of a 完成时限 value: one per deadline, or one ongoing target
        (长期坚持, 持续推进, 每年…); empty if the value is neither."""
        value = value.strip(" 。;")
        recurring = any(value.startswith(w) for w in ("每年", "每季度", "每月", "每半年"))
        dates = [] if recurring else time_dates(value, self.plan_year)
        if dates:
            return [
                Target(text=subject or value, line=line, due=due, due_text=text,
                       source_text=value)
                for due, text in dates
            ]
        if recurring or any(term in value for term in self.config.ongoing_terms):
            return [
                Target(text=subject or value, line=line, due=None, due_text=value,
                       source_text=value, ongoing=True)
            ]
        return []

    # -- sentences -----------------------------------------------------------
    def find(self, paragraph: str, *, line: int) -> tuple[list[Target], list[Target]]:
        """Return ``(targets, undated)`` found in one paragraph (one source line)."""
        targets: list[Target] = []
        undated: list[Target] = []
        carried: DateMatch | None = None  # a date opening the paragraph's first sentence
        for sentence_match in _SENTENCE_RE.finditer(paragraph):
            sentence = sentence_match.group(0).strip()
            if not sentence:
                continue
            body = sentence.rstrip("。;!?")
            dates = find_dates(body, start_year=self.start_year, plan_year=self.plan_year)
            if not dates:
                if carried is not None:
                    targets.extend(self._quantified(body, carried, None, line, sentence))
                else:
                    undated.extend(self._quantified(body, None, None, line, sentence))
                continue
            if dates[0].start == 0:
                carried = dates[0]
            first_stop = dates[1].start if len(dates) > 1 else len(body)
            closes_before = _too_short(body[dates[0].end : first_stop].strip(" ,:"))
            if not closes_before:
                undated.extend(self._quantified(body[: dates[0].start], None, None, line, sentence))
            for index, dm in enumerate(dates):
                stop = dates[index + 1].start if index + 1 < len(dates) else len(body)
                governed = body[dm.end : stop].strip(" ,:")
                if index == 0 and closes_before:
                    # "……,2016年底前完成": the date closes the clause before it.
                    governed = (body[: dm.start].strip(" ,:") + governed).strip()
                stretch_text = f"{dm.text},{governed}" if governed else dm.text
                quantified = self._quantified(governed, dm, stretch_text, line, sentence)
                if quantified:
                    targets.extend(quantified)
                elif governed and not any(m in governed for m in self.config.policy_markers):
                    targets.append(
                        Target(
                            text=stretch_text.rstrip(","),
                            line=line,
                            due=dm.due,
                            due_text=dm.text,
                            source_text=sentence,
                        )
                    )
        return targets, undated

    def _quantified(
        self, text: str, dm: DateMatch | None, _stretch: str | None, line: int, sentence: str
    ) -> list[Target]:
        found: list[Target] = []
        for clause in _split_clauses(text):
            if any(marker in clause for marker in self.config.policy_markers):
                continue  # 可返还……的50%: a policy parameter, not a goal
            for quantity in self.quantities(clause):
                statement = f"{dm.text},{clause}" if dm else clause
                recurring = dm is None and any(
                    0 <= clause.find(word) < quantity.start for word in RECURRING
                )
                found.append(
                    Target(
                        text=statement,
                        line=line,
                        due=dm.due if dm else None,
                        due_text=dm.text if dm else None,
                        indicator=self.indicator(clause, quantity),
                        comparator=quantity.comparator,
                        value=quantity.value,
                        unit=quantity.unit,
                        source_text=sentence,
                        ongoing=recurring,  # 每年…不少于100名: a standing yearly goal
                    )
                )
        return found




def _split_clauses(text: str) -> list[str]:
    """Split at commas and colons outside parentheses."""
    clauses: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and _CLAUSE_SPLIT_RE.match(char):
            clauses.append(text[start:index].strip())
            start = index + 1
    clauses.append(text[start:].strip())
    return [c for c in clauses if c]


def _too_short(governed: str) -> bool:
    core = re.sub(r"(前|以前|之前)?(全面|基本)?(完成|实现|建成|到位|落实)$", "", governed)
    return sum(1 for c in core if "\u4e00" <= c <= "\u9fff") < 4
