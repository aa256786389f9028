"""Read tasks: lists with derived status and light, one task in detail, measure lights.

Status and light are never stored: they are derived with
:func:`duban.domain.status.assess` from the stored rows as of a given day, so
any day of a plan can be replayed. Results are plain dataclasses, detached from
the session, for the CLI and web.

Loading is batched: :func:`list_tasks` runs a fixed handful of queries whatever
the number of tasks (the tasks with their measure, plan and department, then
the report events, extension requests, numeric targets and readings of all of
them at once).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.domain.directory import normalize_name
from duban.domain.errors import NotFoundError
from duban.domain.items import item_source_text
from duban.domain.labels import EXTENSION_STATUS_LABELS, TASK_ROLE_LABELS
from duban.domain.lifecycle import (
    ACTION_LABELS,
    ROLE_LABELS,
    STATE_LABELS,
    Action,
    ActorRole,
    ExtensionStatus,
    TaskState,
)
from duban.domain.status import (
    LIGHT_LABELS,
    STATUS_LABELS,
    Assessment,
    Indicator,
    Light,
    Reading,
    ReportPeriod,
    StatusPolicy,
    TaskFacts,
    TaskStatus,
    assess,
    worst_light,
)
from duban.domain.workdays import WorkCalendar
from duban.services.accounts.directory import directory_from_db
from duban.services.accounts.links import watched_by
from duban.services.paging import Page
from duban.services.plans.catalog import find_plan
from duban.services.serialize import jsonable
from duban.services.tasks.light_sql import light_rule
from duban.services.tasks.lights import light_tasks
from duban.timeutil import DEFAULT_ZONE
from models import (
    Department,
    ExtensionRequest,
    IndicatorReading,
    Measure,
    Plan,
    Target,
    Task,
    TaskEvent,
)

LOCAL_ZONE = DEFAULT_ZONE  # the organisation's zone when a caller passes none



# --- views -------------------------------------------------------------------


@dataclass
class TaskView:
    """One task as listed: stored facts plus status and light as of ``as_of``.

    ``department`` is the official name; ``named_as`` the name as the plan
    wrote it (各区 for each district's task). ``measure`` is the measure's
    printed number within ``plan`` (the plan's key).
    """

    id: int
    plan: str
    plan_id: int
    measure: int
    measure_id: int
    measure_title: str
    department: str
    named_as: str
    role: str
    role_label: str
    deadline: date
    due: date
    original_due: date
    state: TaskState
    state_label: str
    status: TaskStatus
    status_label: str
    light: Light
    light_label: str
    reasons: list[str]
    extended: bool
    pending_extension: int | None
    as_of: date
    # Report periods whose deadline passed without a report (open tasks not yet
    # overdue; see duban.domain.status.assess).
    missing_reports: list[ReportPeriod] = field(default_factory=list)


@dataclass
class NumericTargetView:
    """A numeric target the task reports values for (``name``: its indicator)."""

    id: int
    position: int
    name: str
    comparator: str | None
    value: float
    unit: str | None
    text: str


@dataclass
class ReadingView:
    id: int
    target_id: int
    indicator: str
    value: float
    unit: str | None
    reported_on: date
    event_id: int


@dataclass
class EventView:
    """One entry of the event log; ``at`` is UTC, ``at_local`` in the display zone."""

    id: int
    at: datetime
    at_local: datetime
    action: str
    action_label: str
    actor_role: str
    actor_role_label: str
    actor: str
    from_state: str | None
    to_state: str | None
    note: str | None
    data: dict[str, Any] | None


@dataclass
class ExtensionView:
    id: int
    status: str
    status_label: str
    requested_at: datetime
    requested_by: str
    reason: str
    current_due: date
    new_due: date
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str | None


@dataclass
class OtherTaskView:
    """Another department's task on the same measure and deadline."""

    id: int
    department: str
    named_as: str
    role: str
    role_label: str
    due: date
    state: TaskState
    state_label: str


@dataclass
class TaskDetail(TaskView):
    """Everything about one task: the listed fields, the measure, the others
    working on it, the event log, extension requests and indicator readings."""

    plan_title: str = ""
    measure_label: str = ""
    measure_text: str = ""
    item_source: str = ""  # a single 督办件's source, 文号 and instructing leader
    assigned_at: datetime | None = None
    acknowledged_at: datetime | None = None
    submitted_at: datetime | None = None
    approved_at: datetime | None = None
    version: int = 0
    numeric_targets: list[NumericTargetView] = field(default_factory=list)
    others: list[OtherTaskView] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)
    extensions: list[ExtensionView] = field(default_factory=list)
    readings: list[ReadingView] = field(default_factory=list)
    # A cancelled task's successor (已撤销, 由…接替) and the tasks this one replaces.
    replaced_by: int | None = None
    replaced_by_department: str = ""
    replaces: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: dates and datetimes as ISO 8601 strings, enums as values."""
        return jsonable(self)


@dataclass
class MeasureLight:
    """A measure's light: the worst of its tasks' (green when it has none)."""

    plan_id: int
    measure_id: int
    number: int
    title: str
    light: Light
    task_count: int
    counts: dict[Light, int]


def tasks_to_json(views: Sequence[TaskView]) -> list[dict[str, Any]]:
    """The ``duban tasks --json`` shape: one object per task."""
    return [jsonable(v) for v in views]


# --- facts -------------------------------------------------------------------


def local_date(moment: datetime, zone: tzinfo = LOCAL_ZONE) -> date:
    """The calendar day of an aware ``moment`` in ``zone``."""
    return moment.astimezone(zone).date()


def indicator_name(target: Target) -> str:
    """What a numeric target is called when values are reported: its indicator,
    else its text."""
    return target.indicator or target.text


def numeric_targets(task: Task, measure_targets: Iterable[Target]) -> list[Target]:
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
    task: Task,
    *,
    events: Iterable[TaskEvent],
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
        if e.task_id == task.id and e.action == Action.REPORT.value
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


# --- departments ---------------------------------------------------------------


def find_department(name: str, *, session: Session) -> Department:
    """The stored department a name or alias refers to.

    Raises NotFoundError naming ``name`` when the directory does not know it
    (a collective such as 各区 is not one department).
    """
    exact = session.scalars(select(Department).where(Department.name == name)).one_or_none()
    if exact is not None:  # an official name: no need to build the directory (~30 ms)
        return exact
    resolved = directory_from_db(session=session).resolve(name)
    if resolved is None:
        raise NotFoundError(f"机构目录中没有单位“{name}”(请检查名称,或先运行 duban org load)")
    return session.scalars(select(Department).where(Department.name == resolved.name)).one()


def _department_ids(name: str, *, session: Session) -> list[int]:
    """Ids of the department ``name`` names, or of every member of a collective."""
    directory = directory_from_db(session=session)
    if directory.is_collective(name):
        names = [d.name for d in directory.expand(name)]
        return list(session.scalars(select(Department.id).where(Department.name.in_(names))))
    return [find_department(name, session=session).id]


# --- queries -----------------------------------------------------------------


@dataclass
class _Related:
    """The rows status derivation needs, for a batch of tasks."""

    events: dict[int, list[TaskEvent]] = field(default_factory=lambda: defaultdict(list))
    extensions: dict[int, list[ExtensionRequest]] = field(default_factory=lambda: defaultdict(list))
    readings: dict[int, list[IndicatorReading]] = field(default_factory=lambda: defaultdict(list))
    targets: dict[int, list[Target]] = field(default_factory=lambda: defaultdict(list))


def _load_related(session: Session, task_ids: Select[Any], *, all_events: bool) -> _Related:
    """Events (report events only unless ``all_events``), extension requests,
    readings and the measures' numeric targets of the tasks ``task_ids`` selects."""
    related = _Related()
    event_query = select(TaskEvent).where(TaskEvent.task_id.in_(task_ids))
    if not all_events:
        event_query = event_query.where(TaskEvent.action == Action.REPORT.value)
    for event in session.scalars(event_query.order_by(TaskEvent.id)):
        related.events[event.task_id].append(event)
    for extension in session.scalars(
        select(ExtensionRequest)
        .where(ExtensionRequest.task_id.in_(task_ids))
        .order_by(ExtensionRequest.id)
    ):
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


def _facts(task: Task, related: _Related, zone: tzinfo) -> TaskFacts:
    return task_facts(
        task,
        events=related.events[task.id],
        extensions=related.extensions[task.id],
        targets=related.targets[task.measure_id],
        readings=related.readings[task.id],
        zone=zone,
    )


def _view(task: Task, related: _Related, assessment: Assessment, as_of: date) -> TaskView:
    state = TaskState(task.state)
    extensions = related.extensions[task.id]
    pending = [x.id for x in extensions if x.status == ExtensionStatus.PENDING]
    return TaskView(
        id=task.id,
        plan=task.measure.plan.key,
        plan_id=task.measure.plan_id,
        measure=task.measure.number,
        measure_id=task.measure_id,
        measure_title=task.measure.title,
        department=task.department.name,
        named_as=task.named_as,
        role=task.role,
        role_label=TASK_ROLE_LABELS.get(task.role, task.role),
        deadline=task.deadline,
        due=task.due,
        original_due=task.original_due,
        state=state,
        state_label=STATE_LABELS[state],
        status=assessment.status,
        status_label=STATUS_LABELS[assessment.status],
        light=assessment.light,
        # A cancelled task (已撤销) has no light of its own.
        light_label=(
            "" if assessment.status is TaskStatus.CANCELLED else LIGHT_LABELS[assessment.light]
        ),
        reasons=list(assessment.reasons),
        extended=any(x.status == ExtensionStatus.APPROVED for x in extensions),
        pending_extension=pending[0] if pending else None,
        as_of=as_of,
        missing_reports=list(assessment.missing_reports),
    )


def _task_query(
    session: Session,
    *,
    department: str | None,
    measure: int | None,
    plan: str | int | None,
) -> Select[Any]:
    """Tasks matching the filters, in plan, measure, deadline, role order.

    Raises NotFoundError for an unknown department, plan or measure.
    """
    query = select(Task).join(Task.measure).join(Measure.plan)
    if plan is not None or measure is not None:
        found = find_plan(plan, session=session)
        query = query.where(Measure.plan_id == found.id)
        if measure is not None:
            exists = session.scalar(
                select(Measure.id).where(Measure.plan_id == found.id, Measure.number == measure)
            )
            if exists is None:
                raise NotFoundError(f"工作方案“{found.key}”中没有第{measure}项措施")
            query = query.where(Measure.number == measure)
    if department is not None:
        query = query.where(Task.department_id.in_(_department_ids(department, session=session)))
    return query.order_by(Plan.id, Measure.number, Task.deadline, Task.role, Task.id)


_TASK_LOADS = (joinedload(Task.measure).joinedload(Measure.plan), joinedload(Task.department))


def _assess_all(
    session: Session,
    query: Select[Any],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    zone: tzinfo,
) -> list[TaskView]:
    tasks = session.scalars(query.options(*_TASK_LOADS)).all()
    if not tasks:
        return []
    # A paged query keeps its order, so the subquery selects the same tasks.
    paged = query._limit_clause is not None or query._offset_clause is not None
    ids = query.with_only_columns(Task.id)
    ids = ids if paged else ids.order_by(None)
    related = _load_related(session, ids, all_events=False)
    views = []
    for task in tasks:
        assessment = assess(_facts(task, related, zone), as_of, calendar, policy)
        views.append(_view(task, related, assessment, as_of))
    return views


def list_tasks(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    department: str | None = None,
    measure: int | None = None,
    plan: str | int | None = None,
    light: Light | None = None,
    overdue: bool = False,
    zone: tzinfo = LOCAL_ZONE,
    supporters_of: int | None = None,
) -> list[TaskView]:
    """Tasks with their status and light as of the day ``as_of``.

    Filters: ``department`` (official name or alias; a collective such as 各区
    means all its members), ``plan`` (key or id, see
    :func:`~duban.services.plans.catalog.find_plan`), ``measure`` (printed number; with
    no ``plan``, the only stored plan), ``light``, and ``overdue`` (status
    overdue only), ``supporters_of`` (a department id: the supporting tasks of
    the measures it leads, see ``duban.services.accounts.links.watched_by``). Ordered
    by plan, measure number, deadline, role (lead first). Raises NotFoundError
    for an unknown department, plan or measure, and CalendarError when a date
    involved lies outside the calendar.
    """
    policy = policy or StatusPolicy()
    with session_factory() as session:
        query = _task_query(session, department=department, measure=measure, plan=plan)
        if supporters_of is not None:
            query = query.where(watched_by(supporters_of))
        views = _assess_all(
            session, query, as_of=as_of, calendar=calendar, policy=policy, zone=zone
        )
    return _filtered(views, light=light, overdue=overdue)


def _filtered(views: list[TaskView], *, light: Light | None, overdue: bool) -> list[TaskView]:
    if light is not None:
        views = [v for v in views if v.light is light]
    if overdue:
        views = [v for v in views if v.status is TaskStatus.OVERDUE]
    return views


def task_page(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    offset: int,
    limit: int,
    department: str | None = None,
    measure: int | None = None,
    plan: str | int | None = None,
    light: Light | None = None,
    overdue: bool = False,
    zone: tzinfo = LOCAL_ZONE,
) -> Page[TaskView]:
    """``limit`` tasks of :func:`list_tasks` (same filters and order) from
    ``offset``, and how many match in all.

    The database counts and pages, so only the page's tasks are assessed:
    ``light`` and ``overdue`` (the day's red) filter on the light in SQL
    (:mod:`duban.services.tasks.light_sql`); where SQL cannot tell it, every
    task matching the other filters is assessed to find the page. Raises as
    :func:`list_tasks`.
    """
    with session_factory() as session:
        query = _task_query(session, department=department, measure=measure, plan=plan)
        if light is not None or overdue:
            rule = light_rule(session, as_of=as_of, calendar=calendar, zone=zone)
            if rule is None:
                views = list_tasks(session_factory, as_of=as_of, calendar=calendar,
                                   department=department, measure=measure, plan=plan,
                                   light=light, overdue=overdue, zone=zone)
                return Page(views[offset:offset + limit], len(views), offset, limit)
            if light is not None:
                query = query.where(rule.light == light.value)
            if overdue:
                query = query.where(rule.light == Light.RED.value)
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        views = _assess_all(session, query.offset(offset).limit(limit), as_of=as_of,
                            calendar=calendar, policy=StatusPolicy(), zone=zone)
    return Page(views, total or 0, offset, limit)


def measure_lights(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    plan: str | int | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> list[MeasureLight]:
    """Every measure of ``plan`` (the only plan when None) with its light as of
    ``as_of``: the worst of its tasks' lights, green for a measure without tasks.

    Raises NotFoundError when the plan is unknown (or none is named and there
    is not exactly one).
    """
    policy = policy or StatusPolicy()
    with session_factory() as session:
        found = find_plan(plan, session=session)
        measures = session.execute(
            select(Measure.id, Measure.number, Measure.title)
            .where(Measure.plan_id == found.id)
            .order_by(Measure.number)
        ).all()
        tasks = light_tasks(session, where=[Measure.plan_id == found.id], as_of=as_of,
                            calendar=calendar, zone=zone, policy=policy)
    by_measure: dict[int, list[Light]] = defaultdict(list)
    for task in tasks:
        if not task.cancelled:  # out of lights
            by_measure[task.measure_id].append(task.light)
    result = []
    for measure_id, number, title in measures:
        lights = by_measure.get(measure_id, [])
        result.append(
            MeasureLight(
                plan_id=found.id,
                measure_id=measure_id,
                number=number,
                title=title,
                light=worst_light(lights),
                task_count=len(lights),
                counts={light: lights.count(light) for light in Light},
            )
        )
    return result


def get_task(
    session_factory: sessionmaker[Session],
    *,
    task_id: int,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> TaskDetail:
    """One task in full as of the day ``as_of``.

    Raises NotFoundError naming the id when there is no such task, and
    CalendarError when a date involved lies outside the calendar.
    """
    policy = policy or StatusPolicy()
    with session_factory() as session:
        query = select(Task).join(Task.measure).join(Measure.plan).where(Task.id == task_id)
        task = session.scalars(query.options(*_TASK_LOADS)).one_or_none()
        if task is None:
            raise NotFoundError(f"找不到任务 #{task_id}(可用 duban tasks 查看任务列表)")
        related = _load_related(session, select(Task.id).where(Task.id == task_id), all_events=True)
        assessment = assess(_facts(task, related, zone), as_of, calendar, policy)
        base = _view(task, related, assessment, as_of)
        others = session.scalars(
            select(Task)
            .options(joinedload(Task.department))
            .where(
                Task.measure_id == task.measure_id,
                Task.deadline == task.deadline,
                Task.id != task.id,
            )
            .order_by(Task.role, Task.id)
        ).all()
        numeric = numeric_targets(task, related.targets[task.measure_id])
        names = {t.id: indicator_name(t) for t in related.targets[task.measure_id]}
        units = {t.id: t.unit for t in related.targets[task.measure_id]}
        return TaskDetail(
            **vars(base),
            plan_title=task.measure.plan.title,
            measure_label=task.measure.label,
            measure_text=task.measure.text,
            item_source=item_source_text(task.measure.source_kind, task.measure.doc_ref,
                                         task.measure.instructed_by),
            assigned_at=task.assigned_at,
            acknowledged_at=task.acknowledged_at,
            submitted_at=task.submitted_at,
            approved_at=task.approved_at,
            version=task.version,
            replaced_by=task.replaced_by_id,
            replaced_by_department=session.scalar(
                select(Department.name)
                .join(Task, Task.department_id == Department.id)
                .where(Task.id == task.replaced_by_id)
            )
            or "",
            replaces=list(
                session.scalars(
                    select(Task.id).where(Task.replaced_by_id == task.id).order_by(Task.id)
                )
            ),
            numeric_targets=[_numeric_view(t) for t in numeric],
            others=[_other_view(o) for o in others],
            events=[_event_view(e, zone) for e in related.events[task.id]],
            extensions=[_extension_view(x) for x in related.extensions[task.id]],
            readings=[
                ReadingView(
                    id=r.id,
                    target_id=r.target_id,
                    indicator=names.get(r.target_id, ""),
                    value=r.value,
                    unit=units.get(r.target_id),
                    reported_on=r.reported_on,
                    event_id=r.event_id,
                )
                for r in related.readings[task.id]
            ],
        )


def _numeric_view(target: Target) -> NumericTargetView:
    assert target.value is not None
    return NumericTargetView(
        id=target.id,
        position=target.position,
        name=indicator_name(target),
        comparator=target.comparator,
        value=target.value,
        unit=target.unit,
        text=target.text,
    )


def _other_view(task: Task) -> OtherTaskView:
    state = TaskState(task.state)
    return OtherTaskView(
        id=task.id,
        department=task.department.name,
        named_as=task.named_as,
        role=task.role,
        role_label=TASK_ROLE_LABELS.get(task.role, task.role),
        due=task.due,
        state=state,
        state_label=STATE_LABELS[state],
    )


def _event_view(event: TaskEvent, zone: tzinfo) -> EventView:
    try:
        action_label = ACTION_LABELS[Action(event.action)]
    except ValueError:
        action_label = event.action
    try:
        role_label = ROLE_LABELS[ActorRole(event.actor_role)]
    except ValueError:
        role_label = event.actor_role
    return EventView(
        id=event.id,
        at=event.at,
        at_local=event.at.astimezone(zone),
        action=event.action,
        action_label=action_label,
        actor_role=event.actor_role,
        actor_role_label=role_label,
        actor=event.actor,
        from_state=event.from_state,
        to_state=event.to_state,
        note=event.note,
        data=event.data,
    )


def _extension_view(row: ExtensionRequest) -> ExtensionView:
    return ExtensionView(
        id=row.id,
        status=row.status,
        status_label=EXTENSION_STATUS_LABELS.get(row.status, row.status),
        requested_at=row.requested_at,
        requested_by=row.requested_by,
        reason=row.reason,
        current_due=row.current_due,
        new_due=row.new_due,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_note=row.decision_note,
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
