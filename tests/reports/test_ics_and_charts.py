"""The department calendar feed (parsed back with icalendar) and the
indicator chart (SVG parsed as XML), on SQLite and PostgreSQL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import NotFoundError
from duban.domain.lifecycle import OPEN_STATES
from duban.services.reports.charts import indicator_chart, nice_ticks
from duban.services.reports.ics import department_ics
from duban.services.reports.trajectories import measure_trajectories
from models import Department, Task
from tests.db.conftest import HEALTH, HR
from tests.reports.conftest import History

NOW = datetime(2016, 1, 29, 1, 0, tzinfo=UTC)
OPEN = {s.value for s in OPEN_STATES}
SVG = "{http://www.w3.org/2000/svg}"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def events(text: str) -> dict[str, object]:
    feed = Calendar.from_ical(text)
    return {str(e["UID"]): e for e in feed.walk("VEVENT")}


def test_feed_has_every_due_date_and_report_deadline(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    text = department_ics(
        session_factory,
        department="市卫计局",
        now=NOW,
        calendar=history.calendar,
        base_url="http://duban.test",
        everything=True,
    )
    feed = Calendar.from_ical(text)
    assert str(feed["X-WR-CALNAME"]) == f"督办事项 · {HEALTH}"
    found = events(text)
    with session_factory() as session:
        health = session.scalar(select(Department.id).where(Department.name == HEALTH))
        tasks = session.scalars(select(Task).where(Task.department_id == health)).all()
    for task in tasks:
        event = found[f"duban-task-{task.id}-due@duban"]
        assert event.decoded("DTSTART") == task.due  # type: ignore[attr-defined]
        assert str(event["URL"]) == f"http://duban.test/tasks/{task.id}"  # type: ignore[index]
    lead = found[f"duban-task-{history.world.lead}-due@duban"]
    assert str(lead["SUMMARY"]).startswith("【已办结】措施8")  # type: ignore[index]
    later = found[f"duban-task-{history.world.later}-due@duban"]
    assert str(later["SUMMARY"]).startswith("【到期】措施8")  # type: ignore[index]
    # The open 2017 task owes a report every quarter until its due date; the
    # lead task (submitted 2015-12-28) only for the quarters before that.
    later_reports = sorted(
        found[uid].decoded("DTSTART")  # type: ignore[attr-defined]
        for uid in found
        if uid.startswith(f"duban-task-{history.world.later}-report-")
    )
    assert later_reports[0] == date(2015, 4, 8) and len(later_reports) == 11
    lead_reports = [u for u in found if u.startswith(f"duban-task-{history.world.lead}-report-")]
    assert len(lead_reports) == 3


def _on(event: object) -> date:
    return event.decoded("DTSTART")  # type: ignore[attr-defined,no-any-return]


def test_the_default_feed_holds_the_open_tasks_dates_from_a_month_ago_to_60_days_ahead(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    def feed(**options: object) -> str:
        return department_ics(session_factory, department="市卫计局", now=NOW,
                              calendar=history.calendar, **options)  # type: ignore[arg-type]

    text, whole = feed(), events(feed(everything=True))
    found, year = events(text), events(feed(days=366))
    window = (date(2015, 12, 29), date(2016, 3, 29))  # 31 days back, 60 ahead of 2016-01-29
    with session_factory() as session:
        states = dict(session.execute(select(Task.id, Task.state)).all())

    def task_of(uid: str) -> int:
        return int(uid.split("-")[2])

    # Exactly the events of the whole feed dated in the window whose task is
    # open (or cancelled, to be dropped), and the due dates of open tasks
    # already past due, each the same event.
    expected = {uid for uid, event in whole.items()
                if (window[0] <= _on(event) <= window[1]
                    and states[task_of(uid)] not in ("submitted", "approved"))
                or (uid.endswith("-due@duban") and _on(event) < NOW.date()
                    and states[task_of(uid)] in OPEN)}
    assert set(found) == expected and found
    for uid in found:
        for prop in ("SUMMARY", "DESCRIPTION", "URL", "STATUS", "DTEND"):
            assert found[uid].get(prop) == whole[uid].get(prop), (uid, prop)  # type: ignore[attr-defined]
    # The open 2017 task: its report deadline of 2016-01-08 is in, its due date
    # (2017-12-29) and the reports after March are not, until asked for a year.
    later = history.world.later
    assert f"duban-task-{later}-report-2015-12-31@duban" in found
    assert f"duban-task-{later}-due@duban" not in found
    assert f"duban-task-{later}-report-2016-03-31@duban" in year
    assert set(found) < set(year) < set(whole)
    # The approved lead task is gone with its reports.
    assert not any(uid.startswith(f"duban-task-{history.world.lead}-") for uid in found)
    # The feed says which dates it holds.
    description = str(Calendar.from_ical(text)["X-WR-CALDESC"])
    assert "2015-12-29 至 2016-03-29" in description and "逾期未办结任务" in description
    for wrong in (0, 367):
        with pytest.raises(ValueError):
            feed(days=wrong)


def test_the_default_feed_keeps_an_overdue_open_task_and_drops_finished_ones(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    world = history.world
    a_year_on = datetime(2016, 12, 20, 1, 0, tzinfo=UTC)  # window 2016-11-19 … 2017-02-18

    def feed(department: str, **options: object) -> dict[str, object]:
        return events(department_ics(session_factory, department=department, now=a_year_on,
                                     calendar=history.calendar, **options))  # type: ignore[arg-type]

    # 香洲区 never acted on its task due 2015-12-17: a year later its due date
    # is still in the feed, red, though its report deadlines of 2015 are not.
    district = feed("香洲区")
    assert set(district) == {f"duban-task-{world.district}-due@duban"}
    overdue = district[f"duban-task-{world.district}-due@duban"]
    assert _on(overdue) == date(2015, 12, 17)
    assert str(overdue["SUMMARY"]).startswith("【到期】")  # type: ignore[index]
    assert "已逾期" in str(overdue["DESCRIPTION"]) and "红灯" in str(overdue["DESCRIPTION"])  # type: ignore[index]
    assert any(uid.startswith(f"duban-task-{world.district}-report-")
               for uid in feed("香洲区", everything=True))
    # 市卫计局's lead task, approved on 2016-01-05, is gone; the full feed keeps
    # it (【已办结】); the open 2017 task's report deadlines of 2017 come with a
    # year ahead, its due date (2017-12-29) only with the full feed.
    health, whole = feed("市卫计局"), feed("市卫计局", everything=True)
    assert not any(uid.startswith(f"duban-task-{world.lead}-") for uid in health)
    assert str(whole[f"duban-task-{world.lead}-due@duban"]["SUMMARY"]).startswith("【已办结】")  # type: ignore[index]
    assert set(health) == {f"duban-task-{world.later}-report-2016-12-31@duban"}
    year = feed("市卫计局", days=366)
    assert f"duban-task-{world.later}-report-2017-09-30@duban" in year
    assert f"duban-task-{world.later}-due@duban" not in year
    assert f"duban-task-{world.later}-due@duban" in whole
    # A cancelled task stays (marked, to be dropped) only while its due date
    # is in the window; a submitted one leaves the default feed.
    with session_factory.begin() as session:
        session.get_one(Task, world.district).state = "cancelled"
    assert feed("香洲区") == {}
    in_window = datetime(2016, 1, 5, 1, 0, tzinfo=UTC)  # 2015-12-05 … 2016-03-05
    cancelled = events(department_ics(session_factory, department="香洲区", now=in_window,
                                      calendar=history.calendar))
    assert str(cancelled[f"duban-task-{world.district}-due@duban"]["STATUS"]) == "CANCELLED"  # type: ignore[index]
    with session_factory.begin() as session:
        session.get_one(Task, world.district).state = "submitted"
    assert feed("香洲区") == {} and feed("香洲区", everything=True)


def test_feed_follows_an_extension_and_takes_ids(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        hr = session.scalar(select(Department.id).where(Department.name == HR))
    assert hr is not None
    found = events(
        department_ics(session_factory, department=hr, now=NOW, calendar=history.calendar,
                       everything=True)
    )
    due = found[f"duban-task-{history.world.single}-due@duban"]
    assert due.decoded("DTSTART") == date(2016, 1, 15)  # type: ignore[attr-defined]
    assert "原定时限:2015-12-31" in str(due["DESCRIPTION"])  # type: ignore[index]
    empty = department_ics(
        session_factory, department="市教育局", now=NOW, calendar=history.calendar
    )
    assert Calendar.from_ical(empty).walk("VEVENT") == []
    with pytest.raises(NotFoundError):
        department_ics(session_factory, department="不存在的局", now=NOW, calendar=history.calendar)
    with pytest.raises(NotFoundError):
        department_ics(session_factory, department=99999, now=NOW, calendar=history.calendar)


def test_chart_draws_readings_against_the_straight_line(
    history: History, session_factory: sessionmaker[Session], backend: str
) -> None:
    title, panels = measure_trajectories(session_factory, measure=8, as_of=date(2016, 1, 29))
    assert title == "保障和改善民生"
    assert [p.indicator[-6:] for p in panels] == ["住院报销比例", "拥有养老床位"]
    lead = next(s for s in panels[0].series if s.department == HEALTH)
    assert [(r.on, r.value) for r in lead.readings] == [
        (date(2015, 4, 3), 60.0),
        (date(2015, 7, 20), 66.0),
    ]
    # From 60 on 04-03 to 75 on 12-31, the line is at ~64.9 on 07-20: ahead.
    assert lead.behind is False
    svg = indicator_chart(session_factory, measure=8, as_of=date(2016, 1, 29))
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f".//{SVG}polyline")) == 2  # one per indicator (lead)
    assert len(root.findall(f".//{SVG}line[@class='expected']")) == 2
    assert "住院报销比例" in svg and "目标 ≥75%" in svg
    if backend == "sqlite":
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "indicator-chart-measure8.svg").write_text(svg, encoding="utf-8")
    with pytest.raises(NotFoundError, match="没有第99项措施"):
        indicator_chart(session_factory, measure=99, as_of=date(2016, 1, 29))


def test_nice_ticks() -> None:
    assert nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(57.3, 76.5) == [55, 60, 65, 70, 75, 80]
