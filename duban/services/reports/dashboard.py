"""The department scorecard (考核) as the dashboard shows it, as of a day.

Counted by :mod:`duban.services.reports.scorecard` from every task's light,
reports and escalations (:func:`~duban.services.reports.scorecard.task_ledger`);
the measures' overview is :mod:`duban.services.reports.overview`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, tzinfo
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from duban.domain.scorecard import Period, ScoreWeights
from duban.domain.status import StatusPolicy, TaskStatus
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.reports.scorecard import (
    ScoreSource,
    scorecard_from_ledger,
    task_ledger,
)
from duban.services.tasks.facts import LOCAL_ZONE

# --- scorecard ---------------------------------------------------------------


@dataclass
class ScoreRow:
    """One department's record as of a day: the counts and score of
    :mod:`duban.services.reports.scorecard` (the one place 考核 is counted), plus the
    average working days late of its late and overdue tasks (None when none).
    """

    department: str
    tasks: int = 0
    due: int = 0
    on_time: int = 0
    after_extension: int = 0
    late: int = 0
    overdue: int = 0
    reports_missing: int = 0
    avg_days_late: float | None = None
    score: float | None = None  # None: no score yet (暂无得分)
    rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SCORE_COLUMNS = (
    ("department", "单位"),
    ("tasks", "任务数"),
    ("due", "计分到期"),
    ("on_time", "按期办结"),
    ("after_extension", "延期后办结"),
    ("late", "逾期办结"),
    ("overdue", "逾期未办结"),
    ("reports_missing", "缺报进度"),
    ("avg_days_late", "平均逾期(工作日)"),
    ("score", "得分"),
)


def scorecard(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
    sort: str = "score",
    descending: bool = True,
    zone: tzinfo = LOCAL_ZONE,
) -> list[ScoreRow]:
    """Every department with tasks (all plans), scored as of ``as_of``, sorted
    by ``sort`` (a ScoreRow field; unknown names sort by ``score``), ties by
    name; rows without a value (no score yet) sort last."""
    ledger = task_ledger(session_factory, as_of=as_of, calendar=calendar, policy=policy, zone=zone)
    return scorecard_of_ledger(
        ledger, calendar=calendar, policy=policy, weights=weights, sort=sort, descending=descending
    )


def scorecard_of_ledger(
    ledger: ScoreSource,
    *,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
    sort: str = "score",
    descending: bool = True,
) -> list[ScoreRow]:
    """:func:`scorecard` of a ledger already read (every plan's, as of its day:
    a :class:`~duban.services.reports.ledger.Ledger` or a
    :class:`~duban.services.reports.scorecard.TaskLedger`); ties in the
    directory's order (机构序列)."""
    as_of = ledger.as_of
    card = scorecard_from_ledger(
        ledger, period=Period(), calendar=calendar, policy=policy, weights=weights
    )
    tasks: dict[str, int] = defaultdict(int)
    days_late: dict[str, list[int]] = defaultdict(list)
    for row in ledger.rows:
        tasks[row.department] += 1
        late_until = None
        if row.status is TaskStatus.OVERDUE:
            late_until = as_of
        elif row.status is TaskStatus.DONE_LATE and row.submitted_on is not None:
            late_until = row.submitted_on
        if late_until is not None:
            days = calendar.maybe_count_workdays(row.due, late_until)
            if not isinstance(days, Unpublished):  # not counted while its year is unknown
                days_late[row.department].append(days)
    rows = []
    for entry in card.rows:
        late = days_late.get(entry.department)
        rows.append(
            ScoreRow(
                department=entry.department,
                tasks=tasks[entry.department],
                due=entry.counts.tasks_due,
                on_time=entry.counts.on_time,
                after_extension=entry.counts.after_extension,
                late=entry.counts.late,
                overdue=entry.counts.overdue,
                reports_missing=entry.counts.reports_missing,
                avg_days_late=round(sum(late) / len(late), 1) if late else None,
                score=entry.score,
                rank=entry.rank,
            )
        )
    key = sort if sort in {c for c, _label in SCORE_COLUMNS} else "score"
    rows.sort(key=lambda r: ledger.department_key(r.department))
    present = [r for r in rows if getattr(r, key) is not None]
    absent = [r for r in rows if getattr(r, key) is None]
    present.sort(key=lambda r: getattr(r, key), reverse=descending)
    return present + absent
