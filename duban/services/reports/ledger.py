"""The ledger (台账): every task as one row, with its history, as of a day.

:func:`build_ledger` (or :func:`load_ledger` inside an open session) reads the
tasks of one plan, or of every plan, in a fixed handful of queries and returns
a :class:`Ledger`: rows in plan, measure, deadline, role order, each with the
task's status and light on ``as_of`` (derived as in
:mod:`duban.services.tasks.queries`), and its history up to the end of ``as_of``:
progress reports, extension requests, escalations (ladder steps of level ≥ 1
that were not superseded) and completion. Summaries per section and per
department count the rows (:mod:`duban.services.reports.ledger_model`). The
workbook and CSV are written by
:mod:`duban.services.reports.ledger_files`; the scorecard, the weekly digest and the
calendar feeds read the same rows.
"""


from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.domain.escalation import DEFAULT_POLICY, EscalationPolicy, TaskTimeline
from duban.domain.items import item_source_text
from duban.domain.labels import (
    EXTENSION_STATUS_LABELS,
    LEVEL_LABELS,
    TASK_ROLE_LABELS,
)
from duban.domain.lifecycle import Action, TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.status import (
    StatusPolicy,
    TaskFacts,
    assess,
    missing_reports,
)
from duban.domain.workdays import WorkCalendar
from duban.services.accounts.org import org_settings
from duban.services.ladder.core import policy_for
from duban.services.ladder.outlook import upcoming_steps
from duban.services.plans.catalog import find_plan
from duban.services.reports.ledger_model import (
    DEFAULT_ISSUER,
    NO_SECTION,
    EscalationMark,
    Ledger,
    LedgerRow,
    TargetLine,
    number_text,
)
from duban.services.tasks.facts import (
    LOCAL_ZONE,
    Related,
    indicator_name,
    load_related,
    local_date,
    task_facts,
)
from duban.services.tasks.views import status_fields
from models import (
    Department,
    ExtensionRequest,
    Measure,
    Notice,
    Plan,
    Responsibility,
    Task,
    TaskEvent,
)

# --- loading -------------------------------------------------------------------


def build_ledger(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    plan: str | int | None = None,
    all_plans: bool = False,
    department_ids: Sequence[int] | None = None,
    measure_id: int | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> Ledger:
    """The ledger of ``plan`` (key or id; None: the only plan, or every plan
    with ``all_plans``) as of the day ``as_of``; see :func:`load_ledger`."""
    with session_factory() as session:
        return load_ledger(
            session,
            as_of=as_of,
            calendar=calendar,
            policy=policy,
            plan=plan,
            all_plans=all_plans,
            department_ids=department_ids,
            measure_id=measure_id,
            zone=zone,
        )


def load_ledger(
    session: Session,
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    plan: str | int | None = None,
    all_plans: bool = False,
    department_ids: Sequence[int] | None = None,
    measure_id: int | None = None,
    zone: tzinfo = LOCAL_ZONE,
    states: Collection[str] | None = None,
) -> Ledger:
    """The ledger read in ``session`` (read only).

    ``department_ids`` keeps only those departments' tasks, ``measure_id``
    only that measure's (of ``plan``, or of any plan with ``all_plans``),
    ``states`` only the tasks in those states. Raises
    NotFoundError for an unknown plan, DubanError when no plan is named, not
    ``all_plans``, and several are stored, and CalendarError when a date
    involved lies outside the calendar.
    """
    policy = policy or StatusPolicy()
    query = select(Task).join(Task.measure).join(Measure.plan)
    if all_plans and plan is None:
        plans = list(session.scalars(select(Plan).order_by(Plan.id)))
    else:
        found = find_plan(plan, session=session)
        plans = [found]
        query = query.where(Measure.plan_id == found.id)
    if department_ids is not None:
        query = query.where(Task.department_id.in_(list(department_ids)))
    if measure_id is not None:
        query = query.where(Task.measure_id == measure_id)
    if states is not None:
        query = query.where(Task.state.in_(list(states)))
    query = query.order_by(Plan.id, Measure.number, Task.deadline, Task.role, Task.id)
    ledger = Ledger(
        as_of=as_of,
        plans=[(p.key, p.title) for p in plans],
        department_order=department_order(session),
        issuer=org_settings(session).documents.issuer or DEFAULT_ISSUER,
    )
    tasks = session.scalars(
        query.options(
            joinedload(Task.measure).joinedload(Measure.plan),
            joinedload(Task.measure).joinedload(Measure.section),
            joinedload(Task.department),
        )
    ).all()
    if not tasks:
        return ledger
    ids = query.with_only_columns(Task.id).order_by(None)
    related = _Related.load(session, ids, until=end_of_day(as_of, zone))
    for task in tasks:
        ledger.rows.append(_row(task, related, as_of, calendar, policy, zone))
    # Within a measure and deadline: 牵头 first, then the directory's order.
    plan_order = {key: index for index, (key, _title) in enumerate(ledger.plans)}
    ledger.rows.sort(
        key=lambda r: (
            plan_order.get(r.plan, 0),
            r.measure,
            r.deadline,
            r.role != "lead",
            ledger.department_key(r.department),
            r.task_id,
        )
    )
    return ledger


def department_order(session: Session) -> dict[str, int]:
    """The directory's order (机构序列) of the departments: name → position.
    Departments are stored in the order the directory file lists them."""
    names = session.scalars(select(Department.name).order_by(Department.id))
    return {name: index for index, name in enumerate(names)}


def end_of_day(day: date, zone: tzinfo) -> datetime:
    """The moment ``day`` ends in ``zone`` (the next day's midnight)."""
    return datetime.combine(day + timedelta(days=1), time.min, zone)


@dataclass
class _Related(Related):
    """The rows a ledger needs besides the tasks, grouped by task or measure:
    the task list's (:class:`~duban.services.tasks.facts.Related`) and more."""

    notices: dict[int, list[Notice]] = field(default_factory=lambda: defaultdict(list))
    responsibilities: dict[int, list[Responsibility]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # Every step recorded per task (sent or not: the ladder's "done"), and the
    # ladder of each task.
    steps: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    policies: dict[int, EscalationPolicy] = field(default_factory=dict)
    until: datetime | None = None

    @classmethod
    def load(cls, session: Session, task_ids: Select[Any], *, until: datetime) -> _Related:
        """Everything of the tasks ``task_ids`` selects; history before ``until``."""
        related = cls(until=until)
        load_related(
            session,
            task_ids,
            actions=(Action.REPORT.value, Action.SUBMIT.value, Action.APPROVE.value),
            events_by_time=True,
            extensions_before=until,
            into=related,
        )
        for notice in session.scalars(
            select(Notice)
            .where(
                Notice.task_id.in_(task_ids),
                Notice.level >= 1,
                Notice.status != NoticeStatus.SUPERSEDED,
                Notice.due_at < until,
            )
            .order_by(Notice.due_at, Notice.id)
        ):
            related.notices[notice.task_id].append(notice)
        for task_id, step in session.execute(
            select(Notice.task_id, Notice.step).where(
                Notice.task_id.in_(task_ids), Notice.created_at < until
            )
        ):
            related.steps[task_id].add(step)
        # A few policy versions for many tasks: each read once (the identity
        # map keeps no row that nothing holds, so policy_for would query each time).
        versions: dict[int | None, EscalationPolicy] = {}
        for task_id, policy_id in session.execute(
            select(Task.id, Task.policy_id).where(Task.id.in_(task_ids))
        ):
            if policy_id not in versions:
                versions[policy_id] = policy_for(session, policy_id)
            related.policies[task_id] = versions[policy_id]
        measure_ids = select(Task.measure_id).where(Task.id.in_(task_ids))
        for responsibility in session.scalars(
            select(Responsibility)
            .options(joinedload(Responsibility.department))
            .where(Responsibility.measure_id.in_(measure_ids))
            .order_by(Responsibility.position, Responsibility.id)
        ):
            related.responsibilities[responsibility.measure_id].append(responsibility)
        return related


def _row(
    task: Task,
    related: _Related,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy,
    zone: tzinfo,
) -> LedgerRow:
    measure = task.measure
    events = related.events[task.id]
    extensions = related.extensions[task.id]
    facts = task_facts(
        task,
        events=events,
        extensions=extensions,
        targets=related.targets[task.measure_id],
        readings=related.readings[task.id],
        zone=zone,
    )
    assessment = assess(facts, as_of, calendar, policy)
    reports = [
        e for e in events if e.action == Action.REPORT.value and local_date(e.at, zone) <= as_of
    ]
    latest = reports[-1] if reports else None
    responsibilities = related.responsibilities[task.measure_id]
    state = TaskState(task.state)
    return LedgerRow(
        task_id=task.id,
        plan=measure.plan.key,
        plan_title=measure.plan.title,
        section=measure.section.heading if measure.section else NO_SECTION,
        section_number=measure.section.number if measure.section else None,
        measure=measure.number,
        measure_id=measure.id,
        measure_title=measure.title,
        item_source=item_source_text(measure.source_kind, measure.doc_ref, measure.instructed_by),
        lead_departments=[_full_name(r) for r in responsibilities if r.role == "lead"],
        supporting_departments=[
            _full_name(r) for r in responsibilities if r.role == "supporting"
        ],
        department=task.department.name,
        named_as=task.named_as,
        role=task.role,
        role_label=TASK_ROLE_LABELS.get(task.role, task.role),
        targets=_targets(task, related, as_of),
        deadline=task.deadline,
        due=task.due,
        original_due=task.original_due if task.original_due != task.due else None,
        **status_fields(state, assessment),
        assigned_on=local_date(task.assigned_at, zone),
        acknowledged_on=local_date(task.acknowledged_at, zone) if task.acknowledged_at else None,
        latest_progress=_progress_text(latest) if latest else None,
        latest_progress_on=local_date(latest.at, zone) if latest else None,
        report_count=len(reports),
        # Counted for overdue tasks too (assess stops at "overdue").
        missing_reports=len(missing_reports(facts, as_of, calendar, policy)),
        extensions=[_extension_text(x) for x in extensions],
        escalations=[
            EscalationMark(
                n.level, LEVEL_LABELS.get(n.level, f"{n.level}级"), local_date(n.due_at, zone)
            )
            for n in related.notices[task.id]
        ],
        submitted_on=facts.submitted_on,
        completed_on=(
            local_date(task.approved_at, zone)
            if state is TaskState.APPROVED and task.approved_at
            else None
        ),
        facts=facts,
        next_step=_next_step(task, facts, related, as_of, calendar, zone),
    )


def _full_name(responsibility: Responsibility) -> str:
    """The directory's full name of a responsible unit; a collective (各区)
    as the plan wrote it."""
    department = responsibility.department
    return department.name if department is not None else responsibility.named_as


def _next_step(
    task: Task,
    facts: TaskFacts,
    related: _Related,
    as_of: date,
    calendar: WorkCalendar,
    zone: tzinfo,
) -> str:
    timeline = TaskTimeline(
        state=facts.state,
        assigned_on=facts.assigned_on,
        due=facts.due,
        acknowledged_on=local_date(task.acknowledged_at, zone) if task.acknowledged_at else None,
        report_dates=facts.report_dates,
    )
    ahead = upcoming_steps(
        timeline,
        related.policies.get(task.id, DEFAULT_POLICY),
        calendar,
        today=as_of,
        done=frozenset(related.steps[task.id]),
        limit=1,
    )
    return f"{ahead[0].when} {ahead[0].label}" if ahead else ""


def _targets(task: Task, related: _Related, as_of: date) -> list[TargetLine]:
    """The measure's targets of the task's deadline (all of them when the
    measure has no dated target), with the latest reading up to ``as_of``."""
    targets = related.targets[task.measure_id]
    dated = any(t.due is not None for t in targets)
    mine = [t for t in targets if not dated or t.due == task.deadline]
    lines = []
    for target in mine:
        readings = [
            r
            for r in related.readings[task.id]
            if r.target_id == target.id and r.reported_on <= as_of
        ]
        last = readings[-1] if readings else None
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


def _progress_text(event: TaskEvent) -> str:
    note = (event.note or "").strip()
    values = (event.data or {}).get("values") or {}
    if values:
        shown = ";".join(f"{name}:{number_text(value)}" for name, value in values.items())
        note = f"{note}({shown})" if note else shown
    return note


def _extension_text(row: ExtensionRequest) -> str:
    label = EXTENSION_STATUS_LABELS.get(row.status, row.status)
    return f"{row.current_due.isoformat()}→{row.new_due.isoformat()}({label})"
