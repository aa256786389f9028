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
from collections.abc import Callable, Sequence
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, joinedload, sessionmaker
from sqlalchemy.sql.util import find_tables

from duban.domain.errors import NotFoundError
from duban.domain.labels import TASK_ROLE_LABELS
from duban.domain.lifecycle import (
    ExtensionStatus,
    TaskState,
)
from duban.domain.status import (
    Assessment,
    Light,
    StatusPolicy,
    TaskStatus,
    assess,
    worst_light,
)
from duban.domain.workdays import WorkCalendar
from duban.services.accounts.directory import directory_from_db
from duban.services.accounts.links import watched_by
from duban.services.paging import Page
from duban.services.plans.catalog import find_plan
from duban.services.tasks.facts import (
    LOCAL_ZONE,
    Related,
    facts_of,
    load_related,
)
from duban.services.tasks.light_sql import light_rule
from duban.services.tasks.lights import light_tasks
from duban.services.tasks.views import (
    MeasureLight,
    TaskView,
    status_fields,
)
from models import (
    Department,
    Measure,
    Plan,
    Task,
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



def task_view(task: Task, related: Related, assessment: Assessment, as_of: date) -> TaskView:
    """The task as listed, with its status and light as ``assessment`` found them."""
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
        **status_fields(state, assessment),
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


def _count_query(query: Select[Any]) -> Select[int]:
    """How many tasks :func:`_task_query`'s ``query`` (with any conditions
    added) matches, joining measures only when its conditions name measures or
    plans: every task has its measure and every measure its plan (not-null
    foreign keys), so those joins drop no row; counting through them made
    PostgreSQL hash every task and measure."""
    where = query.whereclause
    named = set(find_tables(where, check_columns=True)) if where is not None else set()
    count = select(func.count()).select_from(Task)
    if named & {Measure.__table__, Plan.__table__}:
        count = count.join(Measure, Measure.id == Task.measure_id)
    if Plan.__table__ in named:
        count = count.join(Plan, Plan.id == Measure.plan_id)
    return count if where is None else count.where(where)


# What a task view reads with each task.
TASK_LOADS = (joinedload(Task.measure).joinedload(Measure.plan), joinedload(Task.department))


def _assess_all(
    session: Session,
    query: Select[Any],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    zone: tzinfo,
) -> list[TaskView]:
    tasks = session.scalars(query.options(*TASK_LOADS)).all()
    if not tasks:
        return []
    paged = query._limit_clause is not None or query._offset_clause is not None
    if paged:
        # The page's ids as bound values: the paged query again as a subquery
        # would sort (and light) every matching task once per related table.
        ids = select(Task.id).where(Task.id.in_([t.id for t in tasks]))
    else:
        ids = query.with_only_columns(Task.id).order_by(None)
    related = load_related(session, ids)
    views = []
    for task in tasks:
        assessment = assess(facts_of(task, related, zone), as_of, calendar, policy)
        views.append(task_view(task, related, assessment, as_of))
    return views


def task_views(
    session_factory: sessionmaker[Session],
    ids: Sequence[int],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> list[TaskView]:
    """The tasks ``ids`` as :func:`list_tasks` shows them, in the order given
    (ids of no task left out)."""
    if not ids:
        return []
    with session_factory() as session:
        query = select(Task).join(Task.measure).join(Measure.plan).where(Task.id.in_(ids))
        views = _assess_all(session, query, as_of=as_of, calendar=calendar,
                            policy=policy or StatusPolicy(), zone=zone)
    by_id = {v.id: v for v in views}
    return [by_id[i] for i in ids if i in by_id]


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
    where: Callable[[Session], Sequence[ColumnElement[bool]]] | None = None,
) -> list[TaskView]:
    """Tasks with their status and light as of the day ``as_of``.

    Filters: ``department`` (official name or alias; a collective such as 各区
    means all its members), ``plan`` (key or id, see
    :func:`~duban.services.plans.catalog.find_plan`), ``measure`` (printed number; with
    no ``plan``, the only stored plan), ``light``, and ``overdue`` (status
    overdue only), ``supporters_of`` (a department id: the supporting tasks of
    the measures it leads, see ``duban.services.accounts.links.watched_by``),
    ``where`` (a function of the session giving more conditions on Task: only
    the tasks they pick are read and assessed). Ordered by plan, measure
    number, deadline, role (lead first). Raises NotFoundError for an unknown
    department, plan or measure, and CalendarError when a date involved lies
    outside the calendar.
    """
    policy = policy or StatusPolicy()
    with session_factory() as session:
        query = _task_query(session, department=department, measure=measure, plan=plan)
        if supporters_of is not None:
            query = query.where(watched_by(supporters_of))
        if where is not None:
            query = query.where(*where(session))
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
                query = query.where(rule.matches(light))
            if overdue:
                query = query.where(rule.matches(Light.RED))
        total = session.scalar(_count_query(query))
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
