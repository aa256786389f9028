"""One measure as supervisors drill into it: every responsible unit's task.

:func:`measure_detail` reads the measure (by id), its tasks as ledger rows
(:func:`duban.services.reports.ledger.load_ledger`: role, state, light and the reason,
latest progress, targets with the latest values, escalations, extensions) and,
when it has numeric targets, the indicator trajectories
(:func:`duban.services.reports.charts.load_trajectories`), all as of one day.

``show`` narrows the tasks to what a count on the dashboard counted
(:data:`SHOW_FILTERS`), so a count links to a list of exactly that many rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.items import item_source_text
from duban.domain.labels import EXTENSION_STATUS_LABELS
from duban.domain.lifecycle import TaskState
from duban.domain.status import LIGHT_LABELS, Light, StatusPolicy, TaskStatus, worst_light
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ledger import end_of_day, load_ledger
from duban.services.reports.ledger_model import LedgerRow
from duban.services.reports.trajectories import IndicatorPanel, load_trajectories
from duban.services.tasks.facts import LOCAL_ZONE, local_date
from models import ExtensionRequest, Measure

# What a dashboard count links to: (label, which rows it keeps).
SHOW_FILTERS: dict[str, str] = {
    "approved": "已办结",
    "submitted": "已报结待审核",
    "overdue": "已逾期",
}


_WORST_FIRST = {light: index for index, light in enumerate(Light)}


def shown(row: LedgerRow, show: str | None) -> bool:
    """Whether ``row`` is one of the rows ``show`` keeps (all when None)."""
    if show == "approved":
        return row.state is TaskState.APPROVED
    if show == "submitted":
        return row.state is TaskState.SUBMITTED
    if show == "overdue":
        return row.status is TaskStatus.OVERDUE
    return True


@dataclass(frozen=True)
class ExtensionLine:
    """One 延期申请 of a task, as the measure page lists it."""

    requested_on: date
    requested_by: str
    current_due: date
    new_due: date
    status_label: str
    reason: str
    decision_note: str | None


@dataclass
class MeasureDetail:
    """A measure and its tasks as of ``as_of`` (``rows`` after ``show``, the
    worst light first, then 牵头 before 配合, then the directory's order)."""

    id: int
    plan_key: str
    plan_title: str
    number: int
    title: str
    text: str
    section: str | None
    source: str
    leaders: list[str]
    as_of: date
    light: Light
    light_label: str
    rows: list[LedgerRow]
    total: int  # tasks before ``show``
    counts: dict[str, int] = field(default_factory=dict)  # rows each ``show`` keeps
    show: str | None = None
    panels: list[IndicatorPanel] = field(default_factory=list)
    extensions: dict[int, list[ExtensionLine]] = field(default_factory=dict)

    @property
    def show_label(self) -> str:
        return SHOW_FILTERS.get(self.show or "", "")

    @property
    def lead(self) -> list[str]:
        return [r.department for r in self.rows if r.role == "lead"]


def measure_detail(
    session_factory: sessionmaker[Session],
    measure_id: int,
    *,
    as_of: date,
    calendar: WorkCalendar,
    show: str | None = None,
    policy: StatusPolicy | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> MeasureDetail:
    """The measure ``measure_id`` as of ``as_of``; ``show`` one of
    :data:`SHOW_FILTERS` (anything else shows every task). Raises
    NotFoundError for an unknown measure."""
    chosen = show if show in SHOW_FILTERS else None
    with session_factory() as session:
        measure = session.get(
            Measure,
            measure_id,
            options=[joinedload(Measure.plan), joinedload(Measure.section)],
        )
        if measure is None:
            raise NotFoundError(f"找不到这项措施(编号 {measure_id})")
        ledger = load_ledger(
            session,
            as_of=as_of,
            calendar=calendar,
            policy=policy,
            plan=measure.plan_id,
            measure_id=measure.id,
            zone=zone,
        )
        try:
            _title, panels = load_trajectories(
                session, measure=measure.number, as_of=as_of, plan=measure.plan_id
            )
        except DubanError:  # no numeric target with tasks: no chart
            panels = []
        extensions = _extensions(session, [r.task_id for r in ledger.rows], as_of=as_of,
                                 zone=zone)
        light = worst_light(r.light for r in ledger.rows if not r.cancelled)
        return MeasureDetail(
            id=measure.id,
            plan_key=measure.plan.key,
            plan_title=measure.plan.title,
            number=measure.number,
            title=measure.title,
            text=measure.text,
            section=measure.section.heading if measure.section else None,
            source=item_source_text(measure.source_kind, measure.doc_ref, measure.instructed_by),
            leaders=list(measure.leaders or []),
            as_of=as_of,
            light=light,
            light_label=LIGHT_LABELS[light],
            rows=sorted(
                (r for r in ledger.rows if shown(r, chosen)),
                key=lambda r: (_WORST_FIRST[r.light], r.role != "lead",
                               ledger.department_key(r.department)),
            ),
            counts={key: sum(1 for r in ledger.rows if shown(r, key)) for key in SHOW_FILTERS},
            total=len(ledger.rows),
            show=chosen,
            panels=panels,
            extensions=extensions,
        )


def _extensions(
    session: Session, task_ids: list[int], *, as_of: date, zone: tzinfo
) -> dict[int, list[ExtensionLine]]:
    """The extension requests of ``task_ids`` asked by the end of ``as_of``,
    by task, oldest first."""
    extensions: dict[int, list[ExtensionLine]] = defaultdict(list)
    for request in session.scalars(
        select(ExtensionRequest)
        .where(
            ExtensionRequest.task_id.in_(task_ids),
            ExtensionRequest.requested_at < end_of_day(as_of, zone),
        )
        .order_by(ExtensionRequest.requested_at, ExtensionRequest.id)
    ):
        extensions[request.task_id].append(
            ExtensionLine(
                requested_on=local_date(request.requested_at, zone),
                requested_by=request.requested_by,
                current_due=request.current_due,
                new_due=request.new_due,
                status_label=EXTENSION_STATUS_LABELS.get(request.status, request.status),
                reason=request.reason,
                decision_note=request.decision_note,
            )
        )
    return dict(extensions)
