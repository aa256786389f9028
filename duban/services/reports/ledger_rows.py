"""One ledger row: a task with its measure, status, history and next step.

:meth:`LedgerRelated.load` reads the rows every task of a ledger needs besides
itself (events, extensions, targets, readings, escalations, ladder steps and
policies, responsible units) in a fixed handful of queries; :func:`ledger_row`
makes a task's :class:`~duban.services.reports.ledger_model.LedgerRow` of them.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import Dialect, Select, Text, and_, case, cast, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import UserDefinedType

from duban.domain.escalation import DEFAULT_POLICY, EscalationPolicy, TaskTimeline
from duban.domain.items import item_source_text
from duban.domain.labels import EXTENSION_STATUS_LABELS, LEVEL_LABELS, TASK_ROLE_LABELS
from duban.domain.lifecycle import Action, ExtensionStatus, TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.status import (
    Assessment,
    Indicator,
    Reading,
    StatusPolicy,
    TaskFacts,
    assess,
    missing_reports,
)
from duban.domain.workdays import WorkCalendar
from duban.services.ladder.core import policy_for
from duban.services.ladder.outlook import upcoming_steps
from duban.services.reports.ledger_model import (
    NO_SECTION,
    EscalationMark,
    LedgerRow,
    TargetLine,
    number_text,
)
from duban.services.tasks.facts import (
    indicator_name,
)
from duban.services.tasks.views import StatusFields, status_fields
from models import (
    Department,
    ExtensionRequest,
    IndicatorReading,
    Measure,
    Notice,
    Plan,
    Responsibility,
    Section,
    Target,
    Task,
    TaskEvent,
    section_heading,
)

_REPORT = Action.REPORT.value  # read once: an enum member's value is a descriptor call


_MOMENTS_KEPT = 20_000  # distinct moments parsed kept at most (memory stays flat)


def _moment_reader(suffix: str) -> Callable[[str | None], datetime | None]:
    """A reader of a timestamp's text as an aware datetime: parsed with
    ``suffix`` (its offset, when the text has none) once per distinct text,
    the same object returned for it again (the ledger keeps local days per
    moment: tasks assigned, reported and escalated together share them)."""
    kept: dict[str, datetime] = {}

    def read(value: str | None) -> datetime | None:
        if value is None:
            return None
        found = kept.get(value)
        if found is None:
            if len(kept) >= _MOMENTS_KEPT:
                kept.clear()
            found = kept[value] = datetime.fromisoformat(value + suffix)
        return found

    return read


# SQLite's naive UTC text ("2016-01-05 02:13:14.123456"), read with its offset;
# PostgreSQL's text of a timestamptz in the session's zone ("2016-01-05
# 02:13:14.123456+00", ISO as psycopg requires), which carries its offset.
_MOMENT_READERS = {"sqlite": _moment_reader("+00:00"), "postgresql": _moment_reader("")}


class _Moment(UserDefinedType[datetime]):
    """A stored UTC timestamp, selected as its text, read as an aware
    datetime (the same instant the models read) with one call per value (the
    models' UTCDateTime decorates SQLite's parser and takes three; psycopg
    made a zone-aware datetime of every value, which took twice as long as
    reading its text). Only for selected columns whose local day is taken
    (:func:`local_date`)."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        raise NotImplementedError("_Moment only reads selected columns")

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        return _MOMENT_READERS[dialect.name]


_MOMENT = _Moment()


def moment(column: Any) -> Any:
    """``column`` (a UTC timestamp) selected as a :class:`_Moment`: its text."""
    return type_coerce(cast(column, Text), _MOMENT)


class _JsonAsRead(UserDefinedType[Any]):
    """A JSON column as the driver gives it: SQLite's text, left for
    :func:`_json_value` to decode when it is wanted (a ledger shows one
    report's values per task, and reads every report's), PostgreSQL's
    decoded value (or its text, when selected as text: :func:`_json_text`)."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        raise NotImplementedError("_JsonAsRead only reads selected columns")

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        return None


def _json_text(column: Any, dialect: str) -> Any:
    """A JSON ``column`` selected as its text where the driver would decode
    it (PostgreSQL's ``json``: its text as stored, which psycopg decodes
    with ``json.loads`` as :func:`_json_value` does), as a :class:`_JsonAsRead`."""
    if dialect == "postgresql":
        column = cast(column, Text)
    return type_coerce(column, _JsonAsRead())


def _json_value(data: Any) -> Any:
    """A :class:`_JsonAsRead` value decoded as SQLAlchemy's JSON type decodes it."""
    if data == "null":  # SQLite's text of a report without values (most of them)
        return None
    return json.loads(data) if isinstance(data, str) else data


_NONE: tuple[()] = ()  # a task's rows of a kind when it has none
_CACHED = 50_000  # distinct facts whose conclusions are kept at most (memory stays flat)


class TaskColumns(NamedTuple):
    """The columns of a task a ledger row is made of (no ORM object per task)."""

    id: int
    measure_id: int
    department_id: int
    named_as: str
    role: str
    deadline: date
    due: date
    original_due: date
    state: str
    assigned_at: datetime
    acknowledged_at: datetime | None
    submitted_at: datetime | None
    approved_at: datetime | None
    policy_id: int | None = None  # its escalation ladder's version (None: the default)

    @staticmethod
    def selected() -> tuple[Any, ...]:
        """The columns to select, in field order."""
        return (
            Task.id, Task.measure_id, Task.department_id, Task.named_as, Task.role,
            Task.deadline, Task.due, Task.original_due, Task.state, moment(Task.assigned_at),
            moment(Task.acknowledged_at), moment(Task.submitted_at), moment(Task.approved_at),
            Task.policy_id,
        )


class MeasureColumns(NamedTuple):
    """What a ledger row says of its task's measure, with its plan and section."""

    id: int
    number: int
    title: str
    source_kind: str | None
    doc_ref: str | None
    instructed_by: str | None
    plan_key: str
    plan_title: str
    section_label: str | None  # None: no section
    section_title: str | None
    section_number: int | None

    @staticmethod
    def selected() -> tuple[Any, ...]:
        """The columns to select (from measures joined to plans, outer-joined
        to sections), in field order."""
        return (
            Measure.id, Measure.number, Measure.title, Measure.source_kind, Measure.doc_ref,
            Measure.instructed_by, Plan.key, Plan.title, Section.label, Section.title,
            Section.number,
        )


class TargetColumns(NamedTuple):
    """A measure's target as a ledger reads it (no ORM object per target)."""

    id: int
    measure_id: int
    position: int
    due: date | None
    indicator: str | None
    comparator: str | None
    value: float | None
    unit: str | None
    text: str

    @staticmethod
    def selected() -> tuple[Any, ...]:
        """The columns to select, in field order."""
        return (Target.id, Target.measure_id, Target.position, Target.due, Target.indicator,
                Target.comparator, Target.value, Target.unit, Target.text)


class EventColumns(NamedTuple):
    """A 报送, 报结 or 审核通过 of a task."""

    task_id: int
    action: str
    at: datetime
    note: str | None
    data: dict[str, Any] | str | None  # a report's values (see _JsonAsRead)


class ExtensionColumns(NamedTuple):
    """An extension request of a task, as a ledger row tells it."""

    task_id: int
    status: str
    current_due: date
    new_due: date

    @staticmethod
    def selected() -> tuple[Any, ...]:
        """The columns to select, in field order."""
        return (ExtensionRequest.task_id, ExtensionRequest.status, ExtensionRequest.current_due,
                ExtensionRequest.new_due)


class ReadingColumns(NamedTuple):
    """An indicator reading of a task."""

    task_id: int
    target_id: int
    reported_on: date
    value: float

    @staticmethod
    def selected() -> tuple[Any, ...]:
        """The columns to select, in field order."""
        return (IndicatorReading.task_id, IndicatorReading.target_id,
                IndicatorReading.reported_on, IndicatorReading.value)


class Escalated(NamedTuple):
    """A ladder step of level ≥ 1 of a task, not superseded."""

    level: int
    due_at: datetime


@dataclass
class LedgerRelated:
    """The rows a ledger needs besides the tasks, grouped by task or measure,
    read as columns (no ORM object per row)."""

    # A task's reports (the only events a row tells), in the order they happened.
    history: dict[int, list[EventColumns]] = field(default_factory=lambda: defaultdict(list))
    extensions: dict[int, list[ExtensionColumns]] = field(
        default_factory=lambda: defaultdict(list))
    readings: dict[int, list[ReadingColumns]] = field(default_factory=lambda: defaultdict(list))
    notices: dict[int, list[Escalated]] = field(default_factory=lambda: defaultdict(list))
    # (role, the directory's full name or, for a collective such as 各区, the plan's)
    responsibilities: dict[int, list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    measures: dict[int, MeasureColumns] = field(default_factory=dict)
    departments: dict[int, str] = field(default_factory=dict)
    # Every step recorded per task (sent or not: the ladder's "done").
    steps: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    until: datetime | None = None
    # What the domain concluded, once per distinct set of facts: many tasks
    # share them (same dates, same state), and the domain's functions are pure.
    # Keyed by the facts' fields as a tuple (hashed and compared in C), with
    # the facts themselves, shared by the rows that have them (frozen).
    assessed: dict[tuple[Any, ...], tuple[TaskFacts, Assessment, int, StatusFields]] = field(
        default_factory=dict)
    ahead: dict[tuple[Any, ...], str] = field(default_factory=dict)
    # Each measure's targets in printed order.
    target_rows: dict[int, list[TargetColumns]] = field(
        default_factory=lambda: defaultdict(list))
    _numeric: dict[tuple[int, date], list[TargetColumns]] = field(default_factory=dict)
    _mine: dict[tuple[int, date], list[TargetColumns]] = field(default_factory=dict)
    _by_due: dict[int, dict[date | None, list[TargetColumns]]] = field(default_factory=dict)
    _measures: dict[int, _MeasureFields] = field(default_factory=dict)
    # The ladders (policy versions) of the tasks read, by their id.
    _versions: dict[int | None, EscalationPolicy] = field(default_factory=dict)
    # The target lines of tasks without readings, per measure and deadline.
    lines: dict[tuple[int, date], list[TargetLine]] = field(default_factory=dict)
    # Local days of the moments read (tasks assigned, acknowledged, reported
    # and escalated together share them), in the zone ``_days_zone``; and
    # the escalation marks made of them (frozen: shared among rows).
    _days: dict[datetime, date] = field(default_factory=dict)
    _days_zone: tzinfo | None = None
    _marks: dict[tuple[int, datetime], EscalationMark] = field(default_factory=dict)

    def local_days(self, zone: tzinfo) -> dict[datetime, date]:
        """The local days in ``zone`` found so far (see :func:`_local_day`)."""
        if self._days_zone is not zone:
            self._days = {}
            self._marks = {}
            self._days_zone = zone
        return self._days

    def mark(self, level: int, due_at: datetime, days: dict[datetime, date],
             zone: tzinfo) -> EscalationMark:
        """The escalation of ``level`` due at ``due_at``, once per distinct pair."""
        key = (level, due_at)
        found = self._marks.get(key)
        if found is None:
            found = self._marks[key] = EscalationMark(
                level, LEVEL_LABELS.get(level, f"{level}级"),
                days.get(due_at) or _local_day(days, due_at, zone))
        return found

    def numeric(self, task: TaskColumns) -> list[TargetColumns]:
        """The task's numeric targets (:func:`numeric_targets`: those of
        :meth:`targets_of` with a value, in printed order), once per measure
        and deadline; :func:`task_facts` picks the same of them as of all the
        measure's targets."""
        key = (task.measure_id, task.deadline)
        found = self._numeric.get(key)
        if found is None:
            found = self._numeric[key] = [
                t for t in self.targets_of(task.measure_id, task.deadline) if t.value is not None
            ]
        return found

    def targets_of(self, measure_id: int, deadline: date) -> list[TargetColumns]:
        """The measure's targets of ``deadline`` in printed order: all of
        them when none is dated (the measure's targets grouped by due date
        once: a measure's tasks come with a few deadlines each)."""
        key = (measure_id, deadline)
        found = self._mine.get(key)
        if found is None:
            by_due = self._by_due.get(measure_id)
            if by_due is None:
                targets = self.target_rows[measure_id]
                by_due = self._by_due[measure_id] = {}
                if any(t.due is not None for t in targets):
                    for target in targets:
                        if target.due is not None:  # an undated one is no deadline's
                            by_due.setdefault(target.due, []).append(target)
                else:
                    by_due[None] = targets
            found = self._mine[key] = by_due.get(None if None in by_due else deadline, [])
        return found

    def measure_fields(self, measure: MeasureColumns) -> _MeasureFields:
        """:func:`_measure_fields` once per measure, shared: copy its lists
        for a row."""
        found = self._measures.get(measure.id)
        if found is None:
            found = self._measures[measure.id] = _measure_fields(
                measure, self.responsibilities[measure.id]
            )
        return found

    @classmethod
    def load(
        cls, session: Session, task_ids: Select[Any] | Sequence[int], *, until: datetime
    ) -> LedgerRelated:
        """Everything of the tasks ``task_ids`` selects; history before ``until``
        (:meth:`load_shared` and :meth:`load_tasks`)."""
        related = cls.load_shared(session, task_ids, until=until)
        related.load_tasks(session, task_ids)
        return related

    @classmethod
    def load_shared(
        cls, session: Session, task_ids: Select[Any] | Sequence[int], *, until: datetime
    ) -> LedgerRelated:
        """What the tasks ``task_ids`` selects share: their measures (with plan,
        section, targets and responsible units) and every department's name;
        read as columns (thousands of measures and targets at 100k tasks)."""
        related = cls(until=until)
        # Plain rows through the connection: the session's ORM result
        # machinery took ~0.3 s for 16,666 targets and 8,333 measures.
        connection = session.connection()
        measure_ids = select(Task.measure_id).where(Task.id.in_(task_ids))
        for row in connection.execute(
            select(*TargetColumns.selected())
            .where(Target.measure_id.in_(measure_ids))
            .order_by(Target.position)
        ):
            related.target_rows[row[1]].append(TargetColumns(*row))
        for measure_id, role, department, named_as in connection.execute(
            select(Responsibility.measure_id, Responsibility.role, Department.name,
                   Responsibility.named_as)
            .outerjoin(Department, Responsibility.department_id == Department.id)
            .where(Responsibility.measure_id.in_(measure_ids))
            .order_by(Responsibility.position, Responsibility.id)
        ):
            related.responsibilities[measure_id].append((role, department or named_as))
        related.measures = {
            row[0]: MeasureColumns(*row)
            for row in connection.execute(
                select(*MeasureColumns.selected())
                .join(Plan, Measure.plan_id == Plan.id)
                .outerjoin(Section, Measure.section_id == Section.id)
                .where(Measure.id.in_(measure_ids))
            )
        }
        related.departments = {
            department_id: name
            for department_id, name in connection.execute(select(Department.id, Department.name))
        }
        return related

    def load_tasks(
        self,
        session: Session,
        task_ids: Select[Any] | Sequence[int],
        *,
        policy_ids: Iterable[int | None] | None = None,
    ) -> None:
        """The rows of each task ``task_ids`` selects (events, extensions,
        readings, escalations, ladder steps and policy), replacing those of the
        tasks read before: a ledger read in batches holds one batch's.
        ``policy_ids``: the tasks' ladders' versions when the caller has them
        (their own column; not read again)."""
        until = self.until
        assert until is not None, "load_shared sets until"
        for rows in (self.history, self.notices, self.steps, self.extensions, self.readings):
            rows.clear()
        if len(self.assessed) > _CACHED or len(self.ahead) > _CACHED:
            self.assessed.clear()  # distinct facts of tasks long written
            self.ahead.clear()
        if len(self._days) > _CACHED or len(self._marks) > _CACHED:
            self._days.clear()
            self._marks.clear()
        # Plain rows through the connection: no ORM loading per row.
        connection = session.connection()
        dialect = connection.dialect.name
        extensions, readings, history = self.extensions, self.readings, self.history
        for row in connection.execute(
            select(*ExtensionColumns.selected())
            .where(ExtensionRequest.task_id.in_(task_ids), ExtensionRequest.requested_at < until)
            .order_by(ExtensionRequest.id)
        ):
            extensions[row[0]].append(ExtensionColumns(*row))
        for row in connection.execute(
            select(*ReadingColumns.selected())
            .where(IndicatorReading.task_id.in_(task_ids))
            .order_by(IndicatorReading.reported_on, IndicatorReading.id)
        ):
            readings[row[0]].append(ReadingColumns(*row))
        # Reports only: a row's dates of 报结 and 办结 are the task's own
        # columns, so its other events are not read (most of its events).
        for row in connection.execute(
            select(TaskEvent.task_id, TaskEvent.action, moment(TaskEvent.at), TaskEvent.note,
                   _json_text(TaskEvent.data, dialect))
            .where(TaskEvent.task_id.in_(task_ids), TaskEvent.action == _REPORT)
            .order_by(TaskEvent.at, TaskEvent.id)
        ):
            history[row[0]].append(EventColumns(*row))
        # A task's escalations (level >= 1, not superseded, due before
        # ``until``) and the steps recorded before ``until``, in one read of
        # its notices (a round trip less per batch), each row flagged in SQL.
        escalation = and_(Notice.level >= 1, Notice.status != NoticeStatus.SUPERSEDED,
                          Notice.due_at < until)
        recorded = Notice.created_at < until
        notices, steps = self.notices, self.steps
        for task_id, step, level, due_at, escalated, made in connection.execute(
            select(Notice.task_id, Notice.step, Notice.level, moment(Notice.due_at),
                   case((escalation, 1), else_=0), case((recorded, 1), else_=0))
            .where(Notice.task_id.in_(task_ids), or_(escalation, recorded))
            .order_by(Notice.due_at, Notice.id)
        ):
            if escalated:
                notices[task_id].append(Escalated(level, due_at))
            if made:
                steps[task_id].add(step)
        # A few policy versions for many tasks (each task's is one of its
        # columns): each read once (the identity map keeps no row that
        # nothing holds, so policy_for would query each time).
        if policy_ids is None:
            policy_ids = connection.execute(
                select(Task.policy_id).where(Task.id.in_(task_ids)).distinct()
            ).scalars()
        for policy_id in set(policy_ids):
            if policy_id not in self._versions:
                self._versions[policy_id] = policy_for(session, policy_id)

    def ladder(self, task: TaskColumns) -> EscalationPolicy:
        """The task's escalation ladder (read by :meth:`load_tasks`)."""
        return self._versions.get(task.policy_id, DEFAULT_POLICY)


def ledger_row(
    task: TaskColumns,
    related: LedgerRelated,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    zone: tzinfo,
    *,
    next_step: bool = True,
) -> LedgerRow:
    """The row of ``task`` as of ``as_of`` from what ``related`` read; its
    ``next_step`` left empty without ``next_step`` (the ladder walked ahead
    for each task costs ~1 ms of an overdue one)."""
    measure = related.measures[task.measure_id]
    # .get: most tasks have no extension, reading or escalation, and the
    # defaultdicts would add an empty list for each of them.
    events = related.history.get(task.id, _NONE)
    extensions = related.extensions.get(task.id, _NONE)
    days = related.local_days(zone)
    facts, _assessment, missing, status = judged(task, related, events, extensions, days,
                                                 as_of, calendar, policy, zone)
    state = facts.state
    acknowledged = task.acknowledged_at
    acknowledged_on = (days.get(acknowledged) or _local_day(days, acknowledged, zone)
                       if acknowledged is not None else None)
    notices = related.notices.get(task.id)
    # Fields by name rather than dicts unpacked: a row is made per task.
    shared = related.measure_fields(measure)
    reports = _reports_fields(events, facts, as_of)
    return LedgerRow(
        task_id=task.id,
        plan=shared["plan"],
        plan_title=shared["plan_title"],
        section=shared["section"],
        section_number=shared["section_number"],
        measure=shared["measure"],
        measure_id=shared["measure_id"],
        measure_title=shared["measure_title"],
        item_source=shared["item_source"],
        lead_departments=list(shared["lead_departments"]),
        supporting_departments=list(shared["supporting_departments"]),
        department=related.departments[task.department_id],
        named_as=task.named_as,
        role=task.role,
        role_label=TASK_ROLE_LABELS.get(task.role, task.role),
        targets=_targets(task, related, as_of),
        deadline=task.deadline,
        due=task.due,
        original_due=task.original_due if task.original_due != task.due else None,
        state=state,
        state_label=status["state_label"],
        status=status["status"],
        status_label=status["status_label"],
        light=status["light"],
        light_label=status["light_label"],
        reasons=list(status["reasons"]),  # the row's own list
        assigned_on=facts.assigned_on,
        acknowledged_on=acknowledged_on,
        latest_progress=reports["latest_progress"],
        latest_progress_on=reports["latest_progress_on"],
        report_count=reports["report_count"],
        missing_reports=missing,
        extensions=[_extension_text(x) for x in extensions] if extensions else [],
        escalations=(
            [related.mark(n.level, n.due_at, days, zone) for n in notices] if notices else []
        ),
        submitted_on=facts.submitted_on,
        completed_on=(
            days.get(task.approved_at) or _local_day(days, task.approved_at, zone)
            if state is _APPROVED and task.approved_at
            else None
        ),
        facts=facts,
        next_step=(_next_step(task, facts, acknowledged_on, related, as_of, calendar)
                   if next_step else ""),
    )


Judged = tuple[TaskFacts, Assessment, int, StatusFields]


def judged(
    task: TaskColumns,
    related: LedgerRelated,
    events: Sequence[EventColumns],
    extensions: Sequence[ExtensionColumns],
    days: dict[datetime, date],
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    zone: tzinfo,
) -> Judged:
    """The task's facts, their assessment as of ``as_of``, its missing
    reports and status fields, once per distinct set of facts (kept in
    ``related.assessed``; shared: frozen or not to be changed)."""
    fields = _facts_fields(task, events, extensions, related.numeric(task),
                           related.readings.get(task.id, _NONE), zone, days)
    found = related.assessed.get(fields)
    if found is None:
        facts = TaskFacts(*fields)
        assessment = assess(facts, as_of, calendar, policy)
        found = related.assessed[fields] = (
            facts,
            assessment,
            # Counted for overdue tasks too (assess stops at "overdue").
            len(missing_reports(facts, as_of, calendar, policy)),
            status_fields(facts.state, assessment),
        )
    return found


_STATES = {state.value: state for state in TaskState}
_APPROVED = TaskState.APPROVED
_CLOSED = frozenset((TaskState.SUBMITTED, TaskState.APPROVED))


def _local_day(days: dict[datetime, date], moment: datetime, zone: tzinfo) -> date:
    """The local day of ``moment`` in ``zone``, kept in ``days`` (the
    caller looked it up there first: ``days.get(m) or _local_day(days, m, zone)``;
    a date is never false). Equal moments are one instant whatever their
    offsets, so they have one local day."""
    found = days[moment] = moment.astimezone(zone).date()
    return found


_APPROVED_EXTENSION = ExtensionStatus.APPROVED.value


def own_facts(
    task: TaskColumns,
    events: Sequence[EventColumns],
    extensions: Sequence[ExtensionColumns],
    numeric: list[TargetColumns],
    readings: Sequence[ReadingColumns],
    zone: tzinfo,
    days: dict[datetime, date] | None = None,
) -> TaskFacts:
    """:func:`~duban.services.tasks.facts.task_facts` of ``task`` from its
    own rows (the ledger reads them per task: no other task's to pass over)
    and its numeric targets (:meth:`LedgerRelated.numeric`, in printed order);
    local days kept in ``days`` (:meth:`LedgerRelated.local_days`) when given."""
    return TaskFacts(*_facts_fields(task, events, extensions, numeric, readings, zone, days))


def _facts_fields(
    task: TaskColumns,
    events: Sequence[EventColumns],
    extensions: Sequence[ExtensionColumns],
    numeric: list[TargetColumns],
    readings: Sequence[ReadingColumns],
    zone: tzinfo,
    days: dict[datetime, date] | None = None,
) -> tuple[Any, ...]:
    """:func:`own_facts`' fields in :class:`TaskFacts`' order."""
    if days is None:
        days = {}
    get = days.get
    state = _STATES[task.state]
    submitted_on = None
    submitted = task.submitted_at
    if state in _CLOSED and submitted is not None:
        submitted_on = get(submitted) or _local_day(days, submitted, zone)
    if events:
        report_dates = [get(e.at) or _local_day(days, e.at, zone)
                        for e in events if e.action == _REPORT]
        report_dates.sort()
    else:
        report_dates = []
    indicator = None
    values: tuple[Reading, ...] = ()
    if numeric:
        first = numeric[0]
        assert first.value is not None  # numeric targets have a value
        indicator = Indicator(comparator=first.comparator or ">=", target=first.value)
        if readings:
            values = tuple(sorted(
                (Reading(r.reported_on, r.value) for r in readings if r.target_id == first.id),
                key=lambda r: r.on,
            ))
    return (
        state,
        task.due,
        task.original_due,
        get(task.assigned_at) or _local_day(days, task.assigned_at, zone),  # assigned_on
        submitted_on,
        any(x.status == _APPROVED_EXTENSION for x in extensions) if extensions else False,
        tuple(report_dates),
        indicator,
        values,  # readings
    )


class _MeasureFields(TypedDict):
    plan: str
    plan_title: str
    section: str
    section_number: int | None
    measure: int
    measure_id: int
    measure_title: str
    item_source: str
    lead_departments: list[str]
    supporting_departments: list[str]


def _measure_fields(
    measure: MeasureColumns, responsibilities: list[tuple[str, str]]
) -> _MeasureFields:
    """What a row says of the task's measure: its plan, section, source and units."""
    has_section = measure.section_number is not None
    return _MeasureFields(
        plan=measure.plan_key,
        plan_title=measure.plan_title,
        section=(section_heading(measure.section_label or "", measure.section_title or "")
                 if has_section else NO_SECTION),
        section_number=measure.section_number,
        measure=measure.number,
        measure_id=measure.id,
        measure_title=measure.title,
        item_source=item_source_text(measure.source_kind, measure.doc_ref, measure.instructed_by),
        lead_departments=[name for role, name in responsibilities if role == "lead"],
        supporting_departments=[name for role, name in responsibilities if role == "supporting"],
    )


class _ReportsFields(TypedDict):
    latest_progress: str | None
    latest_progress_on: date | None
    report_count: int


def _reports_fields(
    events: Sequence[EventColumns], facts: TaskFacts, as_of: date
) -> _ReportsFields:
    """The progress reports up to ``as_of``: the latest's text and day, and how many.

    ``events`` are the task's in the order they happened, so the local days
    of its reports (``facts.report_dates``, sorted) are theirs in that order,
    and the reports up to ``as_of`` are the first ones: counted on those days,
    each converted once."""
    days = facts.report_dates
    count = bisect_right(days, as_of)
    if not count:
        return _ReportsFields(latest_progress=None, latest_progress_on=None, report_count=0)
    latest = [e for e in events if e.action == _REPORT][count - 1]
    return _ReportsFields(
        latest_progress=_progress_text(latest),
        latest_progress_on=days[count - 1],
        report_count=count,
    )


def _next_step(
    task: TaskColumns,
    facts: TaskFacts,
    acknowledged_on: date | None,
    related: LedgerRelated,
    as_of: date,
    calendar: WorkCalendar,
) -> str:
    ladder = related.ladder(task)
    done = frozenset(related.steps.get(task.id, _NONE))
    # The timeline's fields (a tuple hashes faster than the dataclass); the
    # policies are the few versions LedgerRelated.load read, alive as long as it.
    key = (facts.state, facts.assigned_on, facts.due, acknowledged_on, facts.report_dates,
           id(ladder), done)
    found = related.ahead.get(key)
    if found is None:
        timeline = TaskTimeline(
            state=facts.state,
            assigned_on=facts.assigned_on,
            due=facts.due,
            acknowledged_on=acknowledged_on,
            report_dates=facts.report_dates,
        )
        ahead = upcoming_steps(timeline, ladder, calendar, today=as_of, done=done, limit=1)
        found = related.ahead[key] = f"{ahead[0].when} {ahead[0].label}" if ahead else ""
    return found


def _targets(task: TaskColumns, related: LedgerRelated, as_of: date) -> list[TargetLine]:
    """The measure's targets of the task's deadline (all of them when the
    measure has no dated target), with the latest reading up to ``as_of``;
    once per measure and deadline for the tasks without readings."""
    readings = related.readings.get(task.id)
    if readings:
        return _target_lines(related.targets_of(task.measure_id, task.deadline), readings, as_of)
    key = (task.measure_id, task.deadline)
    found = related.lines.get(key)
    if found is None:
        found = related.lines[key] = _target_lines(
            related.targets_of(task.measure_id, task.deadline), [], as_of
        )
    return list(found)  # the lines are frozen; the list is the row's


def _target_lines(
    targets: list[TargetColumns], readings: Sequence[ReadingColumns], as_of: date
) -> list[TargetLine]:
    lines = []
    for target in targets:
        mine = [r for r in readings if r.target_id == target.id and r.reported_on <= as_of]
        last = mine[-1] if mine else None
        lines.append(
            TargetLine(
                text=target.text,
                due=target.due,
                indicator=indicator_name(target) if target.value is not None else target.indicator,
                comparator=target.comparator,
                value=target.value,
                unit=target.unit,
                latest=last.value if last else None,
                latest_on=last.reported_on if last else None,
            )
        )
    return lines


def _progress_text(event: EventColumns) -> str:
    note = (event.note or "").strip()
    values = (_json_value(event.data) or {}).get("values") or {}
    if values:
        shown = ";".join(f"{name}:{number_text(value)}" for name, value in values.items())
        note = f"{note}({shown})" if note else shown
    return note


def _extension_text(row: ExtensionColumns) -> str:
    label = EXTENSION_STATUS_LABELS.get(row.status, row.status)
    return f"{row.current_due.isoformat()}→{row.new_due.isoformat()}({label})"
