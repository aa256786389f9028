"""What the calendar knows: which years and from where, which open tasks
depend on a year that is not known yet (a ladder step waiting, 待日历公布, or a
due date counted Monday to Friday under the opt-in weekend fallback), and the
dashboard's warning when next year's arrangement is still missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import (
    calendar_sources,
)
from duban.services.calendar.due_dates import (
    LIVE_STATES,
)
from models import Target, Task


@dataclass(frozen=True)
class YearSource:
    year: int
    source: str


@dataclass
class CalendarStatus:
    """Known years with their sources; open tasks waiting for an unknown year."""

    years: list[YearSource]
    directory: str  # where ``duban calendar import`` writes
    waiting: dict[int, list[int]] = field(default_factory=dict)  # year -> task ids
    fallback_due: dict[int, list[int]] = field(default_factory=dict)  # year -> task ids
    # year -> measures not yet assigned with a target due that year (交办 waits for it)
    unassigned: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "years": [{"year": y.year, "source": y.source} for y in self.years],
            "directory": self.directory,
            "waiting": {str(k): v for k, v in sorted(self.waiting.items())},
            "fallback_due": {str(k): v for k, v in sorted(self.fallback_due.items())},
            "unassigned": {str(k): v for k, v in sorted(self.unassigned.items())},
        }


def calendar_status(
    session_factory: sessionmaker[Session], *, settings: Settings, calendar: WorkCalendar
) -> CalendarStatus:
    """See the module doc. Reads only."""
    years = []
    for year in calendar.years:
        notice = calendar.notice(year)
        years.append(YearSource(year, notice.source if notice else ""))
    status = CalendarStatus(years=years, directory=calendar_sources(settings).hint)
    with session_factory() as session:
        rows = session.execute(
            select(Task.id, Task.calendar_wait_year, Task.due)
            .where(Task.state.in_(LIVE_STATES))
            .order_by(Task.id)
        ).all()
        targets = session.execute(
            select(Target.measure_id, Target.due).where(
                Target.due.is_not(None),
                ~select(Task.id).where(Task.measure_id == Target.measure_id).exists(),
            )
        ).all()
    for task_id, wait_year, due in rows:
        if wait_year is not None and not calendar.covers(wait_year):
            status.waiting.setdefault(wait_year, []).append(task_id)
        if not calendar.covers(due.year):
            status.fallback_due.setdefault(due.year, []).append(task_id)
    measures: dict[int, set[int]] = {}
    for measure_id, target_due in targets:
        if target_due is not None and not calendar.covers(target_due.year):
            measures.setdefault(target_due.year, set()).add(measure_id)
    status.unassigned = {year: len(ids) for year, ids in sorted(measures.items())}
    return status


@dataclass(frozen=True)
class NextYearWarning:
    """From 1 November: next year's holidays are not known and work depends on them."""

    year: int
    waiting_tasks: int  # open tasks with a step waiting for the year (待日历公布)
    measures: int  # measures with a target due in the year or later, not yet assigned

    @property
    def text(self) -> str:
        parts = []
        if self.waiting_tasks:
            parts.append(f"{self.waiting_tasks} 项任务的后续提醒或催办日期待日历公布")
        if self.measures:
            parts.append(
                f"{self.measures} 项措施的完成时限在{self.year}年及以后,导入该年日历后才能交办"
            )
        return (
            f"{self.year}年节假日安排尚未导入:" + ";".join(parts) + "。国务院办公厅发布通知后,"
            "请运行 duban calendar import 导入该年安排(本系统 YAML 或 holiday-cn JSON)。"
        )


def next_year_warning(
    session_factory: sessionmaker[Session], *, calendar: WorkCalendar, today: date
) -> NextYearWarning | None:
    """The banner the dashboard shows from 1 November while next year is not
    covered and open tasks wait for it or unassigned targets are due in it."""
    if today.month < 11:
        return None
    year = today.year + 1
    if calendar.covers(year):
        return None
    with session_factory() as session:
        waiting = session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.state.in_(LIVE_STATES), Task.calendar_wait_year == year)
        ) or 0
        measures = session.scalar(
            select(func.count(func.distinct(Target.measure_id))).where(
                Target.due >= date(year, 1, 1),
                ~select(Task.id).where(Task.measure_id == Target.measure_id).exists(),
            )
        ) or 0
    if not waiting and not measures:
        return None
    return NextYearWarning(year, int(waiting), int(measures))
