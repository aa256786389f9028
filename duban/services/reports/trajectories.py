"""Indicator trajectories: each task's readings of a measure's numeric targets.

:func:`measure_trajectories` gives one :class:`IndicatorPanel` per target,
with one :class:`Series` per task that reports it (the department's readings
up to ``as_of``, and whether it is behind the straight path from its first
reading — the baseline, as in :func:`duban.domain.status.behind_trajectory` —
to the target value on the task's due date).
:mod:`duban.services.reports.charts` draws them.

Readings no report could give today (not finite, or beyond ±10¹⁵, stored
before values were checked) are left out, so a chart is always drawn.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.indicators import plottable
from duban.domain.labels import TASK_ROLE_LABELS
from duban.domain.lifecycle import TaskState
from duban.domain.status import (
    Indicator,
    Reading,
    TaskFacts,
    behind_trajectory,
)
from duban.services.plans.catalog import find_plan
from duban.services.tasks.facts import indicator_name, local_date, numeric_targets
from models import IndicatorReading, Measure, Target, Task

PLOT_BOUND = 1e15  # beyond any believable reading (see duban.domain.indicators)


@dataclass
class Series:
    """One task's readings of one indicator, and its straight-line path."""

    task_id: int
    department: str
    role_label: str
    assigned_on: date
    due: date
    readings: list[Reading]
    behind: bool = False

    @property
    def baseline(self) -> Reading | None:
        return self.readings[0] if self.readings else None


@dataclass
class IndicatorPanel:
    """One numeric target of the measure and every task reporting it."""

    target_id: int
    indicator: str
    comparator: str
    value: float
    unit: str
    series: list[Series] = field(default_factory=list)


def measure_trajectories(
    session_factory: sessionmaker[Session],
    *,
    measure: int,
    as_of: date,
    plan: str | int | None = None,
) -> tuple[str, list[IndicatorPanel]]:
    """The measure's title and its panels (readings up to ``as_of``).

    Raises NotFoundError for an unknown plan or measure, DubanError when the
    measure has no numeric target with tasks.
    """
    with session_factory() as session:
        return load_trajectories(session, measure=measure, as_of=as_of, plan=plan)


def load_trajectories(
    session: Session, *, measure: int, as_of: date, plan: str | int | None = None
) -> tuple[str, list[IndicatorPanel]]:
    """:func:`measure_trajectories` read in an open ``session`` (read only)."""
    found = find_plan(plan, session=session)
    row = session.scalar(
        select(Measure).where(Measure.plan_id == found.id, Measure.number == measure)
    )
    if row is None:
        raise NotFoundError(f"工作方案“{found.key}”中没有第{measure}项措施")
    targets = list(
        session.scalars(select(Target).where(Target.measure_id == row.id).order_by(Target.position))
    )
    tasks = list(
        session.scalars(
            select(Task)
            .options(joinedload(Task.department))
            .where(Task.measure_id == row.id)
            .order_by(Task.deadline, Task.role, Task.id)
        )
    )
    panels = _panels(tasks, targets, _readings(session, tasks, as_of), as_of)
    if not panels:
        raise DubanError(f"措施{measure}“{row.title}”没有已交办的量化指标,无法绘制指标进度图")
    return row.title, panels


def _readings(
    session: Session, tasks: list[Task], as_of: date
) -> dict[tuple[int, int], list[Reading]]:
    """The plottable readings of ``tasks`` up to ``as_of``, by (task, target), oldest first."""
    readings: dict[tuple[int, int], list[Reading]] = defaultdict(list)
    for reading in session.scalars(
        select(IndicatorReading)
        .where(
            IndicatorReading.task_id.in_([t.id for t in tasks]),
            IndicatorReading.reported_on <= as_of,
        )
        .order_by(IndicatorReading.reported_on, IndicatorReading.id)
    ):
        if plottable(reading.value, bound=PLOT_BOUND):
            readings[(reading.task_id, reading.target_id)].append(
                Reading(reading.reported_on, reading.value)
            )
    return readings


def _panels(
    tasks: list[Task],
    targets: list[Target],
    readings: dict[tuple[int, int], list[Reading]],
    as_of: date,
) -> list[IndicatorPanel]:
    """One panel per numeric target, a series per task it applies to."""
    panels: dict[int, IndicatorPanel] = {}
    for task in tasks:
        for target in numeric_targets(task, targets):
            assert target.value is not None
            panel = panels.setdefault(
                target.id,
                IndicatorPanel(
                    target_id=target.id,
                    indicator=indicator_name(target),
                    comparator=target.comparator or ">=",
                    value=target.value,
                    unit=target.unit or "",
                ),
            )
            series = Series(
                task_id=task.id,
                department=task.department.name,
                role_label=TASK_ROLE_LABELS.get(task.role, task.role),
                assigned_on=local_date(task.assigned_at),
                due=task.due,
                readings=readings[(task.id, target.id)],
            )
            series.behind = _behind(series, panel, as_of)
            panel.series.append(series)
    return list(panels.values())


def _behind(series: Series, panel: IndicatorPanel, as_of: date) -> bool:
    facts = TaskFacts(
        state=TaskState.IN_PROGRESS,
        due=series.due,
        original_due=series.due,
        assigned_on=series.assigned_on,
        indicator=Indicator(panel.comparator, panel.value),
        readings=tuple(series.readings),
    )
    return behind_trajectory(facts, as_of)
