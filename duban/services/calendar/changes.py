"""Calendar data over time: what the calendar knows, adding a year, and what moves.

:func:`calendar_status` says which years are known and from where, and which
open tasks depend on a year that is not (a ladder step waiting, 待日历公布, or a
due date counted Monday to Friday under the opt-in weekend fallback).

:func:`import_calendar_file` adds (or replaces) one year's arrangement in the
operator's calendar directory — the README's YAML or a holiday-cn JSON file,
validated first, written as ``<year>.yaml`` — and then, with the calendar as
it now reads, :func:`recompute_due_dates`:

* a task whose due date follows from the plan by rule (not moved by an
  approved extension, a coordinator's 调整期限 or a grace period at
  assignment) gets the date the rule gives now: the lead's is the deadline or
  the working day before it, a supporting unit's ``support_lead_workdays``
  working days before the lead's. A date that moves is recorded in the task's
  log with the rule that moved it, and one 期限调整通知 (step ``due_moved``)
  is queued per task — a department's notices of one day go out as one
  message per channel;
* every open task is looked at again by the next round (its next action time
  is now), so reminders and 催办 are dated with the new calendar.

Running it again changes nothing. :func:`sync_calendar` is how this happens
whatever brought the year (an import, a file copied in, a package upgrade):
every round compares the calendar with the years last applied
(``calendar_years``) and recomputes once for years added or changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.db import insert_for
from duban.domain.assignment import AssignmentPolicy
from duban.domain.escalation import DUE_MOVED, StepKey
from duban.domain.lifecycle import OPEN_STATES, Action, ActorRole, TaskState
from duban.domain.outbox import NoticeStatus
from duban.domain.workdays import CalendarError, HolidayNotice, Unpublished, WorkCalendar
from duban.services.calendar.data import (
    calendar_sources,
    load_work_calendar,
    notice_yaml,
    read_calendar_file,
    read_notice_dir,
)
from duban.services.task_events import system_event
from models import CalendarYear, Department, ExtensionRequest, Notice, Target, Task, TaskEvent

_LIVE = [s.value for s in OPEN_STATES] + [TaskState.SUBMITTED.value]


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
            .where(Task.state.in_(_LIVE))
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


@dataclass
class MovedDue:
    task_id: int
    department: str
    measure: int
    old: date
    new: date
    rule: str


@dataclass
class CalendarImport:
    year: int
    source: str
    path: Path
    replaced: bool  # the year was known before (this file replaces its data)
    changed: bool  # the calendar answers differently for the year
    moved: list[MovedDue] = field(default_factory=list)
    looked_again: int = 0

    @property
    def departments(self) -> list[str]:
        return sorted({m.department for m in self.moved})

    def to_dict(self) -> dict[str, object]:
        return {
            "year": self.year,
            "source": self.source,
            "path": str(self.path),
            "replaced": self.replaced,
            "changed": self.changed,
            "moved": [
                {"task": m.task_id, "department": m.department, "measure": m.measure,
                 "from": m.old.isoformat(), "to": m.new.isoformat(), "rule": m.rule}
                for m in self.moved
            ],
            "departments": self.departments,
            "looked_again": self.looked_again,
        }


def import_calendar_file(
    source: Path,
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    now: datetime,
    policy: AssignmentPolicy | None = None,
) -> CalendarImport:
    """Validate ``source`` (see the module doc), write it as ``<year>.yaml`` in
    the operator's calendar directory, then recompute due dates and next
    actions. Raises CalendarError naming the file and entry when the file is
    invalid or contradicts the rest of the calendar; nothing is written then."""
    notice = read_calendar_file(source)
    sources = calendar_sources(settings)
    directory = Path(sources.hint)
    before = load_work_calendar(settings, weekend_fallback=settings.calendar_weekend_fallback)
    # What the database has applied so far is the calendar before this file.
    sync_calendar(session_factory, calendar=before, now=now, policy=policy)
    old = before.notice(notice.year)
    # The directory's other files stay; this year's file(s) are replaced.
    others = [n for n in read_notice_dir(directory) if n.year != notice.year] if (
        directory.is_dir()
    ) else []
    target = directory / f"{notice.year}.yaml"
    title = _title_of(notice, source)
    text = notice_yaml(notice, title)
    # Built once before writing: a contradiction is an error and nothing changes.
    WorkCalendar([*_without(before, notice.year, others), notice])
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in (directory / f"{notice.year}.yml", directory / f"{notice.year}.YAML"):
        if stale.exists() and stale != target:
            stale.unlink()
    temporary = target.with_suffix(".yaml.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)
    after = load_work_calendar(settings, weekend_fallback=settings.calendar_weekend_fallback)
    result = CalendarImport(
        year=notice.year,
        source=notice.source,
        path=target,
        replaced=old is not None,
        changed=old is None or not _same(old, notice),
    )
    synced = sync_calendar(session_factory, calendar=after, now=now, policy=policy)
    result.moved = synced.moved
    result.looked_again = synced.looked_again
    return result


def _title_of(notice: HolidayNotice, source: Path) -> str:
    label = notice.source.removeprefix(str(source))
    return label.strip("()()") or f"{notice.year}年节假日安排(导入自 {source.name})"


def _without(
    calendar: WorkCalendar, year: int, directory_notices: list[HolidayNotice]
) -> list[HolidayNotice]:
    kept: dict[int, HolidayNotice] = {}
    for known in calendar.years:
        notice = calendar.notice(known)
        if notice is not None and known != year:
            kept[known] = notice
    for notice in directory_notices:
        kept[notice.year] = notice
    return list(kept.values())


def _same(a: HolidayNotice, b: HolidayNotice) -> bool:
    return dict(a.holidays) == dict(b.holidays) and dict(a.workdays) == dict(b.workdays)


def look_again(session_factory: sessionmaker[Session], *, now: datetime) -> int:
    """Make every open task due for the next round (its steps are re-dated with
    the calendar as it now reads); returns how many."""
    with session_factory.begin() as session:
        result = session.execute(
            update(Task)
            .where(
                Task.state.in_([s.value for s in OPEN_STATES]),
                or_(Task.next_action_at.is_(None), Task.next_action_at > now),
            )
            .values(next_action_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def recompute_due_dates(
    session_factory: sessionmaker[Session],
    *,
    calendar: WorkCalendar,
    now: datetime,
    policy: AssignmentPolicy | None = None,
    years: Sequence[int] = (),
) -> list[MovedDue]:
    """Move every rule-derived due date (see the module doc) that the calendar
    now places elsewhere; each task in its own transaction. ``years`` name
    the arrangements that changed (for the log). Returns what moved."""
    policy = policy or AssignmentPolicy()
    with session_factory() as session:
        candidates = list(
            session.scalars(
                select(Task.id).where(Task.state.in_(_LIVE)).order_by(Task.measure_id, Task.id)
            )
        )
    moved: list[MovedDue] = []
    for task_id in candidates:
        with session_factory.begin() as session:
            change = _move_one(session, task_id, calendar, policy, now=now, years=years)
        if change is not None:
            moved.append(change)
    return moved


def _move_one(
    session: Session,
    task_id: int,
    calendar: WorkCalendar,
    policy: AssignmentPolicy,
    *,
    now: datetime,
    years: Sequence[int],
) -> MovedDue | None:
    task = session.get(Task, task_id, with_for_update=True)
    if task is None or task.state not in _LIVE or not _rule_derived(session, task):
        return None
    try:
        lead_due = calendar.workday_on_or_before(task.deadline)
    except CalendarError:
        return None  # the deadline's year is not known (any more): leave it
    if task.role == "lead":
        new: date | Unpublished = lead_due
        rule = (
            f"牵头单位期限为完成时限 {task.deadline.isoformat()} 当日,"
            "遇非工作日提前至前一工作日"
        )
    else:
        new = calendar.maybe_add_workdays(lead_due, -policy.support_lead_workdays)
        rule = (
            f"配合单位期限为牵头单位期限 {lead_due.isoformat()} 前"
            f"{policy.support_lead_workdays}个工作日"
        )
    if isinstance(new, Unpublished) or new == task.due:
        return None
    arrangement = "、".join(f"{y}年" for y in years) + "节假日安排" if years else "节假日安排"
    note = (
        f"{arrangement}已更新:按“{rule}”,期限由 {task.due.isoformat()} "
        f"调整为 {new.isoformat()}"
    )
    old = task.due
    session.execute(
        update(Task)
        .where(Task.id == task.id, Task.version == task.version)
        .values(due=new, original_due=new, version=task.version + 1, next_action_at=now)
        .execution_options(synchronize_session=False)
    )
    session.add(
        system_event(
            task.id,
            Action.CHANGE_DUE,
            at=now,
            from_state=task.state,
            to_state=task.state,
            note=note,
            data={"from": old.isoformat(), "to": new.isoformat(), "rule": rule,
                  "calendar_years": list(years)},
        )
    )
    if task.state != TaskState.SUBMITTED.value:
        session.execute(
            insert_for(session, Notice)
            .values(
                task_id=task.id,
                step=StepKey.on(DUE_MOVED.name, new).format(),
                status=NoticeStatus.PENDING,
                level=DUE_MOVED.level,
                due_at=now,
                created_at=now,
                note=note,
            )
            .on_conflict_do_nothing(index_elements=["task_id", "step"])
        )
    department = session.get(Department, task.department_id)
    return MovedDue(
        task_id=task.id,
        department=department.name if department else "",
        measure=task.measure.number,
        old=old,
        new=new,
        rule=rule,
    )


def _rule_derived(session: Session, task: Task) -> bool:
    """Whether the task's due date is what the assignment rules give (so a new
    calendar may move it): never moved by an approved extension or by a
    coordinator, and not set from a grace period at assignment."""
    if session.scalar(
        select(ExtensionRequest.id)
        .where(ExtensionRequest.task_id == task.id, ExtensionRequest.status == "approved")
        .limit(1)
    ):
        return False
    events = session.execute(
        select(TaskEvent.action, TaskEvent.actor_role, TaskEvent.data).where(
            TaskEvent.task_id == task.id
        )
    ).all()
    for action, role, data in events:
        if action == Action.CHANGE_DUE.value and role != ActorRole.SYSTEM.value:
            return False
        if action == Action.ASSIGN.value and data and data.get("plan_due"):
            return False
    return True


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
            .where(Task.state.in_(_LIVE), Task.calendar_wait_year == year)
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


def year_fingerprint(notice: HolidayNotice) -> str:
    """SHA-256 of a year's days off and make-up working days (names included)."""
    days = {
        "holidays": [[d.isoformat(), n] for d, n in sorted(notice.holidays.items())],
        "workdays": [[d.isoformat(), n] for d, n in sorted(notice.workdays.items())],
    }
    text = json.dumps(days, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class CalendarSync:
    """What :func:`sync_calendar` found and did."""

    added: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    moved: list[MovedDue] = field(default_factory=list)
    looked_again: int = 0
    baseline: bool = False  # first sight: recorded, nothing recomputed


def sync_calendar(
    session_factory: sessionmaker[Session],
    *,
    calendar: WorkCalendar,
    now: datetime,
    policy: AssignmentPolicy | None = None,
) -> CalendarSync:
    """Compare ``calendar`` with the years last applied (``calendar_years``):
    for years added or changed since, recompute the due dates and look at
    every open task again (see the module doc), then record them. The first
    time (nothing recorded) the calendar is only recorded. Cheap when nothing
    changed: one small read. Safe to run in several processes at once (the
    recomputation is idempotent; recording is an upsert)."""
    current: dict[int, tuple[str, str]] = {}
    for year in calendar.years:
        notice = calendar.notice(year)
        if notice is not None:
            current[year] = (year_fingerprint(notice), notice.source[:500])
    with session_factory() as session:
        stored = dict(session.execute(select(CalendarYear.year, CalendarYear.fingerprint)).all())
    result = CalendarSync(baseline=not stored)
    if stored:
        result.added = sorted(y for y in current if y not in stored)
        result.changed = sorted(y for y in current if y in stored and stored[y] != current[y][0])
        years = sorted(result.added + result.changed)
        if not years:
            return result
        result.moved = recompute_due_dates(
            session_factory, calendar=calendar, now=now, policy=policy, years=years
        )
        result.looked_again = look_again(session_factory, now=now)
    record = {y: v for y, v in current.items() if stored.get(y) != v[0]}
    if record:
        with session_factory.begin() as session:
            for year, (fingerprint, source) in sorted(record.items()):
                session.execute(
                    insert_for(session, CalendarYear)
                    .values(year=year, fingerprint=fingerprint, source=source, recorded_at=now)
                    .on_conflict_do_update(
                        index_elements=["year"],
                        set_={"fingerprint": fingerprint, "source": source, "recorded_at": now},
                    )
                )
    return result
