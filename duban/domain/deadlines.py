"""Deadlines in plan text: date expressions that set one, and 完成时限 values.

:func:`find_dates` finds the date expressions of a sentence that set a deadline
(到2015年, "十二五"期末, 2016年底前, 2012年起5年内, and in an annual plan 6月底前,
上半年 …), leaving out periods (2019年1月1日至12月31日) and start dates
(从2019年起). :func:`time_dates` reads a 完成时限 value, where a bare year
counts too. Used by :mod:`duban.domain.targets`; pure, stdlib only.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from duban.domain.cn_numbers import parse_cn_int

_QUOTE = "\"'“”‘’「」"

_DATE_RE = re.compile(
    r"(?P<prefix>力争到|力争在|力争于|争取到|争取在|到|至|在|于)?"
    r"(?:"
    rf"(?P<fyp>[{_QUOTE}]?十(?P<fypn>[一二三四五六七八九]?)五[{_QUOTE}]?)"
    r"(?:规划)?(?P<fyps>期末|末期|末|期间|时期)"
    r"|(?P<year>(?:19|20)\d{2})年(?!度)"
    r"(?:(?P<month>\d{1,2})月(?:(?P<day>\d{1,2})日)?)?"
    r"(?P<suffix>上半年|下半年|年底|年末|底前|底|末|以前|之前|前)?"
    r")"
)

_PERIOD_AFTER = re.compile(r"^\s*(?:至|到|—|-|–|~|－)\s*(?:(?:19|20)\d{2}年|\d{1,2}月)")
_MONTH_END_AFTER = re.compile(r"^\s*(?:至|到|—|-|–|~)\s*(\d{1,2})月(?:(\d{1,2})日)?")
_START_AFTER = re.compile(r"^\s*(?:起|以来|开始)")
# "2012年起5年内" / "5年内" / "三年内": within N years of a start year (the year given,
# else the start the plan anchored its years to): due at the end of year start + N - 1.
_WITHIN_RE = re.compile(
    r"(?:(?:从|自)?(?P<start>(?:19|20)\d{2})年(?:起|开始)(?:的)?)?"
    r"(?P<n>\d{1,2}|[一二三四五六七八九十两])年(?:之内|以内|内)"
)
# Dates without a year, in the plan's own year (an annual plan: 6月底前, 年底前, 上半年,
# 三季度末). Not after a year (2023年6月 is a full date) nor after 每年/每季度.
_MONTH_ONLY_RE = re.compile(
    r"(?<![\d年])(?P<month>\d{1,2})月(?:(?P<day>\d{1,2})日)?"
    r"(?P<suffix>底前|底|末前|末|中旬前|前|之前|以前)"
)
_YEAR_PART_RE = re.compile(
    r"(?<![\d年一二三四五六七八九十两])(?:今年|本年|当年)?"
    r"(?:(?P<end>年底前|年底|年末前|年末)|(?P<half>上半年|下半年)"
    r"|(?:第)?(?P<quarter>[一二三四1-4])季度(?:末前|末|底前|底|前)?)"
)
# A time value spanning the plan's year (全年, 年内, 本年度内): due at its end.
_WHOLE_YEAR_RE = re.compile(
    r"^(?:全年|年内|年度内|今年内|本年内|本年度内|当年|本年度)(?:完成|推进|实施)?$"
)
# Words that recur (every year …): a goal under one has no single deadline.
RECURRING = ("每年", "每季度", "每半年", "每月", "每周", "年年")
_QUARTER_RE = re.compile(r"((?:19|20)\d{2})年(?:第)?([一二三四1-4])季度")
_QUARTER_END = {"一": (3, 31), "二": (6, 30), "三": (9, 30), "四": (12, 31),
                "1": (3, 31), "2": (6, 30), "3": (9, 30), "4": (12, 31)}
_TRIGGERED_SUFFIXES = {"上半年", "下半年", "年底", "年末", "底前", "底", "末", "以前", "之前", "前"}


@dataclass(frozen=True)
class DateMatch:
    start: int
    end: int
    due: date
    text: str


def five_year_plan_end(n: int) -> int:
    """Last year of the n-th five-year plan (from the 3rd on: 1966-1970 …)."""
    return 1970 + 5 * (n - 3)


def find_dates(
    sentence: str, *, start_year: int | None = None, plan_year: int | None = None
) -> list[DateMatch]:
    """Date expressions that set a deadline (not every year the text mentions).

    A bare year counts when it has a prefix (到/在/力争到 …), a deadline suffix
    (年底/前 …) or opens a clause (2020年,基本实现 …). "N年内" counts from the year
    before it (2012年起5年内 → 2016-12-31), else from ``start_year`` (the plan's start);
    without either it is no date. Dates without a year (6月底前, 年底前, 上半年, 三季度末)
    are in ``plan_year`` (an annual plan's own year); without one they are no date.
    """
    found: list[DateMatch] = []
    taken: list[tuple[int, int]] = []
    if plan_year is not None:
        for dm in _year_less_dates(sentence, plan_year):
            found.append(dm)
            taken.append((dm.start, dm.end))
    for dm in _within_dates(sentence, start_year):
        found.append(dm)
        taken.append((dm.start, dm.end))
    period_end = False
    for match in _DATE_RE.finditer(sentence):
        if any(start <= match.start() < end for start, end in taken):
            continue
        after = sentence[match.end() :]
        if period_end or _START_AFTER.match(after):
            period_end = False
            continue  # the end of "A至B", or "从2019年起": a period, not a deadline
        if match.group("year") and _PERIOD_AFTER.match(after):
            period_end = bool(re.match(r"^\s*\S\s*(?:19|20)\d{2}年", after))
            continue
        if match.group("fyp"):
            n = 10 + (parse_cn_int(match.group("fypn")) if match.group("fypn") else 0)
            due = date(five_year_plan_end(n), 12, 31)
        else:
            year = int(match.group("year"))
            suffix = match.group("suffix") or ""
            opens_clause = match.start() == 0 or sentence[match.start() - 1] in ",:;。"
            followed_by_break = sentence[match.end() : match.end() + 1] in (",", "")
            if not (
                match.group("prefix")
                or suffix in _TRIGGERED_SUFFIXES
                or (opens_clause and followed_by_break)
            ):
                continue
            parsed = _due_of(year, match.group("month"), match.group("day"), suffix)
            if parsed is None:
                continue
            due = parsed
        found.append(DateMatch(match.start(), match.end(), due, match.group(0)))
    return sorted(found, key=lambda d: d.start)


def _within_dates(text: str, start_year: int | None) -> list[DateMatch]:
    """"N年内": the end of year start + N - 1, from the year printed before it
    (2012年起5年内) or else ``start_year``; none without either."""
    found: list[DateMatch] = []
    for match in _WITHIN_RE.finditer(text):
        base = int(match.group("start")) if match.group("start") else start_year
        if base is None:
            continue
        n = int(match.group("n")) if match.group("n").isdigit() else parse_cn_int(match.group("n"))
        if 0 < n <= 30:
            found.append(DateMatch(match.start(), match.end(), date(base + n - 1, 12, 31),
                                   match.group(0)))
    return found


def _year_less_dates(text: str, year: int) -> list[DateMatch]:
    """Deadlines printed without a year (6月底前, 年底前, 上半年, 三季度末), in ``year``;
    none where the text recurs (每年6月底前 is every year, not one deadline)."""
    found: list[DateMatch] = []
    for match in _MONTH_ONLY_RE.finditer(text):
        if _recurs_before(text, match.start()):
            continue
        due = _due_of(year, match.group("month"), match.group("day"), "")
        if due is not None:
            found.append(DateMatch(match.start(), match.end(), due, match.group(0)))
    for match in _YEAR_PART_RE.finditer(text):
        if _recurs_before(text, match.start()):
            continue
        if match.group("end"):
            due = date(year, 12, 31)
        elif match.group("half"):
            due = date(year, 6, 30) if match.group("half") == "上半年" else date(year, 12, 31)
        else:
            month, day = _QUARTER_END[match.group("quarter")]
            due = date(year, month, day)
        found.append(DateMatch(match.start(), match.end(), due, match.group(0)))
    return found


def _recurs_before(text: str, position: int) -> bool:
    return any(word in text[max(0, position - 6) : position] for word in RECURRING)


def _due_of(year: int, month: str | None, day: str | None, suffix: str) -> date | None:
    try:
        if month and day:
            return date(year, int(month), int(day))
        if month:
            m = int(month)
            return date(year, m, calendar.monthrange(year, m)[1])
    except ValueError:
        return None
    if suffix == "上半年":
        return date(year, 6, 30)
    return date(year, 12, 31)



def time_dates(value: str, plan_year: int | None = None) -> list[tuple[date, str]]:
    """Deadlines in a 完成时限 value: every date (a bare year counts here), the
    end of a period, quarter ends; start dates (2023年起) are left out; dates without a
    year (6月底前) in ``plan_year``."""
    found: list[tuple[date, str]] = []
    if plan_year is not None and _WHOLE_YEAR_RE.match(value):
        return [(date(plan_year, 12, 31), value)]  # 全年 / 年内: by the plan year's end
    if plan_year is not None and not _DATE_RE.search(value):
        found += [(dm.due, dm.text) for dm in _year_less_dates(value, plan_year)]
    matches = list(_DATE_RE.finditer(value))
    for index, match in enumerate(matches):
        if not match.group("year"):
            n = 10 + (parse_cn_int(match.group("fypn")) if match.group("fypn") else 0)
            found.append((date(five_year_plan_end(n), 12, 31), match.group(0)))
            continue
        after = value[match.end() :]
        if _START_AFTER.match(after):
            continue
        if _PERIOD_AFTER.match(after) and index + 1 < len(matches):
            continue  # the start of "2023年—2025年": the end is the deadline
        due = _due_of(int(match.group("year")), match.group("month"), match.group("day"),
                      match.group("suffix") or "")
        if due is None:
            continue
        month_only = _MONTH_END_AFTER.match(after)
        if month_only:  # 2019年1月1日至12月31日: the end, in the same year
            due = _due_of(due.year, month_only.group(1), month_only.group(2), "") or due
        found.append((due, match.group(0)))
    for match in _QUARTER_RE.finditer(value):
        month, day = _QUARTER_END[match.group(2)]
        found = [f for f in found if f[0].year != int(match.group(1)) or f[0].month != 12]
        found.append((date(int(match.group(1)), month, day), match.group(0)))
    return sorted(set(found))
