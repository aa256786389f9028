"""``duban user``, ``duban serve``'s refusals, the in-process scheduler and
the API's programmatic access."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.services.accounts.staff import authenticate
from duban.web.scheduler import Scheduler
from duban.wiring import AppContext
from models import Notice, Task, User
from tests.conftest import CliRunner
from tests.db.conftest import World, at
from tests.web.conftest import PASSWORD


def test_user_add_reads_the_password_from_stdin_and_hashes_it(
    run_cli: CliRunner,
    cli_env: Callable[[str], None],
    migrated_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import sys

    cli_env(migrated_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password\n"))
    result = run_cli("user", "add", "zhang", "--role", "coordinator", "--display-name", "张三",
                     "--password-stdin")
    assert result.exit_code == 0, result.stderr
    assert "已保存账号 zhang(督办科,张三)" in result.stdout
    with session_factory() as session:
        row = session.scalars(select(User)).one()
    assert row.password_hash.startswith("$argon2id$") and "a-long-password" not in row.password_hash
    assert authenticate("zhang", "a-long-password", session_factory=session_factory) is not None
    assert authenticate("zhang", "wrong-password", session_factory=session_factory) is None

    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    result = run_cli("user", "add", "li", "--role", "supervisor", "--password-stdin")
    assert result.exit_code == 1 and "密码至少 8 个字符" in result.stderr
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password\n"))
    result = run_cli("user", "add", "li", "--role", "boss", "--password-stdin")
    assert result.exit_code == 1 and "角色“boss”无效" in result.stderr
    assert run_cli("user", "disable", "zhang").exit_code == 0
    assert authenticate("zhang", "a-long-password", session_factory=session_factory) is None


def test_serve_without_a_schema_says_what_to_run(
    run_cli: CliRunner, cli_env: Callable[[str], None], database_url: str
) -> None:
    cli_env(database_url)
    result = run_cli("serve", "--no-scheduler")
    assert result.exit_code == 1 and "请先运行 duban db upgrade" in result.stderr


def test_the_scheduler_sweeps_once_per_working_day_after_office_start(
    web_settings: Settings, world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        for task in session.scalars(select(Task)):
            task.next_action_at = at("2015-03-02")
    moments = iter([at("2016-01-04", 8), at("2016-01-04", 10), at("2016-01-04", 11),
                    at("2016-01-09", 10)])  # before office, Monday, again, Saturday
    current: list[datetime] = []

    def now() -> datetime:
        return current[-1]

    scheduler = Scheduler(AppContext(web_settings), now, poll=60)
    current.append(next(moments))
    wait = scheduler.step()
    assert scheduler.rounds == 0 and 0 < wait <= 3600  # waits for 09:00
    current.append(next(moments))
    assert scheduler.step() <= 60 and scheduler.rounds == 1
    with session_factory() as session:
        steps = set(session.scalars(select(Notice.step)))
    assert any(s.startswith("urge@") for s in steps)  # the overdue ladder ran
    current.append(next(moments))
    scheduler.step()
    assert scheduler.rounds == 1  # nothing due: no second sweep the same day
    scheduler.wake()
    scheduler.step()
    assert scheduler.rounds == 2  # woken inside office hours: a delivery pass
    current.append(next(moments))
    scheduler.step()
    assert scheduler.rounds == 2  # Saturday: nothing


def test_the_api_takes_a_staff_password_and_describes_itself(
    client: TestClient, world: World
) -> None:
    basic = base64.b64encode(f"supervisor:{PASSWORD}".encode()).decode()
    response = client.get("/api/measures", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200
    body = response.json()
    assert body["counts"].keys() == {"green", "late", "blue", "yellow", "red"}
    assert {m["number"] for m in body["measures"]} == {8, 9}
    wrong = base64.b64encode(b"supervisor:nope").decode()
    assert client.get("/api/tasks", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    spec = client.get("/api/openapi.json").json()
    assert {"/api/tasks", "/api/tasks/{task_id}", "/api/measures", "/api/escalations",
            "/api/deliveries", "/api/scorecard"} <= set(spec["paths"])
    assert not any(path.startswith("/desk") or path.startswith("/d/") for path in spec["paths"])


def test_the_dashboard_offers_each_plan_once_there_are_several(
    client: TestClient,
    world: World,
    login: Callable[[TestClient, str], str],
    session_factory: sessionmaker[Session],
) -> None:
    from models import Plan

    login(client, "supervisor")
    assert 'name="plan"' not in client.get("/dashboard").text
    with session_factory.begin() as session:
        session.add(Plan(key="另一方案", title="另一个工作方案", fingerprint="1" * 64,
                         imported_at=at("2015-04-01"), updated_at=at("2015-04-01")))
    latest = client.get("/dashboard").text
    assert 'name="plan"' in latest and "另一个工作方案" in latest
    older = client.get("/dashboard", params={"plan": world.plan_key, "light": "green"}).text
    assert "珠海市加快社会建设工作方案" in older


def test_the_scorecard_counts_due_overdue_and_days_late(
    web_settings: Settings, world: World, login: Callable[[TestClient, str], str]
) -> None:
    from duban.web import create_app

    app = create_app(web_settings, as_of=at("2016-01-20", 10))
    with TestClient(app, base_url="http://duban.test", follow_redirects=False) as client:
        login(client, "supervisor")
        rows = {r["department"]: r for r in client.get("/api/scorecard").json()}
        health = rows["珠海市卫生和计划生育局"]
        assert (health["tasks"], health["due"], health["overdue"], health["on_time"]) == (
            2, 1, 1, 0)
        assert health["avg_days_late"] == 13  # working days from 2015-12-31 to 2016-01-20
        page = client.get("/dashboard/scorecard", params={"sort": "tasks", "order": "desc"})
        assert page.status_code == 200
        first = page.text.split("<tbody>", 1)[1].split("</td>", 1)[0]
        assert "珠海市卫生和计划生育局" in first
        # The rules are on the page; supporting-only units have no score and come last.
        ranked = client.get("/dashboard/scorecard").text
        assert "计分规则" in ranked and "只计牵头任务" in ranked and "duban" not in ranked
        body = ranked.split("<tbody>", 1)[1]
        assert body.count("暂无得分") == 2 and body.rindex("第") < body.index("暂无得分")
