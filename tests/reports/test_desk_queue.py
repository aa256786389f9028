"""The coordinators' work queue reads only the tasks that can need urging
(open, and past due, unacknowledged or yellow, filtered in SQL): the queue is
the one worked out from every task, on every day asked, whether the day's
lights are stored or not. Its pages (each section's size and order from SQL,
only the rows shown assessed) are the slices of that queue."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from duban.services.desk import queue as desk_queue
from duban.services.desk.queue import SECTION_LABELS, URGE_SECTIONS, WorkQueue, work_queue
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import light_rule, refresh_lights
from models import Task
from tests.db.conftest import at
from tests.reports.conftest import History
from tests.reports.test_lights import SCENARIOS, SPARSER_DAYS, _report


def _same_count_older_first(history: History, session_factory: sessionmaker[Session]) -> None:
    """``district`` acknowledged and reporting once in the second quarter,
    ``later`` once in the first (before its end): after the third quarter's deadline each
    misses two reports, ``district`` the older first (Q1 and Q3 against Q2
    and Q3), so its row comes first."""
    world = history.world
    with session_factory.begin() as session:
        session.execute(update(Task).where(Task.id == world.district)
                        .values(state="acknowledged", acknowledged_at=at("2015-03-04")))
        _report(session, world.district, at("2015-05-05"))
        _report(session, world.later, at("2015-03-20"))


DESK_SCENARIOS = {**SCENARIOS, "same-count-older-first": _same_count_older_first}


def _queue(
    session_factory: sessionmaker[Session],
    history: History,
    now: datetime,
    shown: dict[str, tuple[int, int]] | None = None,
) -> WorkQueue:
    return work_queue(session_factory, now=now, calendar=history.calendar, zone=LOCAL_ZONE,
                      shown=shown)


def _assert_pages_are_slices(
    session_factory: sessionmaker[Session], history: History, now: datetime, whole: WorkQueue
) -> None:
    """The landing page (each section's first rows) and each urge section's
    pages (second, last, past the last) are the slices of ``whole``."""
    counts = whole.counts()
    home = _queue(session_factory, history, now, {name: (1, 3) for name in SECTION_LABELS})
    assert home.counts() == counts, now
    for name in SECTION_LABELS:
        assert getattr(home, name) == getattr(whole, name)[:3], (now, name)
    for name in URGE_SECTIONS:
        rows = getattr(whole, name)
        last = max(1, -(-len(rows) // 2))
        for page in sorted({2, last, last + 1} if len(rows) > 3 else set()):
            paged = _queue(session_factory, history, now, {name: (page, 2)})
            shown = min(max(page, 1), last)
            assert paged.pages[name] == shown
            assert paged.counts() == counts, (now, name, page)
            assert getattr(paged, name) == rows[(shown - 1) * 2 : shown * 2], (now, name, page)


@pytest.mark.parametrize("scenario", DESK_SCENARIOS)
def test_the_queue_from_its_candidates_is_the_queue_from_every_task(
    history: History,
    session_factory: sessionmaker[Session],
    engine: Engine,
    scenario: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    DESK_SCENARIOS[scenario](history, session_factory)
    calendar = history.calendar
    sections: set[str] = set()
    for day in SPARSER_DAYS:
        now = datetime.combine(day, time(10), LOCAL_ZONE)
        with monkeypatch.context() as every_task:
            every_task.setattr(desk_queue, "_candidates", lambda session, **kw: [])
            expected = _queue(session_factory, history, now)
        assert _queue(session_factory, history, now) == expected, day
        _assert_pages_are_slices(session_factory, history, now, expected)  # lights stale
        with session_factory() as session:
            rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE,
                              refresh_at=None)
        assert rule is not None
        refresh_lights(engine, rule)  # the day's lights stored: read from the index
        assert _queue(session_factory, history, now) == expected, day
        _assert_pages_are_slices(session_factory, history, now, expected)
        sections |= {name for name in URGE_SECTIONS if getattr(expected, name)}
    # Without the district task (withdrawn) nothing is overdue or unacknowledged.
    assert sections == {
        "returned-and-cancelled": {"missing_reports"},
        "same-count-older-first": {"overdue", "missing_reports"},
    }.get(scenario, set(URGE_SECTIONS))


@pytest.mark.parametrize("untimed", [False, True], ids=["every-submission-timed", "one-untimed"])
def test_the_submissions_pages_are_slices_of_every_submission_by_its_time_then_id(
    history: History, session_factory: sessionmaker[Session], untimed: bool
) -> None:
    """Pages of submissions (the index's order of 报结 and id; ``now`` for a
    task without a 报结 time, among the others) are the slices of every
    submission sorted in Python. One untimed submission goes between the
    submissions before ``now`` and after it (sorting by the column alone puts
    it first on SQLite and last on PostgreSQL)."""
    world = history.world
    now = datetime.combine(date(2016, 1, 8), time(10), LOCAL_ZONE)
    times = {
        world.lead: at("2015-12-21"),
        world.later: None if untimed else at("2015-12-22"),
        world.single: at("2015-12-20"),
        world.support: at("2015-12-20"),  # the same time as ``single``: by id
        world.district: now + timedelta(days=3),
    }
    with session_factory.begin() as session:
        for task_id, submitted_at in times.items():
            session.execute(update(Task).where(Task.id == task_id)
                            .values(state="submitted", submitted_at=submitted_at))
    whole = _queue(session_factory, history, now)
    expected = sorted(times, key=lambda i: (times[i] or now, i))
    assert [item.task_id for item in whole.submissions] == expected
    for page in (1, 2, 3, 4):
        paged = _queue(session_factory, history, now, {"submissions": (page, 2)})
        shown = min(page, 3)
        assert paged.counts()["submissions"] == len(times)
        assert paged.pages["submissions"] == shown
        assert paged.submissions == whole.submissions[(shown - 1) * 2 : shown * 2], page
