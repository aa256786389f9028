"""Calendar data kept over time: ``duban calendar status`` says what is known and
what waits; ``duban calendar import`` takes the README's YAML or a holiday-cn
JSON file, validated, and a year's data changed mid-year moves the due dates it
governs (the task's log names the rule) and tells each department once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.services.calendar.changes import import_calendar_file
from duban.services.calendar.data import load_work_calendar, read_notice_file
from duban.services.calendar.status import NextYearWarning, calendar_status, next_year_warning
from duban.services.rounds.daily import replay
from duban.web import create_app
from models import Notice, Task, TaskEvent, User
from tests.conftest import CliRunner
from tests.db.test_calendar_horizon import (
    ASSIGNED,
    CALENDARS,
    assign_plan_2027,
    received,
    tools,
)
from tests.db.test_reminders import ZONE, RecordingSender
from tests.web.conftest import csrf_of


def holiday_cn(path: Path, *, dragon_boat: str) -> Path:
    """The 2027 test fixture as a holiday-cn JSON file, with 端午节 on ``dragon_boat``."""
    notice = read_notice_file(CALENDARS / "2027.yaml")
    days = [
        {"name": name, "date": day.isoformat(), "isOffDay": True}
        for day, name in sorted(notice.holidays.items())
        if name != "端午节"
    ]
    days.append({"name": "端午节", "date": dragon_boat, "isOffDay": True})
    days += [
        {"name": name or "调休", "date": day.isoformat(), "isOffDay": False}
        for day, name in sorted(notice.workdays.items())
    ]
    path.write_text(
        json.dumps({"year": 2027, "papers": ["https://example.test/2027"], "days": days},
                   ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def test_a_years_data_changed_mid_year_moves_due_dates_and_tells_each_department_once(
    session_factory: sessionmaker[Session], synced_directory: None, migrated_url: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_env: Callable[[str], None],
    run_cli: CliRunner,
) -> None:
    operator = tmp_path / "calendar"
    operator.mkdir()
    shutil.copy(CALENDARS / "2027.yaml", operator / "2027.yaml")
    cli_env(migrated_url)
    monkeypatch.setenv("DUBAN_CALENDAR_DIR", str(operator))
    settings = Settings(data_dir=tmp_path / "data", calendar_dir=operator)
    calendar = load_work_calendar(settings)
    assign_plan_2027(session_factory, calendar)
    sender = RecordingSender()
    replay(session_factory, start=ASSIGNED.date(), end=date(2027, 3, 31),
           tools=tools(calendar, sender))

    with session_factory() as session:
        tasks = {(t.measure.number, t.role): t.id for t in session.scalars(select(Task))}
    status = calendar_status(session_factory, settings=settings, calendar=calendar)
    assert {y.year for y in status.years} >= {2026, 2027} and 2028 not in {
        y.year for y in status.years}
    # Due at the end of 2027: their 催办 or Q4 report deadline needs 2028.
    assert set(status.waiting[2028]) == {tasks[(2, "lead")], tasks[(3, "lead")]}
    shown = run_cli("calendar", "status")
    assert shown.exit_code == 0, shown.stderr
    assert "2004–2026年:chinesecalendar" in shown.stdout
    assert "2027年:" in shown.stdout and "测试用2027年节假日安排" in shown.stdout
    assert "2028年尚未公布:2 项未办结任务有步骤待日历公布" in shown.stdout

    # Errors name the file and the entry; nothing is written.
    bad = tmp_path / "2027.json"
    bad.write_text('{"year": 2027, "papers": [], "days": [{"name": "元旦", "date": '
                   '"2027-02-30", "isOffDay": true}]}', encoding="utf-8")
    refused = run_cli("calendar", "import", str(bad))
    assert refused.exit_code == 1
    assert str(bad) in refused.stderr and "days 第1项“元旦”中的“2027-02-30”不是有效日期" in (
        refused.stderr
    )
    assert sorted(p.name for p in operator.iterdir()) == ["2027.yaml"]

    # The official arrangement differs: 端午节 on 2027-06-30, not 06-09.
    official = holiday_cn(tmp_path / "official-2027.json", dragon_boat="2027-06-30")
    done = run_cli("calendar", "import", str(official), "--as-of", "2027-04-01T09:30")
    assert done.exit_code == 0, done.stderr
    assert "已替换2027年节假日安排" in done.stdout
    assert "2 项任务的期限随之调整,已通知 2 个单位" in done.stdout
    with session_factory() as session:
        lead = session.get(Task, tasks[(1, "lead")])
        support = session.get(Task, tasks[(1, "supporting")])
        assert lead is not None and support is not None
        assert (lead.due, support.due) == (date(2027, 6, 29), date(2027, 6, 15))
        note = session.scalars(
            select(TaskEvent.note).where(TaskEvent.task_id == lead.id,
                                         TaskEvent.action == "change_due")
        ).one()
        assert note == ("2027年节假日安排已更新:按“牵头单位期限为完成时限 2027-06-30 当日,"
                        "遇非工作日提前至前一工作日”,期限由 2027-06-30 调整为 2027-06-29")
        assert session.scalar(select(TaskEvent.note).where(
            TaskEvent.task_id == support.id, TaskEvent.action == "change_due"
        )) is not None
        untouched = session.get(Task, tasks[(2, "lead")])
        assert untouched is not None and untouched.due == date(2027, 12, 31)
    # Imported again: nothing more moves, nobody is told twice.
    again = import_calendar_file(official, settings=settings, session_factory=session_factory,
                                 now=datetime(2027, 4, 1, 10, tzinfo=ZONE).astimezone(UTC))
    assert again.moved == [] and not again.changed

    calendar = load_work_calendar(settings)
    sender = RecordingSender()
    replay(session_factory, start=date(2027, 4, 1), end=date(2027, 7, 9),
           tools=tools(calendar, sender))
    got = received(sender, session_factory)
    for key in ((1, "lead"), (1, "supporting")):
        assert got[tasks[key]]["due_moved"] == 1, got[tasks[key]]
        # The ladder follows the new date: the last reminder 3 working days before it.
        with session_factory() as session:
            steps = set(session.scalars(select(Notice.step).where(Notice.task_id == tasks[key])))
        due = date(2027, 6, 29) if key[1] == "lead" else date(2027, 6, 15)
        assert f"due_reminder_3@{due.isoformat()}" in steps
    assert all(got[tasks[k]]["due_moved"] == 0 for k in ((2, "lead"), (3, "lead")))

    # From 1 November the dashboard says 2028 is missing and what depends on it.
    assert next_year_warning(session_factory, calendar=calendar, today=date(2027, 10, 31)) is None
    warning = next_year_warning(session_factory, calendar=calendar, today=date(2027, 11, 1))
    assert warning == NextYearWarning(2028, waiting_tasks=2, measures=0)
    with session_factory.begin() as session:
        session.add(User(username="supervisor", display_name="督查室", role="supervisor",
                         password_hash=PasswordHasher().hash("pw-pw-pw-pw"), active=True,
                         created_at=ASSIGNED, password_changed_at=ASSIGNED))
    app = create_app(
        Settings(data_dir=tmp_path / "data", database_url=migrated_url, secret_key="k",
                 calendar_dir=operator),
        as_of=datetime(2027, 11, 1, 10, tzinfo=ZONE),
    )
    client = TestClient(app, base_url="http://duban.test", follow_redirects=False)
    token = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"username": "supervisor", "password": "pw-pw-pw-pw",
                                       "csrf_token": token}).status_code == 303
    page = client.get("/dashboard").text
    assert "2028年节假日安排尚未导入:2 项任务的后续提醒或催办日期待日历公布" in page

    # 2028 arrives: nothing waits any more.
    shutil.copy(CALENDARS / "2028.yaml", tmp_path / "2028.yaml")
    added = import_calendar_file(tmp_path / "2028.yaml", settings=settings,
                                 session_factory=session_factory,
                                 now=datetime(2027, 11, 1, 9, tzinfo=ZONE).astimezone(UTC))
    # Its New Year holiday starts on 2027-12-31: the year-end due dates move back.
    assert not added.replaced
    assert {(m.task_id, m.old, m.new) for m in added.moved} == {
        (tasks[(2, "lead")], date(2027, 12, 31), date(2027, 12, 30)),
        (tasks[(3, "lead")], date(2027, 12, 31), date(2027, 12, 30)),
        (tasks[(2, "supporting")], date(2027, 12, 17), date(2027, 12, 16)),
    }
    status = calendar_status(session_factory, settings=settings,
                             calendar=load_work_calendar(settings))
    assert status.waiting == {} and 2028 in {y.year for y in status.years}
    assert next_year_warning(session_factory, calendar=load_work_calendar(settings),
                             today=date(2027, 11, 2)) is None
