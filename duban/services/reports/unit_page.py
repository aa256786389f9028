"""One responsible unit as supervisors look at it: its tasks of every plan.

:func:`unit_detail` lists a department's tasks of every plan, or those a
scorecard count counted (``show``, one of :data:`UNIT_FILTERS`), a page at
a time, so each number on the scorecard page links to a list of exactly
that many tasks: the same rules as :mod:`duban.domain.scorecard` (tasks of
the counted roles due by the day, by their status class). The counts, the
order and the charts come from grouped SQL and the scorecard cells kept for
the day (:mod:`duban.services.reports.unit_sql`); only the page's tasks are
read as ledger rows. Where SQL cannot tell the lights or local days, the
department's whole ledger is read and counted row by row
(:func:`unit_in_python`, which the tests hold the SQL to).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import NotFoundError
from duban.domain.scorecard import ScoreWeights, status_class
from duban.domain.status import Light
from duban.domain.workdays import WorkCalendar
from duban.services.paging import PAGE_SIZE, Page
from duban.services.reports.ledger import build_ledger, department_order, load_ledger
from duban.services.reports.ledger_model import LedgerRow
from duban.services.reports.scorecard_kept import kept_rule
from duban.services.reports.summary_charts import ChartTasks
from duban.services.reports.unit_sql import (
    overdue_trend,
    page_ids,
    section_groups,
    unit_cells,
)
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import light_rule
from models import Department

# What a scorecard count links to: its key (a ScoreRow field) → the label.
UNIT_FILTERS: dict[str, str] = {
    "due": "计分到期",
    "on_time": "按期办结",
    "after_extension": "延期后办结",
    "late": "逾期办结",
    "overdue": "逾期未办结",
}
_WORST_FIRST = {light: index for index, light in enumerate(Light)}


def counted(row: LedgerRow, show: str | None, weights: ScoreWeights, as_of: date) -> bool:
    """Whether the scorecard counts ``row`` under ``show`` (every task when None)."""
    if show is None:
        return True
    if row.cancelled or row.role not in weights.task_roles or row.due > as_of:
        return False
    return show == "due" or status_class(row.status) == show


@dataclass
class UnitDetail:
    """A department's tasks as of ``as_of``: ``page``, a page of those
    ``show`` picks (worst light first, then by due date), ``total`` tasks in
    all, ``counts`` per filter, ``plans`` the ledger covers (a row names its
    plan when more than one) and what the charts draw (``chart``, of the
    department's tasks; ``trend`` when counted apart, see
    :func:`~duban.services.reports.summary_charts.ledger_charts`)."""

    name: str
    as_of: date
    page: Page[LedgerRow]
    total: int
    plans: int
    chart: ChartTasks
    trend: list[tuple[date, int]] | None = None
    show: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> list[LedgerRow]:
        return self.page.entries

    @property
    def show_label(self) -> str:
        return UNIT_FILTERS.get(self.show or "", "")


def unit_detail(
    session_factory: sessionmaker[Session],
    name: str,
    *,
    as_of: date,
    calendar: WorkCalendar,
    weights: ScoreWeights | None = None,
    show: str | None = None,
    zone: tzinfo = LOCAL_ZONE,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> UnitDetail:
    """The department named ``name`` (official name), ``limit`` of the tasks
    ``show`` picks from ``offset``. Raises NotFoundError when the directory
    has no such department, CalendarError when a date involved lies outside
    the calendar."""
    weights = weights or ScoreWeights()
    chosen = show if show in UNIT_FILTERS else None
    with session_factory() as session:
        department_id = session.scalar(select(Department.id).where(Department.name == name))
        if department_id is None:
            raise NotFoundError(f"找不到单位“{name}”")
        lights = light_rule(session, as_of=as_of, calendar=calendar, zone=zone)
        cells = None if lights is None else kept_rule(
            session, as_of=as_of, calendar=calendar, zone=zone, task_roles=weights.task_roles)
        if lights is not None and cells is not None:
            counted = unit_cells(session, cells, department_id)
            counts = {key: counted.count(key) for key in UNIT_FILTERS}
            total = counted.tasks
            shown = total if chosen is None else counts[chosen]
            ids = page_ids(session, lights, department_id,
                           None if chosen is None else counted.condition(chosen),
                           offset=offset, limit=limit)
            ledger = load_ledger(session, as_of=as_of, calendar=calendar, all_plans=True,
                                 task_ids=ids, zone=zone, next_steps=False)
            by_id = {row.task_id: row for row in ledger.rows}
            return UnitDetail(
                name=name,
                as_of=as_of,
                page=Page([by_id[i] for i in ids], shown, offset, limit),
                total=total,
                plans=len(ledger.plans),
                chart=ChartTasks(as_of, section_groups(session, lights, department_id, name),
                                 department_order(session)),
                trend=overdue_trend(session, lights, department_id, zone),
                show=chosen,
                counts=counts,
            )
    return unit_in_python(session_factory, name, department_id, as_of=as_of,
                          calendar=calendar, weights=weights, show=chosen, zone=zone,
                          offset=offset, limit=limit)


def unit_in_python(
    session_factory: sessionmaker[Session],
    name: str,
    department_id: int,
    *,
    as_of: date,
    calendar: WorkCalendar,
    weights: ScoreWeights,
    show: str | None,
    zone: tzinfo = LOCAL_ZONE,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> UnitDetail:
    """:func:`unit_detail` from the department's whole ledger, every task
    assessed and counted in Python (``show`` one of UNIT_FILTERS or None)."""
    ledger = build_ledger(
        session_factory,
        as_of=as_of,
        calendar=calendar,
        all_plans=True,
        department_ids=[department_id],
        zone=zone,
    )
    rows = sorted(
        (r for r in ledger.rows if counted(r, show, weights, as_of)),
        key=lambda r: (_WORST_FIRST[r.light], r.due, r.plan, r.measure),
    )
    return UnitDetail(
        name=name,
        as_of=as_of,
        page=Page(rows[offset:offset + limit], len(rows), offset, limit),
        total=len(ledger.rows),
        plans=len(ledger.plans),
        chart=ChartTasks(ledger.as_of, ledger.rows, ledger.department_order),
        show=show,
        counts={
            key: sum(1 for r in ledger.rows if counted(r, key, weights, as_of))
            for key in UNIT_FILTERS
        },
    )
