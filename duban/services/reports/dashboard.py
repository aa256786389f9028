"""The department scorecard (考核) as the dashboard shows it, as of a day.

Counted by :mod:`duban.services.reports.scorecard` (in grouped SQL,
:func:`scorecard_page`; or from a ledger's rows, :func:`scorecard_of_ledger`);
the measures' overview is :mod:`duban.services.reports.overview`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, tzinfo
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import TaskState
from duban.domain.scorecard import Period, ScoreWeights
from duban.domain.status import Light, StatusPolicy
from duban.domain.workdays import WorkCalendar
from duban.services.reports.overview_facts import ChartGroup
from duban.services.reports.scorecard import (
    Scorecard,
    ScoreSource,
    ranked_scorecard,
    scorecard_tallies,
    tallies_of_ledger,
)
from duban.services.reports.scorecard_sql import DepartmentTally
from duban.services.reports.summary_charts import ChartTasks
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


@dataclass
class ScorePage:
    """The scorecard page: its rows (sorted as asked) and the rows its
    department chart counts (a chart source: groups of alike tasks)."""

    rows: list[ScoreRow]
    chart: ChartTasks


def scorecard_page(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
    sort: str = "score",
    descending: bool = True,
    zone: tzinfo = LOCAL_ZONE,
) -> ScorePage:
    """Every department with tasks (all plans), scored as of ``as_of`` in
    grouped SQL, sorted by ``sort`` (a ScoreRow field; unknown names sort by
    ``score``), ties in the directory's order; rows without a value (no
    score yet) sort last."""
    found = scorecard_tallies(
        session_factory, as_of=as_of, calendar=calendar, all_plans=True, policy=policy,
        weights=weights, zone=zone,
    )
    order = found.department_order

    def department_key(name: str) -> tuple[int, str]:
        return (order.get(name, len(order)), name)

    rows = _score_rows(found.card, found.tallies, department_key, sort, descending)
    return ScorePage(rows, ChartTasks(as_of, _chart_groups(found.tallies, as_of), order))


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
    """:func:`scorecard_page`'s rows."""
    return scorecard_page(
        session_factory, as_of=as_of, calendar=calendar, policy=policy, weights=weights,
        sort=sort, descending=descending, zone=zone,
    ).rows


def scorecard_of_ledger(
    ledger: ScoreSource,
    *,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
    sort: str = "score",
    descending: bool = True,
) -> list[ScoreRow]:
    """:func:`scorecard`'s rows of a ledger already read (every plan's, as of
    its day: a :class:`~duban.services.reports.ledger.Ledger` or a
    :class:`~duban.services.reports.scorecard.TaskLedger`), counted row by
    row; ties in the directory's order (机构序列)."""
    weights = weights or ScoreWeights()
    tallies = tallies_of_ledger(
        ledger, period=Period(), calendar=calendar, policy=policy, weights=weights
    )
    card = ranked_scorecard(
        {name: tally.counts for name, tally in tallies.items()}, as_of=ledger.as_of,
        period=Period(), weights=weights, department_key=ledger.department_key,
    )
    return _score_rows(card, tallies, ledger.department_key, sort, descending)


def _score_rows(
    card: Scorecard,
    tallies: dict[str, DepartmentTally],
    department_key: Callable[[str], tuple[int, str]],
    sort: str,
    descending: bool,
) -> list[ScoreRow]:
    rows = []
    for entry in card.rows:
        tally = tallies[entry.department]
        late = sum(n for _days, n in tally.days_late)
        rows.append(
            ScoreRow(
                department=entry.department,
                tasks=tally.tasks,
                due=entry.counts.tasks_due,
                on_time=entry.counts.on_time,
                after_extension=entry.counts.after_extension,
                late=entry.counts.late,
                overdue=entry.counts.overdue,
                reports_missing=entry.counts.reports_missing,
                avg_days_late=(
                    round(sum(days * n for days, n in tally.days_late) / late, 1)
                    if late else None
                ),
                score=entry.score,
                rank=entry.rank,
            )
        )
    key = sort if sort in {c for c, _label in SCORE_COLUMNS} else "score"
    rows.sort(key=lambda r: department_key(r.department))
    present = [r for r in rows if getattr(r, key) is not None]
    absent = [r for r in rows if getattr(r, key) is None]
    present.sort(key=lambda r: getattr(r, key), reverse=descending)
    return present + absent


def _chart_groups(tallies: dict[str, DepartmentTally], as_of: date) -> list[ChartGroup]:
    """The department chart's rows: each department's active tasks as
    approved, submitted, overdue and the rest (groups of alike tasks)."""
    groups = []
    for name, tally in tallies.items():
        rest = tally.active - tally.approved - tally.submitted - tally.overdue
        for state, light, weight in (
            (TaskState.APPROVED, Light.GREEN, tally.approved),
            (TaskState.SUBMITTED, Light.GREEN, tally.submitted),
            (TaskState.ASSIGNED, Light.RED, tally.overdue),  # red: overdue
            (TaskState.ASSIGNED, Light.GREEN, rest),
        ):
            if weight:
                groups.append(ChartGroup(plan="", section="", section_number=None,
                                         department=name, state=state, light=light,
                                         assigned_on=as_of, weight=weight))
    return groups
