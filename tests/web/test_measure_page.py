"""The measure page: from the dashboard to each responsible unit's task, its
light and why, progress, indicator values and chart, escalations and
extensions; each count on the dashboard lists exactly that many tasks.

On the small world with a known history (tests/reports/conftest.py), seen on
2016-01-29, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from models import Measure
from tests.db.conftest import CIVIL, HEALTH, HR, XIANGZHOU
from tests.reports.conftest import History


def _measure_id(session_factory: sessionmaker[Session], plan_id: int, number: int) -> int:
    with session_factory() as session:
        measure = session.query(Measure).filter_by(plan_id=plan_id, number=number).one()
        return measure.id


def _units(html: str) -> list[str]:
    return re.findall(r'<li class="unit card" data-light="(\w+)"', html)


def test_a_dashboard_row_drills_down_to_each_unit_and_counts_list_that_many(
    history_client: tuple[TestClient, History],
    session_factory: sessionmaker[Session],
    login: Callable[[TestClient, str], str],
) -> None:
    client, history = history_client
    with client:
        login(client, "supervisor")
        dashboard = client.get("/dashboard").text
        m8 = _measure_id(session_factory, history.world.plan_id, 8)
        m9 = _measure_id(session_factory, history.world.plan_id, 9)
        assert f'href="/dashboard/measures/{m8}"' in dashboard
        assert dashboard.count("<svg") == 3  # lights by section, overdue trend, departments
        assert "红灯 1 个单位:已逾期" in dashboard  # 说明: per light, how many units and why
        unit = client.get("/dashboard", params={"department": XIANGZHOU}).text
        assert unit.count("<svg") == 2 and f'id="department-title">{XIANGZHOU}' in unit
        # Every count is a link to a list of exactly that many tasks.
        links = re.findall(
            rf'href="(/dashboard/measures/{m8}\?show=\w+)">(?:(\d+)/\d+ 办结|(\d+) 逾期)',
            dashboard,
        )
        assert {link for link, *_ in links} == {
            f"/dashboard/measures/{m8}?show=approved", f"/dashboard/measures/{m8}?show=overdue"}
        for link, approved, overdue in links:
            assert len(_units(client.get(link).text)) == int(approved or overdue), link

        page = client.get(f"/dashboard/measures/{m8}")
        assert page.status_code == 200
        html = page.text
        assert sorted(_units(html)) == ["green", "late", "red", "yellow"]
        for name in (HEALTH, CIVIL, XIANGZHOU):
            assert name in html
        assert "牵头" in html and "配合" in html
        # Why each light: late by working days, overdue, missing reports.
        assert "逾期5个工作日报结" in html  # due 12-17, submitted 12-24
        assert re.search(r"已逾期\d+个工作日", html) and "缺报进度" in html
        assert "二季度:出台方案" in html  # the lead's last progress report
        assert "住院报销比例" in html and "2015-07-20" in html  # its latest value and day
        assert "红色督办" in html and "黄色督办" in html  # 香洲区's escalations so far
        assert "<svg" in html and "直线进度" in html  # the trajectory chart inline
        assert "duban " not in html and not re.search(r">[^<]*#\d", html)  # no internal ids

        single = client.get(f"/dashboard/measures/{m9}").text
        assert HR in single and "2015-12-31→2016-01-15(已同意)" in single  # extension history
        assert client.get("/dashboard/measures/999999").status_code == 404
        missing = client.get("/tasks/999999")  # an error page in words, no number
        assert missing.status_code == 404 and "找不到该任务" in missing.text
        assert "999999" not in missing.text.split("<main>", 1)[1] and "duban " not in missing.text


def test_each_scorecard_count_opens_the_units_tasks_it_counted(
    history_client: tuple[TestClient, History], login: Callable[[TestClient, str], str]
) -> None:
    client, _history = history_client
    with client:
        login(client, "supervisor")
        card = client.get("/dashboard/scorecard").text
        links = re.findall(r'href="(/dashboard/units\?name=[^"&]+&amp;show=\w+)">(\d+)<', card)
        assert len(links) >= 4  # 市卫计局 and 市人社局: 计分到期, 按期办结 / 延期后办结
        for link, number in links:
            page = client.get(link.replace("&amp;", "&")).text
            assert len(_units(page)) == int(number), link
        health = client.get("/dashboard/units", params={"name": HEALTH}).text
        # Both its tasks (the later one not yet due, not counted), its charts.
        assert len(_units(health)) == 2 and health.count("<svg") == 2
        assert client.get("/dashboard/units", params={"name": "没有的单位"}).status_code == 404
