"""What reading tasks returns: plain dataclasses, detached from the session,
for the CLI, the web and the JSON API, and the builders of their parts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, TypedDict

from duban.domain.labels import EXTENSION_STATUS_LABELS, TASK_ROLE_LABELS
from duban.domain.lifecycle import (
    ACTION_LABELS,
    ROLE_LABELS,
    STATE_LABELS,
    Action,
    ActorRole,
    TaskState,
)
from duban.domain.status import (
    LIGHT_LABELS,
    STATUS_LABELS,
    Assessment,
    Light,
    ReportPeriod,
    TaskStatus,
)
from duban.services.serialize import jsonable
from duban.services.tasks.facts import indicator_name
from models import (
    ExtensionRequest,
    Target,
    Task,
    TaskEvent,
)


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


class StatusFields(TypedDict):
    """A task's state, status and light with their labels, as a task view and a
    ledger row both carry them."""

    state: TaskState
    state_label: str
    status: TaskStatus
    status_label: str
    light: Light
    light_label: str
    reasons: list[str]


def status_fields(state: TaskState, assessment: Assessment) -> StatusFields:
    """``state`` and ``assessment`` with their labels; a cancelled task (已撤销)
    has no light label, having no light of its own."""
    return StatusFields(
        state=state,
        state_label=STATE_LABELS[state],
        status=assessment.status,
        status_label=STATUS_LABELS[assessment.status],
        light=assessment.light,
        light_label=(
            "" if assessment.status is TaskStatus.CANCELLED else LIGHT_LABELS[assessment.light]
        ),
        reasons=list(assessment.reasons),
    )


def tasks_to_json(views: Sequence[TaskView]) -> list[dict[str, Any]]:
    """The ``duban tasks --json`` shape: one object per task."""
    return [jsonable(v) for v in views]



def numeric_view(target: Target) -> NumericTargetView:
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


def other_view(task: Task) -> OtherTaskView:
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


def event_view(event: TaskEvent, zone: tzinfo) -> EventView:
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


def extension_view(row: ExtensionRequest) -> ExtensionView:
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

