"""The coordinators' work queue reads only the tasks that can need urging
(open, and past due, unacknowledged or yellow, filtered in SQL): the queue is
the one worked out from every task, on every day asked, whether the day's
lights are stored or not."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from duban.services.desk import queue as desk_queue
from duban.services.desk.queue import URGE_SECTIONS, WorkQueue, work_queue
from duban.services.tasks.facts import LOCAL_ZONE
from duban.services.tasks.light_sql import light_rule, refresh_lights
from tests.reports.conftest import History
from tests.reports.test_lights import DAYS, SCENARIOS


def _queue(session_factory: sessionmaker[Session], history: History, now: datetime) -> WorkQueue:
    return work_queue(session_factory, now=now, calendar=history.calendar, zone=LOCAL_ZONE)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_queue_from_its_candidates_is_the_queue_from_every_task(
    history: History,
    session_factory: sessionmaker[Session],
    engine: Engine,
    scenario: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    SCENARIOS[scenario](history, session_factory)
    calendar = history.calendar
    sections: set[str] = set()
    for day in DAYS:
        now = datetime.combine(day, time(10), LOCAL_ZONE)
        with monkeypatch.context() as every_task:
            every_task.setattr(desk_queue, "_candidates", lambda session, **kw: [])
            expected = _queue(session_factory, history, now)
        assert _queue(session_factory, history, now) == expected, day
        with session_factory() as session:
            rule = light_rule(session, as_of=day, calendar=calendar, zone=LOCAL_ZONE,
                              refresh_at=None)
        assert rule is not None
        refresh_lights(engine, rule)  # the day's lights stored: read from the index
        assert _queue(session_factory, history, now) == expected, day
        sections |= {name for name in URGE_SECTIONS if getattr(expected, name)}
    # Without the district task (withdrawn) nothing is overdue or unacknowledged.
    assert sections == (
        {"missing_reports"} if scenario == "returned-and-cancelled" else set(URGE_SECTIONS)
    )
