"""What status derivation knows of a task: its facts from its rows, and the
rows it needs loaded for a batch of tasks in a fixed handful of queries
(:class:`Related`, which the task list and the ledger share).

Status and light are never stored: they are derived with
:func:`duban.domain.status.assess` from the stored rows as of a given day, so
any day of a plan can be replayed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from duban.domain.directory import normalize_name
from duban.domain.lifecycle import (
    Action,
    ExtensionStatus,
    TaskState,
)
from duban.domain.status import (
    Indicator,
    Reading,
    TaskFacts,
)
from duban.timeutil import DEFAULT_ZONE
from models import (
    ExtensionRequest,
    IndicatorReading,
    Target,
    Task,
    TaskEvent,
)

LOCAL_ZONE = DEFAULT_ZONE  # the organisation's zone when a caller passes none
_REPORT = Action.REPORT.value  # read once: an enum member's value is a descriptor call


def local_date(moment: datetime, zone: tzinfo = LOCAL_ZONE) -> date:
    """The calendar day of an aware ``moment`` in ``zone``."""
    return moment.astimezone(zone).date()


class TargetFields(Protocol):
    """What the status rules and the ledger read of a target: a
    :class:`~models.Target` or its columns selected as a row."""

    @property
    def id(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def due(self) -> date | None: ...
    @property
    def indicator(self) -> str | None: ...
    @property
    def comparator(self) -> str | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def text(self) -> str: ...


AnyTarget = TypeVar("AnyTarget", bound=TargetFields)


def indicator_name(target: TargetFields) -> str:
    """What a numeric target is called when values are reported: its indicator,
    else its text."""
    return target.indicator or target.text


class TaskDates(Protocol):
    """What :func:`task_facts` reads of a task: a :class:`~models.Task`, or its
    columns selected as a row (the ledger reads no task objects)."""

    @property
    def id(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def deadline(self) -> date: ...
    @property
    def due(self) -> date: ...
    @property
    def original_due(self) -> date: ...
    @property
    def assigned_at(self) -> datetime: ...
    @property
    def submitted_at(self) -> datetime | None: ...


class EventMoment(Protocol):
    """What :func:`task_facts` reads of an event: a :class:`~models.TaskEvent` or its columns."""

    @property
    def task_id(self) -> int: ...
    @property
    def action(self) -> str: ...
    @property
    def at(self) -> datetime: ...


def numeric_targets(task: TaskDates, measure_targets: Iterable[AnyTarget]) -> list[AnyTarget]:
    """The task's numeric targets, in printed order.

    They are the measure's targets with a value whose due date is the task's
    deadline; for a measure without any dated target (whose tasks are due at
    the plan's horizon) its undated numeric targets count.
    """
    targets = sorted(measure_targets, key=lambda t: t.position)
    if any(t.due is not None for t in targets):
        return [t for t in targets if t.value is not None and t.due == task.deadline]
    return [t for t in targets if t.value is not None]


def task_facts(
    task: TaskDates,
    *,
    events: Iterable[EventMoment],
    extensions: Iterable[ExtensionRequest],
    targets: Iterable[Target],
    readings: Iterable[IndicatorReading],
    zone: tzinfo = LOCAL_ZONE,
) -> TaskFacts:
    """What :func:`assess` needs, from the task's rows (no database access).

    ``events``, ``extensions`` and ``readings`` may include other tasks' rows
    or all of this task's; only the relevant ones are used: report events give
    ``report_dates`` (local days), any approved extension sets ``extended``,
    and the first numeric target of the task's deadline gives the indicator
    and its readings. ``submitted_on`` is the local day of the latest 报结
    while the task is submitted or approved, else None. ``targets`` are the
    measure's targets.
    """
    state = TaskState(task.state)
    submitted_on = None
    if state in (TaskState.SUBMITTED, TaskState.APPROVED) and task.submitted_at is not None:
        submitted_on = local_date(task.submitted_at, zone)
    report_dates = sorted(
        local_date(e.at, zone)
        for e in events
        if e.task_id == task.id and e.action == _REPORT
    )
    extended = any(
        x.task_id == task.id and x.status == ExtensionStatus.APPROVED for x in extensions
    )
    indicator = None
    values: tuple[Reading, ...] = ()
    numeric = numeric_targets(task, targets)
    if numeric:
        first = numeric[0]
        assert first.value is not None  # numeric_targets keeps valued targets only
        indicator = Indicator(comparator=first.comparator or ">=", target=first.value)
        values = tuple(
            sorted(
                (
                    Reading(r.reported_on, r.value)
                    for r in readings
                    if r.task_id == task.id and r.target_id == first.id
                ),
                key=lambda r: r.on,
            )
        )
    return TaskFacts(
        state=state,
        due=task.due,
        original_due=task.original_due,
        assigned_on=local_date(task.assigned_at, zone),
        submitted_on=submitted_on,
        extended=extended,
        report_dates=tuple(report_dates),
        indicator=indicator,
        readings=values,
    )



@dataclass
class Related:
    """The rows status derivation needs, for a batch of tasks."""

    events: dict[int, list[TaskEvent]] = field(default_factory=lambda: defaultdict(list))
    extensions: dict[int, list[ExtensionRequest]] = field(default_factory=lambda: defaultdict(list))
    readings: dict[int, list[IndicatorReading]] = field(default_factory=lambda: defaultdict(list))
    targets: dict[int, list[Target]] = field(default_factory=lambda: defaultdict(list))


def load_related(
    session: Session,
    task_ids: Select[Any],
    *,
    actions: Collection[str] | None = (Action.REPORT.value,),
    events_by_time: bool = False,
    extensions_before: datetime | None = None,
    into: Related | None = None,
) -> Related:
    """The rows of the tasks ``task_ids`` selects, grouped by task (targets by
    measure), filled into ``into`` (a new :class:`Related` when None):
    events with those ``actions`` (every event with None) in id order, or in
    time order with ``events_by_time``; extension requests (asked before
    ``extensions_before`` when given); readings by day; the measures' targets
    by position. One query each, whatever the number of tasks."""
    related = Related() if into is None else into
    event_query = select(TaskEvent).where(TaskEvent.task_id.in_(task_ids))
    if actions is not None:
        event_query = event_query.where(TaskEvent.action.in_(list(actions)))
    order = (TaskEvent.at, TaskEvent.id) if events_by_time else (TaskEvent.id,)
    for event in session.scalars(event_query.order_by(*order)):
        related.events[event.task_id].append(event)
    extension_query = select(ExtensionRequest).where(ExtensionRequest.task_id.in_(task_ids))
    if extensions_before is not None:
        extension_query = extension_query.where(ExtensionRequest.requested_at < extensions_before)
    for extension in session.scalars(extension_query.order_by(ExtensionRequest.id)):
        related.extensions[extension.task_id].append(extension)
    for reading in session.scalars(
        select(IndicatorReading)
        .where(IndicatorReading.task_id.in_(task_ids))
        .order_by(IndicatorReading.reported_on, IndicatorReading.id)
    ):
        related.readings[reading.task_id].append(reading)
    measure_ids = select(Task.measure_id).where(Task.id.in_(task_ids))
    for target in session.scalars(
        select(Target).where(Target.measure_id.in_(measure_ids)).order_by(Target.position)
    ):
        related.targets[target.measure_id].append(target)
    return related


def facts_of(task: Task, related: Related, zone: tzinfo) -> TaskFacts:
    return task_facts(
        task,
        events=related.events[task.id],
        extensions=related.extensions[task.id],
        targets=related.targets[task.measure_id],
        readings=related.readings[task.id],
        zone=zone,
    )



def match_indicator(key: str, targets: Sequence[Target]) -> Target | None:
    """The numeric target ``key`` names: exactly (after normalising), else the
    only one whose name contains ``key``; None when none or several match."""
    wanted = normalize_name(key)
    if not wanted:
        return None
    exact = [t for t in targets if normalize_name(indicator_name(t)) == wanted]
    if len(exact) == 1:
        return exact[0]
    partial = [t for t in targets if wanted in normalize_name(indicator_name(t))]
    return partial[0] if len(partial) == 1 else None
