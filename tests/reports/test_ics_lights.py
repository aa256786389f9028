"""A windowed calendar feed tells its tasks' status and light from SQL (the
day's stored lights where fresh, see duban.services.tasks.light_sql), and says
word for word what the feed made from every task's assessment in Python says,
day after day, stored lights or not, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.services.reports import ics
from duban.services.rounds.daily import store_day_lights
from duban.services.tasks.facts import LOCAL_ZONE
from models import Task
from tests.reports.conftest import History
from tests.reports.test_lights import SCENARIOS, SPARSER_DAYS

# Every four weeks, and the days around the deadlines and report deadlines.
FEED_DAYS = SPARSER_DAYS


def _open_again(history: History, session_factory: sessionmaker[Session]) -> None:
    """Every finished task open again (a feed shows only open and cancelled
    tasks' due dates), with its reports, readings and extension: ``single``
    returned (extended to 2016-01-15), ``later`` due in the spring of 2016."""
    world = history.world
    with session_factory.begin() as session:
        session.execute(update(Task).where(Task.state.in_(["submitted", "approved"]))
                        .values(state="in_progress"))
        session.execute(update(Task).where(Task.id == world.single).values(state="returned"))
        session.execute(update(Task).where(Task.id == world.later)
                        .values(due=date(2016, 3, 31)))


@pytest.mark.parametrize("scenario", ["returned-and-cancelled", "lagging-value"])
def test_the_feed_from_lights_in_sql_is_the_feed_from_the_assessment(
    history: History, session_factory: sessionmaker[Session], scenario: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    SCENARIOS[scenario](history, session_factory)
    _open_again(history, session_factory)
    calendar = history.calendar
    with session_factory() as session:
        departments = sorted(set(session.scalars(select(Task.department_id))))

    def feeds(day_number: int) -> list[str]:
        day = FEED_DAYS[day_number]
        now = datetime.combine(day, time(9), LOCAL_ZONE).astimezone(UTC)
        return [
            ics.department_ics(session_factory, department=department, now=now,
                               calendar=calendar, base_url="http://duban.test",
                               link_token="k", days=ics.MAX_DAYS)
            for department in departments
        ]

    ruled = []
    for number, day in enumerate(FEED_DAYS):
        if number % 2:  # every other day with the day's lights stored first
            store_day_lights(session_factory, day=day, calendar=calendar, zone=LOCAL_ZONE)
        ruled.append(feeds(number))
    shown = {line for day in ruled for feed in day
             for line in feed.replace("\r\n ", "").split("\\n") if line.startswith("状态:")}
    # Due dates were shown in every light and status an open task can have.
    assert {line.rsplit("\\,", 1)[1] for line in shown} >= {"红灯", "黄灯", "蓝灯", "绿灯"}
    assert {line.split("\\,")[1] for line in shown} >= {"即将到期", "未到期", "已逾期"}
    # The same feeds, every task assessed in Python (as where SQL cannot tell lights).
    monkeypatch.setattr(ics, "light_rule", lambda *args, **kwargs: None)
    differences = [
        (FEED_DAYS[number], departments[index])
        for number, day in enumerate(ruled)
        for index, (mine, theirs) in enumerate(zip(day, feeds(number), strict=True))
        if mine != theirs
    ]
    assert differences == []
