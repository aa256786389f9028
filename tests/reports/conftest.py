"""A small world with a known history, for ledgers, scorecards, feeds and charts.

:func:`seed_history` takes the tasks of :func:`tests.db.conftest.seed_world`
(all assigned 2015-03-02) through the lifecycle services, and adds ladder
notices directly, so every count the scorecard makes can be worked out by
hand (see tests/reports/test_scorecard.py):

- ``lead`` (市卫计局, due 2015-12-31): acknowledged 03-03, reports 04-03 and
  07-20 (with indicator values), submitted 12-28, approved 2016-01-05.
- ``later`` (市卫计局, due 2017-12-29): acknowledged, one report 2015-11-02.
- ``single`` (市人社局, due 2015-12-31): report 2015-10-09 (value), extension to
  2016-01-15 asked 12-20 and approved 12-21, submitted 2016-01-12, approved
  2016-01-13.
- ``support`` (市民政局, due 2015-12-17): report 2015-10-20, submitted 12-24
  (late), approved 12-28; a 催办 on 12-18.
- ``district`` (香洲区, due 2015-12-17): nothing. 催办 12-18, 黄色督办 12-24,
  红色督办 12-31, plus a superseded 催办 and a level-0 reminder (neither
  counts as an escalation).
- a 催办 on ``single`` on 2015-09-15 (outside the Q4 scorecard period).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar
from duban.services.tasks import extensions, lifecycle
from models import Notice
from tests.db.conftest import CIVIL, HEALTH, HR, World, at, seed_world

COORDINATOR = "督办科"


@dataclass(frozen=True)
class History:
    world: World
    calendar: WorkCalendar


@pytest.fixture(scope="session")
def calendar() -> WorkCalendar:
    return build_work_calendar([])


def notice(task_id: int, step: str, day: str, level: int, status: str = "sent") -> Notice:
    return Notice(
        task_id=task_id,
        step=step,
        due_at=at(day),
        status=status,
        created_at=at(day),
        level=level,
    )


def seed_history(session_factory: sessionmaker[Session], calendar: WorkCalendar) -> History:
    """The world of this module's docstring (the directory must be loaded)."""
    world = seed_world(session_factory)
    sf = session_factory
    lc = lifecycle

    lc.acknowledge(world.lead, department=HEALTH, now=at("2015-03-03"), session_factory=sf)
    lc.report(
        world.lead,
        department=HEALTH,
        note="一季度:完成调研",
        now=at("2015-04-03"),
        session_factory=sf,
        values={"住院报销比例": "60%", "养老床位": 20},
    )
    lc.report(
        world.lead,
        department=HEALTH,
        note="二季度:出台方案",
        now=at("2015-07-20"),
        session_factory=sf,
        values={"住院报销比例": "66", "养老床位": 24},
    )
    lc.submit(
        world.lead, department=HEALTH, note="已完成", now=at("2015-12-28"), session_factory=sf
    )
    lc.approve(world.lead, actor=COORDINATOR, now=at("2016-01-05"), session_factory=sf)

    lc.acknowledge(world.later, department=HEALTH, now=at("2015-03-03"), session_factory=sf)
    lc.report(
        world.later, department=HEALTH, note="推进中", now=at("2015-11-02"), session_factory=sf
    )

    lc.acknowledge(world.single, department=HR, now=at("2015-03-04"), session_factory=sf)
    lc.report(
        world.single,
        department=HR,
        note="三季度进展",
        now=at("2015-10-09"),
        session_factory=sf,
        value=15,
    )
    asked = extensions.request_extension(
        world.single,
        department=HR,
        new_due=date(2016, 1, 15),
        reason="招聘周期长",
        now=at("2015-12-20"),
        calendar=calendar,
        session_factory=sf,
    )
    assert asked.extension_id is not None
    extensions.approve_extension(
        asked.extension_id, actor=COORDINATOR, now=at("2015-12-21"), session_factory=sf
    )
    lc.submit(world.single, department=HR, note="已完成", now=at("2016-01-12"), session_factory=sf)
    lc.approve(world.single, actor=COORDINATOR, now=at("2016-01-13"), session_factory=sf)

    lc.acknowledge(world.support, department=CIVIL, now=at("2015-03-05"), session_factory=sf)
    lc.report(
        world.support, department=CIVIL, note="进展", now=at("2015-10-20"), session_factory=sf
    )
    lc.submit(
        world.support, department=CIVIL, note="完成", now=at("2015-12-24"), session_factory=sf
    )
    lc.approve(world.support, actor=COORDINATOR, now=at("2015-12-28"), session_factory=sf)

    with session_factory.begin() as session:
        session.add_all(
            [
                notice(world.support, "urge@2015-12-17", "2015-12-18", 1),
                notice(world.district, "urge@2015-12-17", "2015-12-18", 1),
                notice(world.district, "escalate_yellow@2015-12-17", "2015-12-24", 2),
                notice(world.district, "escalate_red@2015-12-17", "2015-12-31", 3),
                notice(world.district, "urge@2015-11-30", "2015-12-01", 1, "superseded"),
                notice(world.district, "due_reminder_3@2015-12-17", "2015-12-14", 0),
                notice(world.single, "urge@2015-09-14", "2015-09-15", 1),
            ]
        )
    return History(world=world, calendar=calendar)


@pytest.fixture
def history(
    session_factory: sessionmaker[Session], synced_directory: None, calendar: WorkCalendar
) -> History:
    return seed_history(session_factory, calendar)
