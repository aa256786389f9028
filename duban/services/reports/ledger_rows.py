"""One ledger row: a task with its measure, status, history and next step.

:meth:`LedgerRelated.load` reads the rows every task of a ledger needs besides
itself (events, extensions, targets, readings, escalations, ladder steps and
policies, responsible units) in a fixed handful of queries; :func:`ledger_row`
makes a task's :class:`~duban.services.reports.ledger_model.LedgerRow` of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, TypedDict

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from duban.domain.escalation import DEFAULT_POLICY, EscalationPolicy, TaskTimeline
from duban.domain.items import item_source_text
from duban.domain.labels import EXTENSION_STATUS_LABELS, LEVEL_LABELS, TASK_ROLE_LABELS
from duban.domain.lifecycle import Action, TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.status import Assessment, StatusPolicy, TaskFacts, assess, missing_reports
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
    Related,
    indicator_name,
    load_related,
    local_date,
    numeric_targets,
    task_facts,
)
from duban.services.tasks.views import status_fields
from models import ExtensionRequest, Measure, Notice, Responsibility, Target, Task, TaskEvent


@dataclass
class LedgerRelated(Related):
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
    # What the domain concluded, once per distinct set of facts: many tasks
    # share them (same dates, same state), and the domain's functions are pure.
    assessed: dict[TaskFacts, tuple[Assessment, int]] = field(default_factory=dict)
    ahead: dict[tuple[TaskTimeline, int, frozenset[str]], str] = field(default_factory=dict)
    _numeric: dict[tuple[int, date], list[Target]] = field(default_factory=dict)
    _mine: dict[tuple[int, date], list[Target]] = field(default_factory=dict)
    _measures: dict[int, _MeasureFields] = field(default_factory=dict)

    def numeric(self, task: Task) -> list[Target]:
        """The task's numeric targets (:func:`numeric_targets`), once per measure
        and deadline; :func:`task_facts` picks the same of them as of all the
        measure's targets."""
        key = (task.measure_id, task.deadline)
        found = self._numeric.get(key)
        if found is None:
            found = self._numeric[key] = numeric_targets(task, self.targets[task.measure_id])
        return found

    def targets_of(self, measure_id: int, deadline: date) -> list[Target]:
        """The measure's targets of ``deadline``: all of them when none is dated."""
        key = (measure_id, deadline)
        found = self._mine.get(key)
        if found is None:
            targets = self.targets[measure_id]
            dated = any(t.due is not None for t in targets)
            found = self._mine[key] = [t for t in targets if not dated or t.due == deadline]
        return found

    def measure_fields(self, measure: Measure) -> _MeasureFields:
        """:func:`_measure_fields` once per measure (the lists copied per row)."""
        found = self._measures.get(measure.id)
        if found is None:
            found = self._measures[measure.id] = _measure_fields(
                measure, self.responsibilities[measure.id]
            )
        fields = found.copy()
        fields["lead_departments"] = list(found["lead_departments"])
        fields["supporting_departments"] = list(found["supporting_departments"])
        return fields

    @classmethod
    def load(cls, session: Session, task_ids: Select[Any], *, until: datetime) -> LedgerRelated:
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


def ledger_row(
    task: Task,
    related: LedgerRelated,
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
        targets=related.numeric(task),
        readings=related.readings[task.id],
        zone=zone,
    )
    judged = related.assessed.get(facts)
    if judged is None:
        judged = related.assessed[facts] = (
            assess(facts, as_of, calendar, policy),
            # Counted for overdue tasks too (assess stops at "overdue").
            len(missing_reports(facts, as_of, calendar, policy)),
        )
    assessment, missing = judged
    state = TaskState(task.state)
    return LedgerRow(
        task_id=task.id,
        **related.measure_fields(measure),
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
        **_reports_fields(events, as_of, zone),
        missing_reports=missing,
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


def _measure_fields(measure: Measure, responsibilities: list[Responsibility]) -> _MeasureFields:
    """What a row says of the task's measure: its plan, section, source and units."""
    return _MeasureFields(
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
    )


class _ReportsFields(TypedDict):
    latest_progress: str | None
    latest_progress_on: date | None
    report_count: int


def _reports_fields(events: list[TaskEvent], as_of: date, zone: tzinfo) -> _ReportsFields:
    """The progress reports up to ``as_of``: the latest's text and day, and how many."""
    reports = [
        e for e in events if e.action == Action.REPORT.value and local_date(e.at, zone) <= as_of
    ]
    latest = reports[-1] if reports else None
    return _ReportsFields(
        latest_progress=_progress_text(latest) if latest else None,
        latest_progress_on=local_date(latest.at, zone) if latest else None,
        report_count=len(reports),
    )


def _full_name(responsibility: Responsibility) -> str:
    """The directory's full name of a responsible unit; a collective (各区)
    as the plan wrote it."""
    department = responsibility.department
    return department.name if department is not None else responsibility.named_as


def _next_step(
    task: Task,
    facts: TaskFacts,
    related: LedgerRelated,
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
    ladder = related.policies.get(task.id, DEFAULT_POLICY)
    done = frozenset(related.steps[task.id])
    # The policies are the few versions LedgerRelated.load read, alive as long as it.
    key = (timeline, id(ladder), done)
    found = related.ahead.get(key)
    if found is None:
        ahead = upcoming_steps(timeline, ladder, calendar, today=as_of, done=done, limit=1)
        found = related.ahead[key] = f"{ahead[0].when} {ahead[0].label}" if ahead else ""
    return found


def _targets(task: Task, related: LedgerRelated, as_of: date) -> list[TargetLine]:
    """The measure's targets of the task's deadline (all of them when the
    measure has no dated target), with the latest reading up to ``as_of``."""
    mine = related.targets_of(task.measure_id, task.deadline)
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
