"""Adding a year to the calendar, and keeping the tasks in step with it.

:func:`import_calendar_file` adds (or replaces) one year's arrangement in the
operator's calendar directory — the README's YAML or a holiday-cn JSON file,
validated first, written as ``<year>.yaml`` — and then, with the calendar as
it now reads, recomputes the due dates that follow from it
(:mod:`duban.services.calendar.due_dates`) and has every open task looked at
again by the next round, so reminders and 催办 are dated with the new calendar.

Running it again changes nothing. :func:`sync_calendar` is how this happens
whatever brought the year (an import, a file copied in, a package upgrade):
every round compares the calendar with the years last applied
(``calendar_years``) and recomputes once for years added or changed. What the
calendar knows is read by :mod:`duban.services.calendar.status`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.db import insert_for
from duban.domain.assignment import AssignmentPolicy
from duban.domain.workdays import HolidayNotice, WorkCalendar
from duban.services.calendar.data import (
    calendar_sources,
    load_work_calendar,
    notice_yaml,
    read_calendar_file,
    read_notice_dir,
)
from duban.services.calendar.due_dates import (
    MovedDue,
    look_again,
    recompute_due_dates,
)
from models import CalendarYear


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
