"""One task in full (:func:`get_task`): its list view with the measure's text,
the times it changed state, its replacement, the other tasks of its measure and
deadline, numeric targets, events, extension requests and readings."""

from __future__ import annotations

from datetime import date, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.domain.errors import NotFoundError
from duban.domain.items import item_source_text
from duban.domain.status import StatusPolicy, assess
from duban.domain.workdays import WorkCalendar
from duban.services.tasks.facts import (
    LOCAL_ZONE,
    Related,
    facts_of,
    indicator_name,
    load_related,
    numeric_targets,
)
from duban.services.tasks.queries import TASK_LOADS, task_view
from duban.services.tasks.views import (
    ReadingView,
    TaskDetail,
    event_view,
    extension_view,
    numeric_view,
    other_view,
)
from models import Department, Measure, Task


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
        task = session.scalars(query.options(*TASK_LOADS)).one_or_none()
        if task is None:
            raise NotFoundError(f"找不到任务 #{task_id}(可用 duban tasks 查看任务列表)")
        related = load_related(
            session, select(Task.id).where(Task.id == task_id), actions=None
        )
        assessment = assess(facts_of(task, related, zone), as_of, calendar, policy)
        base = task_view(task, related, assessment, as_of)
        numeric = numeric_targets(task, related.targets[task.measure_id])
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
            replaced_by_department=_department_of(session, task.replaced_by_id),
            replaces=list(
                session.scalars(
                    select(Task.id).where(Task.replaced_by_id == task.id).order_by(Task.id)
                )
            ),
            numeric_targets=[numeric_view(t) for t in numeric],
            others=[other_view(o) for o in _others(session, task)],
            events=[event_view(e, zone) for e in related.events[task.id]],
            extensions=[extension_view(x) for x in related.extensions[task.id]],
            readings=_readings(task, related),
        )


def _others(session: Session, task: Task) -> list[Task]:
    """The other tasks of the task's measure and deadline, 牵头 first."""
    return list(session.scalars(
        select(Task)
        .options(joinedload(Task.department))
        .where(
            Task.measure_id == task.measure_id,
            Task.deadline == task.deadline,
            Task.id != task.id,
        )
        .order_by(Task.role, Task.id)
    ))


def _department_of(session: Session, task_id: int | None) -> str:
    """The department name of task ``task_id``; "" for None."""
    if task_id is None:
        return ""
    return session.scalar(
        select(Department.name)
        .join(Task, Task.department_id == Department.id)
        .where(Task.id == task_id)
    ) or ""


def _readings(task: Task, related: Related) -> list[ReadingView]:
    """The task's readings, each with its indicator's name and unit."""
    targets = related.targets[task.measure_id]
    names = {t.id: indicator_name(t) for t in targets}
    units = {t.id: t.unit for t in targets}
    return [
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
    ]

