"""Department scorecards (考核): counted in SQL, or from the ledger's rows.

The counting rules and the score are :mod:`duban.domain.scorecard`'s; this
module feeds them counts made in grouped SQL
(:mod:`duban.services.reports.scorecard_sql`, :func:`build_scorecard`) or task
by task from a ledger (:func:`scorecard_from_ledger`: the workbook's 考核 sheet,
the digest, and wherever SQL cannot tell local days), reads weights from a YAML
file, and shapes the result for the CLI, JSON and the workbook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, tzinfo
from pathlib import Path
from typing import Any, Protocol

import yaml
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError
from duban.domain.labels import LEVEL_LABELS, TASK_ROLE_LABELS
from duban.domain.lifecycle import TaskState
from duban.domain.scorecard import (
    Period,
    ScoreCounts,
    ScoreWeights,
    TaskRecord,
    department_counts,
    has_score,
    report_rate,
    score,
    task_rate,
)
from duban.domain.status import StatusPolicy, TaskFacts, TaskStatus
from duban.domain.workdays import Unpublished, WorkCalendar
from duban.services.plans.catalog import find_plan
from duban.services.reports.ledger import department_order, end_of_day
from duban.services.reports.scorecard_kept import kept_tallies
from duban.services.reports.scorecard_sql import DepartmentTally, department_tallies
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.lights import LitTask, light_tasks
from models import Measure

NO_SCORE = "暂无得分"

# (attribute of ScoreCounts, Chinese header) in the order reports show them.
COUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tasks_due", "到期任务"),
    ("on_time", "按期办结"),
    ("after_extension", "延期后办结"),
    ("late", "逾期办结"),
    ("awaiting_review", "已报结待审核"),
    ("overdue", "仍逾期"),
    ("open", "当日到期未办结"),
    ("reports_on_time", "按时报送"),
    ("reports_late", "迟报"),
    ("reports_missing", "缺报"),
)


@dataclass
class DepartmentScore:
    """One department's counts, rates and score; ``rank`` 1 is the best.
    ``score`` and ``rank`` are None while it has no score yet (暂无得分)."""

    department: str
    counts: ScoreCounts
    task_rate: float
    report_rate: float
    score: float | None
    rank: int | None = None

    @property
    def score_text(self) -> str:
        """``86`` or ``暂无得分``, as pages and sheets print it."""
        return NO_SCORE if self.score is None else f"{self.score:g}"

    def to_dict(self) -> dict[str, Any]:
        counts = {name: getattr(self.counts, name) for name, _label in COUNT_COLUMNS}
        return {
            "department": self.department,
            "rank": self.rank,
            "score": self.score,
            "task_rate": round(self.task_rate, 4),
            "report_rate": round(self.report_rate, 4),
            **counts,
            "escalations": {str(level): n for level, n in self.counts.escalations.items()},
        }


@dataclass
class Scorecard:
    """Every department with tasks in the ledger, best score first (ties in
    the directory's order, 机构序列), then those without a score yet."""

    as_of: date
    period: Period
    weights: ScoreWeights
    rows: list[DepartmentScore] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``duban report scorecard --json`` shape."""
        return {
            "as_of": self.as_of.isoformat(),
            "period": {
                "start": self.period.start.isoformat() if self.period.start else None,
                "end": self.period.end.isoformat() if self.period.end else None,
            },
            "weights": self.weights.to_data(),
            "departments": [row.to_dict() for row in self.rows],
        }


class _Mark(Protocol):
    @property
    def level(self) -> int: ...
    @property
    def on(self) -> date: ...


class ScoredRow(Protocol):
    """What the scorecard reads of a task: a ledger row
    (:class:`~duban.services.reports.ledger.LedgerRow`) or a task's light read
    with every report and its history
    (:class:`~duban.services.tasks.lights.LitTask`)."""

    @property
    def department(self) -> str: ...
    @property
    def due(self) -> date: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def state(self) -> TaskState: ...
    @property
    def status(self) -> TaskStatus: ...
    @property
    def assigned_on(self) -> date: ...
    @property
    def role(self) -> str: ...
    @property
    def submitted_on(self) -> date | None: ...
    @property
    def facts(self) -> TaskFacts: ...
    @property
    def escalations(self) -> Sequence[_Mark]: ...


class ScoreSource(Protocol):
    """What the scorecard reads of a ledger: its day, rows and the directory's order."""

    @property
    def as_of(self) -> date: ...
    @property
    def rows(self) -> Sequence[ScoredRow]: ...
    def department_key(self, name: str) -> tuple[int, str]: ...


@dataclass
class TaskLedger:
    """Tasks with their lights, every report and their escalations as of a
    day: what the scorecard and the charts read, without the ledger's other
    columns (a :class:`ScoreSource` and a chart source)."""

    as_of: date
    rows: list[LitTask]
    department_order: dict[str, int] = field(default_factory=dict)

    def department_key(self, name: str) -> tuple[int, str]:
        """Sort key of a department name in the directory's order (unknown last)."""
        return (self.department_order.get(name, len(self.department_order)), name)


def task_ledger(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    zone: tzinfo = LOCAL_ZONE,
    where: Sequence[ColumnElement[bool]] = (),
) -> TaskLedger:
    """Every plan's tasks (those ``where`` picks: conditions on Task, Measure,
    Plan) as of ``as_of``, read as the ledger reads its history (up to the
    end of that day), in a few column queries."""
    with session_factory() as session:
        rows = light_tasks(
            session, where=list(where), as_of=as_of, calendar=calendar, zone=zone,
            policy=policy, all_reports=True, history_until=end_of_day(as_of, zone),
        )
        return TaskLedger(as_of, rows, department_order(session))


def record_of(row: ScoredRow) -> TaskRecord:
    """The scorecard's view of a ledger row."""
    return TaskRecord(
        department=row.department,
        due=row.due,
        status=None if row.cancelled else row.status,
        assigned_on=row.assigned_on,
        role=row.role,
        closed_on=row.submitted_on,
        report_dates=row.facts.report_dates,
        escalations=tuple((mark.level, mark.on) for mark in row.escalations),
    )


def scorecard_from_ledger(
    ledger: ScoreSource,
    *,
    period: Period,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
) -> Scorecard:
    """The scorecard of the ledger's departments for ``period`` seen on the
    ledger's ``as_of`` (see :mod:`duban.domain.scorecard` for the rules)."""
    weights = weights or ScoreWeights()
    counts = department_counts(  # cancelled tasks (已撤销) are left out there
        (record_of(row) for row in ledger.rows),
        period=period,
        as_of=ledger.as_of,
        calendar=calendar,
        policy=policy,
        task_roles=weights.task_roles,
    )
    return ranked_scorecard(
        counts, as_of=ledger.as_of, period=period, weights=weights,
        department_key=ledger.department_key,
    )


def ranked_scorecard(
    counts: dict[str, ScoreCounts],
    *,
    as_of: date,
    period: Period,
    weights: ScoreWeights,
    department_key: Callable[[str], tuple[int, str]],
) -> Scorecard:
    """The scorecard of these counts: scored by the domain, best first (ties
    by ``department_key``), then those without a score yet; equal scores
    share a rank."""
    rows = [
        DepartmentScore(
            department=name,
            counts=value,
            task_rate=task_rate(value, weights),
            report_rate=report_rate(value, weights),
            score=score(value, weights) if has_score(value) else None,
        )
        for name, value in counts.items()
    ]
    rows.sort(key=lambda r: (r.score is None, -(r.score or 0.0), department_key(r.department)))
    for index, row in enumerate(rows):
        if row.score is None:
            continue
        # Equal scores share a rank (1, 2, 2, 4, …).
        row.rank = (
            rows[index - 1].rank if index and row.score == rows[index - 1].score else index + 1
        )
    return Scorecard(as_of=as_of, period=period, weights=weights, rows=rows)


def build_scorecard(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    period: Period | None = None,
    plan: str | int | None = None,
    all_plans: bool = False,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> Scorecard:
    """The scorecard of ``plan`` (key or id; None: the only plan, or every
    plan with ``all_plans``) for ``period`` (default: everything up to
    ``as_of``), counted in SQL. Raises NotFoundError for an unknown plan and
    DubanError when no plan is named, not ``all_plans``, and several are
    stored (as :func:`~duban.services.reports.ledger.build_ledger`)."""
    return scorecard_tallies(
        session_factory, as_of=as_of, calendar=calendar, period=period, plan=plan,
        all_plans=all_plans, policy=policy, weights=weights, zone=zone,
    ).card


@dataclass
class ScoreTallies:
    """A scorecard and the tallies it was counted from, by department name."""

    card: Scorecard
    tallies: dict[str, DepartmentTally]
    department_order: dict[str, int]


def scorecard_tallies(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    period: Period | None = None,
    plan: str | int | None = None,
    all_plans: bool = False,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> ScoreTallies:
    """:func:`build_scorecard` with each department's tallies (the scorecard
    page's other columns and chart). Counted in grouped SQL
    (:func:`~duban.services.reports.scorecard_sql.department_tallies`);
    where SQL cannot tell local days, task by task from the tasks' lights."""
    period = period or Period()
    weights = weights or ScoreWeights()
    tallies, order, where = _sql_tallies(
        session_factory, as_of=as_of, calendar=calendar, period=period, plan=plan,
        all_plans=all_plans, policy=policy, weights=weights, zone=zone,
    )
    if tallies is None:
        ledger = task_ledger(session_factory, as_of=as_of, calendar=calendar, policy=policy,
                             zone=zone, where=where)
        tallies = tallies_of_ledger(ledger, period=period, calendar=calendar, policy=policy,
                                    weights=weights)
    return ScoreTallies(_ranked(tallies, order, as_of, period, weights), tallies, order)


def counted_scorecard(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    period: Period | None = None,
    plan: str | int | None = None,
    all_plans: bool = False,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
    zone: tzinfo = LOCAL_ZONE,
    store: bool = True,
) -> Scorecard | None:
    """:func:`build_scorecard` when SQL counts it (every plan and period:
    from the cells kept for the day, stale ones stored first with ``store``,
    see :func:`~duban.services.reports.scorecard_kept.kept_tallies`; else in
    grouped SQL), None where SQL cannot tell local days (then count a
    ledger's rows: :class:`ScoreTally`). Raises as :func:`build_scorecard`."""
    period = period or Period()
    weights = weights or ScoreWeights()
    tallies, order, _where = _sql_tallies(
        session_factory, as_of=as_of, calendar=calendar, period=period, plan=plan,
        all_plans=all_plans, policy=policy, weights=weights, zone=zone, store=store,
    )
    return None if tallies is None else _ranked(tallies, order, as_of, period, weights)


def _sql_tallies(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    period: Period,
    plan: str | int | None,
    all_plans: bool,
    policy: StatusPolicy | None,
    weights: ScoreWeights,
    zone: tzinfo,
    store: bool = True,
) -> tuple[dict[str, DepartmentTally] | None, dict[str, int], list[ColumnElement[bool]]]:
    """The tallies counted in SQL (None where SQL cannot tell local days),
    the directory's order, and the condition on the plan."""
    with session_factory() as session:
        where = [] if all_plans and plan is None else [
            Measure.plan_id == find_plan(plan, session=session).id
        ]
        order = department_order(session)
        # Every plan and period: the cells kept for the day (scorecard_kept).
        kept = not where and period.start is None and period.end is None
        tallies = None if kept else department_tallies(
            session, where=where, period=period, as_of=as_of, calendar=calendar, zone=zone,
            policy=policy, task_roles=weights.task_roles,
        )
    if kept:
        tallies = kept_tallies(session_factory, as_of=as_of, calendar=calendar, zone=zone,
                               policy=policy, task_roles=weights.task_roles, store=store)
    return tallies, order, where


def _ranked(
    tallies: dict[str, DepartmentTally], order: dict[str, int], as_of: date, period: Period,
    weights: ScoreWeights,
) -> Scorecard:
    def department_key(name: str) -> tuple[int, str]:
        return (order.get(name, len(order)), name)

    return ranked_scorecard(
        {name: tally.counts for name, tally in tallies.items()}, as_of=as_of, period=period,
        weights=weights, department_key=department_key,
    )


def tallies_of_ledger(
    ledger: ScoreSource,
    *,
    period: Period,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    weights: ScoreWeights | None = None,
) -> dict[str, DepartmentTally]:
    """What :func:`~duban.services.reports.scorecard_sql.department_tallies`
    counts in SQL, counted row by row (the domain's rules applied task by task)."""
    weights = weights or ScoreWeights()
    counts = department_counts(
        (record_of(row) for row in ledger.rows),
        period=period,
        as_of=ledger.as_of,
        calendar=calendar,
        policy=policy,
        task_roles=weights.task_roles,
    )
    tallies = {name: DepartmentTally(counts=value) for name, value in counts.items()}
    late: dict[str, dict[int, int]] = {}
    for row in ledger.rows:
        tally = tallies[row.department]
        tally.tasks += 1
        if row.cancelled:
            continue
        tally.active += 1
        tally.approved += row.state is TaskState.APPROVED
        tally.submitted += row.state is TaskState.SUBMITTED
        tally.overdue += row.status is TaskStatus.OVERDUE
        late_until = None
        if row.status is TaskStatus.OVERDUE:
            late_until = ledger.as_of
        elif row.status is TaskStatus.DONE_LATE and row.submitted_on is not None:
            late_until = row.submitted_on
        if late_until is not None:
            days = calendar.maybe_count_workdays(row.due, late_until)
            if not isinstance(days, Unpublished):  # not counted while its year is unknown
                found = late.setdefault(row.department, {})
                found[days] = found.get(days, 0) + 1
    for name, counted in late.items():
        tallies[name].days_late = sorted(counted.items())
    return tallies


def load_weights(path: Path) -> ScoreWeights:
    """Weights from a YAML file (keys of :class:`ScoreWeights`; missing keys
    keep the defaults). Raises DubanError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise DubanError(f"无法读取考核权重文件:{err.strerror}", where=str(path)) from None
    except yaml.YAMLError as err:
        raise DubanError(f"考核权重文件不是有效的 YAML:{err}", where=str(path)) from None
    if not isinstance(data, dict):
        raise DubanError("考核权重文件应为映射(键: 值)", where=str(path))
    return ScoreWeights.from_data(data, source=str(path))


def weights_description(weights: ScoreWeights) -> list[str]:
    """The formula with these weights, in Chinese, one line per part."""
    credit = weights.task_credit
    report = weights.report_credit
    penalty = weights.escalation_penalty
    roles = "、".join(TASK_ROLE_LABELS[r] for r in weights.task_roles)
    return [
        f"得分 = {_n(weights.task_points)} × 任务完成率 + {_n(weights.report_points)} × 报送率"
        f" − 督办扣分,限定在 0–100 分。",
        "任务完成率:到期任务的平均得分(按期办结 "
        f"{_n(credit['on_time'])}、延期后办结 {_n(credit['after_extension'])}、已报结待审核 "
        f"{_n(credit['awaiting_review'])}、逾期办结 {_n(credit['late'])}、仍逾期 "
        f"{_n(credit['overdue'])};当日到期尚未办结的不计),只计{roles}任务。",
        f"报送率:应报进度的平均得分(按时 {_n(report['on_time'])}、迟报 {_n(report['late'])}、"
        f"缺报 {_n(report['missing'])}),无应报时为 1。",
        "督办扣分:"
        + "、".join(f"{LEVEL_LABELS[level]}每次 {_n(penalty[level])} 分" for level in (1, 2, 3))
        + "。",
        f"暂无得分:考核期内没有到期的{roles}任务的单位不计分、不排名,列在最后。",
    ]


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
