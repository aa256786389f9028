"""One responsible unit as supervisors look at it: its tasks of every plan.

:func:`unit_detail` reads the ledger of every plan for one department and
keeps the tasks a scorecard count counted (``show``, one of
:data:`UNIT_FILTERS`), so each number on the scorecard page links to a list
of exactly that many tasks: the same rules as :mod:`duban.domain.scorecard`
(tasks of the counted roles due by the day, by their status class).
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
from duban.services.reports.ledger import build_ledger
from duban.services.reports.ledger_model import Ledger, LedgerRow
from duban.services.tasks.facts import LOCAL_ZONE
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
    """A department's tasks as of ``as_of`` (``rows`` after ``show``: worst
    light first, then by due date), ``counts`` per filter, the ledger read."""

    name: str
    as_of: date
    rows: list[LedgerRow]
    total: int
    ledger: Ledger
    show: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

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
) -> UnitDetail:
    """The department named ``name`` (official name). Raises NotFoundError
    when the directory has no such department."""
    weights = weights or ScoreWeights()
    chosen = show if show in UNIT_FILTERS else None
    with session_factory() as session:
        department_id = session.scalar(select(Department.id).where(Department.name == name))
    if department_id is None:
        raise NotFoundError(f"找不到单位“{name}”")
    ledger = build_ledger(
        session_factory,
        as_of=as_of,
        calendar=calendar,
        all_plans=True,
        department_ids=[department_id],
        zone=zone,
    )
    rows = sorted(
        (r for r in ledger.rows if counted(r, chosen, weights, as_of)),
        key=lambda r: (_WORST_FIRST[r.light], r.due, r.plan, r.measure),
    )
    return UnitDetail(
        name=name,
        as_of=as_of,
        rows=rows,
        total=len(ledger.rows),
        ledger=ledger,
        show=chosen,
        counts={
            key: sum(1 for r in ledger.rows if counted(r, key, weights, as_of))
            for key in UNIT_FILTERS
        },
    )
