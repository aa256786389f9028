"""What a 督查通报 says: its numbers, the late units, the 约谈 list, the units
with all their due work done on time, and the standing requirements.

Counted over the ledger's rows as of the day of issue
(:func:`duban.services.reports.issued_documents.issue_bulletin` stores it).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from duban.domain.issued_documents import InterviewEntry, LateUnit
from duban.domain.lifecycle import TaskState
from duban.domain.scorecard import Period
from duban.domain.status import TaskStatus
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ledger_model import LedgerRow

BULLETIN_REQUIREMENTS = [
    "各责任单位要对照工作方案逐项梳理,对逾期未办结事项明确办结时限、责任人和措施,"
    "于收到本通报之日起5个工作日内书面报告整改情况。",
    "被约谈单位主要负责人要按要求说明情况,提交整改报告;整改不到位的,将提请进一步问责。",
    "各责任单位要按季度及时报送工作进展,办结事项及时报结并提供佐证材料。",
]
BULLETIN_COUNTS = {
    "tasks": "任务总数",
    "due": "到期任务",
    "approved": "已办结",
    "on_time": "其中按期办结",
    "submitted": "已报结待审核",
    "overdue": "逾期未办结",
    "not_due": "未到期在办",
    "red": "红灯",
    "yellow": "黄灯",
    "blue": "蓝灯",
    "late": "逾期办结",
    "green": "绿灯",
    "urge": "本期催办(次)",
    "escalate_yellow": "本期黄色督办(次)",
    "escalate_red": "本期红色督办(次)",
}


def bulletin_counts(rows: list[LedgerRow], period: Period, *, as_of: date) -> dict[str, int]:
    """The 通报's numbers (keys of :data:`BULLETIN_COUNTS`) over ``rows`` as of
    ``as_of``; escalations counted within ``period``."""
    counts = dict.fromkeys(BULLETIN_COUNTS, 0)
    levels = {1: "urge", 2: "escalate_yellow", 3: "escalate_red"}
    for row in rows:
        if row.cancelled:
            continue  # 已撤销 by a changed plan: not part of the 通报
        counts["tasks"] += 1
        counts["due"] += row.due <= as_of
        counts["approved"] += row.state is TaskState.APPROVED
        counts["on_time"] += row.status is TaskStatus.DONE_ON_TIME
        counts["submitted"] += row.state is TaskState.SUBMITTED
        counts["overdue"] += row.status is TaskStatus.OVERDUE
        counts["not_due"] += row.is_open and row.status is not TaskStatus.OVERDUE
        counts[row.light.value] += 1
        for mark in row.escalations:
            if period.contains(mark.on) and mark.level in levels:
                counts[levels[mark.level]] += 1
    return counts


def late_units(
    rows: list[LedgerRow], end: date, calendar: WorkCalendar, order: dict[str, int]
) -> list[LateUnit]:
    """Departments with overdue open tasks on ``end``: most tasks first, then
    the longest overdue, then the directory's ``order``."""
    late: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row in rows:
        if row.is_open and row.status is TaskStatus.OVERDUE:
            late[row.department].append((calendar.count_workdays(row.due, end), row.measure))
    units = [
        LateUnit(
            department=name,
            tasks=len(found),
            longest_days=max(days for days, _m in found),
            measures=[f"措施{m}(逾期{days}个工作日)" for days, m in sorted(found, reverse=True)],
        )
        for name, found in late.items()
    ]
    return sorted(units, key=lambda u: (-u.tasks, -u.longest_days, order.get(u.department, 0)))


def interviews(rows: list[LedgerRow], period: Period, order: dict[str, int]) -> list[
        InterviewEntry]:
    """Departments a red 督办 (level 3) went to within ``period`` (约谈), in the
    directory's ``order``, with the measures and the first day."""
    found: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for row in rows:
        for mark in row.escalations:
            if mark.level >= 3 and period.contains(mark.on):
                found[row.department].append((mark.on, row.measure))
    entries = [
        InterviewEntry(
            department=name,
            measures=[f"措施{m}" for m in sorted({m for _d, m in marks})],
            first_on=min(d for d, _m in marks),
        )
        for name, marks in found.items()
    ]
    return sorted(entries, key=lambda e: order.get(e.department, 0))


def done_units(rows: list[LedgerRow], end: date, order: dict[str, int]) -> list[str]:
    """Departments whose tasks due by ``end`` were all done on time, in the
    directory's ``order``."""
    by_department: dict[str, list[LedgerRow]] = defaultdict(list)
    for row in rows:
        if row.due <= end:
            by_department[row.department].append(row)
    done = [name for name, due in by_department.items()
            if due and all(r.status is TaskStatus.DONE_ON_TIME for r in due)]
    return sorted(done, key=lambda name: order.get(name, 0))
