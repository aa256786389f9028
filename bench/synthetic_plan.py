"""A synthetic work plan and organisation for the cluster benchmark.

* :func:`department_names` — D departments (市直部门), ``基准市第01局`` …;
* :func:`synthetic_draft` — a plan draft as the parser and the reviewed YAML
  draft give it (``duban.domain.plan_draft``): N numbered measures in five
  sections, each with one lead and 0-3 supporting departments and 1-3 dated
  milestones, ready for ``duban.services.plans.importer.import_plan``;
* :func:`synthetic_org` — the organisation file's data: every department with
  a liaison and a head, a 督办科 coordinator and a 督查室 supervisor, every
  address a ``mailto://`` to one loopback mail sink (like ``duban demo``).

Due dates are spread as plans spread them over the replayed range and
beyond: most milestones at quarter ends and the year's end, some at other
month ends, a quarter of them in the following year. Deterministic for a
given seed.
"""

from __future__ import annotations

import random
from calendar import monthrange
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from duban.domain.plan_draft import Measure, PlanDraft, Responsibility, Role, Section, Target

SECTIONS = ("统筹推进重点改革", "补齐民生短板", "提升城市治理", "强化基层基础", "加强组织保障")
THEMES = (
    "推进社区综合服务设施建设",
    "完善养老服务体系",
    "扩大基本医疗保险覆盖面",
    "推进义务教育均衡发展",
    "加强食品药品安全监管",
    "推进社会信用体系建设",
    "完善公共法律服务网络",
    "推进政务服务标准化",
    "加强安全生产隐患排查",
    "推进垃圾分类减量",
)
# Share of milestones at a quarter or the year's end, at another month's end,
# and in the following year; and how many milestones and supporting
# departments a measure has.
DUE_KIND_WEIGHTS = {"quarter": 55, "month": 20, "next_year": 25}
MILESTONE_WEIGHTS = {1: 60, 2: 30, 3: 10}
SUPPORTING_WEIGHTS = {0: 25, 1: 35, 2: 25, 3: 15}
# A plan is issued some days before its first deadline can fall.
FIRST_DEADLINE_AFTER = timedelta(days=20)


def department_names(count: int) -> list[str]:
    return [f"基准市第{i:02d}局" for i in range(1, count + 1)]


def _month_end(year: int, month: int) -> date:
    return date(year, month, monthrange(year, month)[1])


def due_date_pools(start: date, end: date) -> dict[str, list[date]]:
    """Candidate deadlines by kind for a replay of [start, end].

    ``quarter`` holds the quarter ends inside the range and the year's end of
    ``end`` (twice: year-end targets are the most common), ``month`` the other
    month ends inside the range, ``next_year`` the half and full year after."""
    first = start + FIRST_DEADLINE_AFTER
    month_ends = []
    year, month = first.year, first.month
    while (year, month) <= (end.year, end.month):
        day = _month_end(year, month)
        if first <= day <= end:
            month_ends.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    year_end = date(end.year, 12, 31)
    quarters = [d for d in month_ends if d.month in (3, 6, 9, 12) and d != year_end]
    return {
        "quarter": [*quarters, year_end, year_end],
        "month": [d for d in month_ends if d.month not in (3, 6, 9, 12)] or [year_end],
        "next_year": [date(end.year + 1, 6, 30), date(end.year + 1, 12, 31)],
    }


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), list(weights.values()))[0]


def _due_text(day: date) -> str:
    if day.month == 12 and day.day == 31:
        return f"{day.year}年底前"
    if day.month == 6 and day.day == 30:
        return f"{day.year}年上半年"
    return f"{day.year}年{day.month}月底前"


def synthetic_draft(
    measures: int,
    departments: list[str],
    *,
    start: date,
    end: date,
    seed: int = 2015,
) -> PlanDraft:
    """A plan of ``measures`` measures over ``departments`` (see module doc)."""
    rng = random.Random(seed)
    pools = due_date_pools(start, end)
    sections = [
        Section(number=i + 1, label="一二三四五"[i], title=title, line=3 + i * (measures + 1))
        for i, title in enumerate(SECTIONS)
    ]
    drafted: list[Measure] = []
    for number in range(1, measures + 1):
        section = min(len(sections), (number - 1) * len(sections) // measures + 1)
        line = sections[section - 1].line + number
        lead = departments[(number - 1) % len(departments)]
        others = [d for d in departments if d != lead]
        supporting = rng.sample(others, min(len(others), _weighted(rng, SUPPORTING_WEIGHTS)))
        dues = sorted(
            {
                rng.choice(pools[_weighted(rng, DUE_KIND_WEIGHTS)])
                for _ in range(_weighted(rng, MILESTONE_WEIGHTS))
            }
        )
        title = f"{THEMES[number % len(THEMES)]}(第{number}项)"
        targets = [_target(rng, title, due, line, k) for k, due in enumerate(dues)]
        clause = f"{lead}牵头" + (f",{'、'.join(supporting)}配合" if supporting else "")
        text = ";".join(t.text for t in targets) + f"。({clause})"
        drafted.append(
            Measure(
                number=number,
                title=title,
                text=f"{title}。{text}",
                line=line,
                end_line=line,
                section=section,
                label=str(number),
                responsibilities=[
                    Responsibility(name=lead, role=Role.LEAD, line=line),
                    *(Responsibility(name=n, role=Role.SUPPORTING, line=line) for n in supporting),
                ],
                targets=targets,
                clause=clause,
                clause_line=line,
            )
        )
    horizon = max(t.due for m in drafted for t in m.targets if t.due is not None)
    return PlanDraft(
        title=f"基准市{start.year}年社会建设重点工作方案(基准测试,{measures}项措施)",
        doc_number=f"基委办〔{start.year}〕{measures}号",
        measures=drafted,
        sections=sections,
        plan_year=start.year,
        horizon=horizon,
        source_name="synthetic",
    )


def _target(rng: random.Random, title: str, due: date, line: int, index: int) -> Target:
    """A dated milestone; every third one also carries a percentage."""
    when = _due_text(due)
    if rng.random() < 1 / 3:
        value = float(rng.choice((60, 75, 80, 90, 95)))
        text = f"{when}覆盖率达到{value:.0f}%以上"
        return Target(
            text=text,
            line=line,
            due=due,
            due_text=when,
            indicator="覆盖率",
            comparator=">=",
            value=value,
            unit="%",
            source_text=text,
        )
    text = f"{when}完成第{index + 1}阶段任务"
    return Target(text=text, line=line, due=due, due_text=when, source_text=text)


def due_spread(draft: PlanDraft) -> Counter[str]:
    """Milestones per due month (``YYYY-MM``), for the report."""
    return Counter(f"{t.due:%Y-%m}" for m in draft.measures for t in m.targets if t.due is not None)


def synthetic_org(
    departments: list[str], mail_url: Callable[[str], str], *, base_url: str
) -> dict[str, Any]:
    """The organisation file's data; ``mail_url(address)`` makes each notify URL."""
    return {
        "timezone": "Asia/Shanghai",
        "office_hours": "09:00-18:00",
        "base_url": base_url,
        "coordinators": [{"name": "督办科", "notify": [mail_url("coordinator@bench.local")]}],
        "supervisors": [{"name": "督查室", "notify": [mail_url("supervisor@bench.local")]}],
        "departments": [
            {
                "name": name,
                "kind": "department",
                "liaison": [
                    {"name": f"第{i:02d}局联络员", "notify": [mail_url(f"liaison-{i}@bench.local")]}
                ],
                "head": [
                    {"name": f"第{i:02d}局负责人", "notify": [mail_url(f"head-{i}@bench.local")]}
                ],
            }
            for i, name in enumerate(departments, start=1)
        ],
    }
