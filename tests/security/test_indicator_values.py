"""Promise: a reported number is believable, and no stored number breaks a
chart or the weekly digest.

A value reported for an indicator, from a department's link or the command
line, must be a finite number within its unit's range: a percentage lies in
0–100 unless its target says otherwise (a target above 100 % or below 0),
any other unit within ± ``DUBAN_INDICATOR_MAX`` (10¹²). A value outside is
refused with the indicator named, and nothing is stored. Charts and the
weekly digest skip any value stored before these checks (``1e308``,
``-inf``, ``nan``) and are still made and sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.indicators import range_problem, value_range
from duban.services.reports.charts import indicator_chart
from duban.services.rounds.weekly import send_weekly_digest
from duban.services.tasks import lifecycle
from duban.wiring import open_context
from models import Delivery, IndicatorReading, Target, Task, TaskEvent
from tests.conftest import CliRunner
from tests.db.conftest import BEDS, HEALTH, REIMBURSEMENT, World, at, seed_world
from tests.notifications.conftest import SMTPServer, smtp_server  # noqa: F401  (fixture)
from tests.reports.conftest import History, calendar, history  # noqa: F401  (fixtures)
from tests.reports.test_digest import MONDAY, org  # noqa: F401  (fixture)
from tests.web.conftest import csrf

# NaN too, where the database keeps it (SQLite stores it as NULL).
ABSURD = [1e308, -1e308, float("inf"), float("-inf")]


@pytest.mark.parametrize(
    ("value", "unit", "target", "refused"),
    [
        (75.0, "%", 75.0, False),
        (0.0, "%", 75.0, False),
        (100.0, "%", 75.0, False),
        (100.5, "%", 75.0, True),
        (-1.0, "%", 75.0, True),
        (130.0, "%", 150.0, False),  # a growth target above 100 %
        (-3.0, "%", -5.0, False),  # a target to fall by 5 %
        (1e13, "%", 150.0, True),
        (5e11, "元", 1e9, False),
        (-20.0, "张", 30.0, False),
        (2e12, "张", 30.0, True),
        (float("nan"), "张", 30.0, True),
        (float("inf"), "%", 75.0, True),
    ],
)
def test_a_value_must_lie_within_its_units_range(
    value: float, unit: str, target: float, refused: bool
) -> None:
    assert (range_problem(value, unit, target) is not None) is refused


def test_the_bound_for_other_units_is_configurable() -> None:
    assert value_range("张", 30.0, bound=1000.0) == (-1000.0, 1000.0)
    assert range_problem(1001.0, "张", 30.0, bound=1000.0) is not None
    assert value_range("%", 75.0, bound=1000.0) == (0.0, 100.0)


def _readings(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(IndicatorReading)) or 0)


def test_a_department_link_cannot_report_an_absurd_value(
    client: TestClient,
    world: World,
    link: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    base = f"/d/{link(world.lead)}/tasks/{world.lead}"
    form = csrf(client, base)
    client.post(f"{base}/ack", data={"csrf_token": form})
    for value in ("1e308", "-1e308", "150%", "inf", "nan", "-5"):
        response = client.post(f"{base}/report", data={
            "note": "进展", f"value:{REIMBURSEMENT}": value, "csrf_token": form})
        assert response.status_code == 303
        page = client.get(base).text
        assert "未能办理" in page and f"指标“{REIMBURSEMENT}”" in page, value
    assert _readings(session_factory) == 0


@pytest.fixture
def cli_world(
    migrated_url: str,
    cli_env: Callable[[str], None],
    session_factory: sessionmaker[Session],
    synced_directory: None,
) -> World:
    cli_env(migrated_url)
    return seed_world(session_factory)


def test_the_command_line_cannot_report_an_absurd_value_either(
    cli_world: World, run_cli: CliRunner, session_factory: sessionmaker[Session]
) -> None:
    common = ("-d", "市卫计局", "--note", "进展", "--as-of", "2015-06-01")
    assert run_cli("task", "ack", str(cli_world.lead), "-d", "市卫计局",
                   "--as-of", "2015-06-01").exit_code == 0
    for value in (f"{BEDS}=1e308", f"{REIMBURSEMENT}=101", f"{BEDS}=-inf"):
        result = run_cli("task", "report", str(cli_world.lead), *common, "--value", value)
        indicator = value.split("=")[0]
        assert result.exit_code == 1 and f"指标“{indicator}”" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert _readings(session_factory) == 0
    fine = run_cli("task", "report", str(cli_world.lead), *common, "--value", f"{BEDS}=31")
    assert fine.exit_code == 0, fine.stderr


def _store_absurd_readings(session_factory: sessionmaker[Session], task_id: int) -> None:
    """Readings as an older duban, or a direct database edit, may have left them."""
    with session_factory.begin() as session:
        task = session.get(Task, task_id)
        assert task is not None
        target = session.scalars(select(Target).where(
            Target.measure_id == task.measure_id, Target.indicator == REIMBURSEMENT)).one()
        event = session.scalars(select(TaskEvent.id).where(TaskEvent.task_id == task_id)).first()
        assert event is not None
        absurd = ABSURD + ([float("nan")] if session.get_bind().dialect.name == "postgresql"
                           else [])
        for day, value in enumerate(absurd, start=9):
            session.add(IndicatorReading(task_id=task_id, target_id=target.id, event_id=event,
                                         value=value, reported_on=date(2015, 10, day)))


def test_a_chart_is_drawn_whatever_values_are_stored(
    session_factory: sessionmaker[Session], synced_directory: None
) -> None:
    world = seed_world(session_factory)
    lifecycle.acknowledge(world.lead, department=HEALTH, now=at("2015-03-03"),
                          session_factory=session_factory)
    lifecycle.report(world.lead, department=HEALTH, note="进展", now=at("2015-09-01"),
                     values={REIMBURSEMENT: 60}, session_factory=session_factory)
    _store_absurd_readings(session_factory, world.lead)
    svg = indicator_chart(session_factory, measure=8, as_of=date(2016, 1, 29))
    assert svg.startswith("<svg") or "<svg" in svg[:200]
    assert "inf" not in svg and "nan" not in svg and "e+308" not in svg


def test_the_weekly_digest_is_sent_whatever_values_are_stored(
    history: History,  # noqa: F811
    org: SMTPServer,  # noqa: F811
    session_factory: sessionmaker[Session],
) -> None:
    _store_absurd_readings(session_factory, history.world.district)
    context = open_context()
    with context.sender() as sender:
        tools = context.round_tools(sender=sender, worker="test")
        result: Any = send_weekly_digest(session_factory, now=MONDAY, tools=tools)
    assert result.round.delivery.sent == 4 and result.round.delivery.dead == 0
    with session_factory() as session:
        statuses = set(session.scalars(select(Delivery.status)))
    assert statuses == {"sent"}
