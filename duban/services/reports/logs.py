"""What supervisors review: the escalation log and the delivery log.

:mod:`~duban.services.reports.escalation_log` and
:mod:`~duban.services.reports.delivery_log` each return every matching entry
(the API and the CLI), one page of at most :data:`~duban.services.paging.PAGE_SIZE` entries and the
number matching, filtered and counted in the database, for the pages people
read, and one entry by id. Recipients are named with their role (联络员,
单位负责人, 督办科, 督查室); the address appears only in its privacy form (the
secret hidden). This module holds what both logs share.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

Row = TypeVarTuple("Row")


def local_iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """``moment`` in ``zone`` as ISO text to the minute, or None."""
    return moment.astimezone(zone).isoformat(timespec="minutes") if moment else None


def read_page(
    session: Session,
    query: Select[*Row],
    offset: int,
    limit: int,
    *,
    counted: Select[int] | None = None,
) -> tuple[int, list[Any]]:
    """How many rows ``query`` matches, and its rows from ``offset`` (at most
    ``limit``). ``counted``: a cheaper statement of that number, if the caller
    has one (else ``query`` is counted as a subquery)."""
    if counted is None:
        counted = select(func.count()).select_from(query.order_by(None).subquery())
    total = session.scalar(counted)
    return total or 0, list(session.execute(query.offset(offset).limit(limit)).all())
