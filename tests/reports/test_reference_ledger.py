"""The ledger of the reference plan (213 tasks) replayed to mid-plan, opened
in LibreOffice: converted to PDF (and PNG pages in test-artifacts/ for a
reviewer) and to CSV, which must list every task; the light cells' fills are
checked with openpyxl against the lights ``duban tasks`` shows.

Built once per module on SQLite: the plan assigned on 2014-09-01, a few
departments working (measure 4 done on time, measure 5's lead reporting every
quarter), and one reminder round on 2016-01-15 as after an outage, which
records the escalations of every overdue task. The small-world tests cover
PostgreSQL.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from duban.config import DEFAULT_DIRECTORY_FILE
from duban.db import engine_for_url, make_session_factory
from duban.domain.org import OfficeHours
from duban.domain.scorecard import Period
from duban.domain.status import Light
from duban.domain.workdays import WorkCalendar
from duban.services.accounts.directory import load_directory_file, sync_directory
from duban.services.calendar.data import build_work_calendar
from duban.services.ladder.core import OrgClock
from duban.services.outbox.contract import DeliveryContext
from duban.services.plans.assignment import assign_measure
from duban.services.plans.files import parse_plan_file
from duban.services.plans.importer import import_plan
from duban.services.plans.to_assign import measures_to_run
from duban.services.reports.ledger import build_ledger
from duban.services.reports.ledger_files import LEDGER_COLUMNS, write_ledger_xlsx
from duban.services.reports.ledger_model import Ledger
from duban.services.reports.ledger_styles import LIGHT_FILLS
from duban.services.reports.scorecard import scorecard_from_ledger
from duban.services.rounds.daily import RoundTools, run_round
from duban.services.tasks import lifecycle
from duban.services.tasks.queries import list_tasks
from models import Department, Measure, Task
from tests.paths import REFERENCE_PLAN
from tests.reports.test_ledger_streamed import same_ledger

ZONE = ZoneInfo("Asia/Shanghai")
AS_OF = date(2016, 1, 15)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HEADERS = [c.header for c in LEDGER_COLUMNS]


def at(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(10), ZONE)


@dataclass(frozen=True)
class Reference:
    session_factory: sessionmaker[Session]
    calendar: WorkCalendar
    ledger: Ledger
    workbook: Path


class _Sent:
    ok, permanent, error = True, False, None


class _NoSender:
    def send(self, url: str, message: object) -> _Sent:  # no contacts: never called
        return _Sent()


def _no_sync(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _tasks_of(session_factory: sessionmaker[Session], measure: int) -> list[tuple[int, str, str]]:
    with session_factory() as session:
        return [
            (task_id, name, role)
            for task_id, name, role in session.execute(
                select(Task.id, Department.name, Task.role)
                .join(Department, Department.id == Task.department_id)
                .join(Measure, Measure.id == Task.measure_id)
                .where(Measure.number == measure)
                .order_by(Task.id)
            )
        ]


@pytest.fixture(scope="module")
def reference(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reference]:
    folder = tmp_path_factory.mktemp("reference")
    shutil.copyfile(sqlite_template, folder / "duban.db")
    engine = engine_for_url(f"sqlite:///{folder / 'duban.db'}")
    # A throwaway file: skip the fsync of each of the round's ~1,000 small
    # transactions (the rules under test do not depend on durability).
    event.listen(engine, "connect", _no_sync)
    sf = make_session_factory(engine)
    calendar = build_work_calendar([])
    sync_directory(load_directory_file(DEFAULT_DIRECTORY_FILE), session_factory=sf)
    draft, text = parse_plan_file(REFERENCE_PLAN)
    key = import_plan(draft, session_factory=sf, source_text=text).key
    for ref in measures_to_run(sf, plan=key, measure=None):
        if ref.assignable:
            assign_measure(
                sf,
                plan=key,
                measure=ref.number,
                now=datetime(2014, 9, 1, 9, tzinfo=ZONE).astimezone(UTC),
                calendar=calendar,
            )
    for task_id, department, _role in _tasks_of(sf, 4):
        lifecycle.acknowledge(
            task_id, department=department, now=at("2014-09-03"), session_factory=sf
        )
        lifecycle.submit(
            task_id, department=department, note="已完成", now=at("2015-11-30"), session_factory=sf
        )
        lifecycle.approve(task_id, actor="督办科", now=at("2015-12-02"), session_factory=sf)
    for task_id, department, role in _tasks_of(sf, 5):
        if role != "lead":
            continue
        lifecycle.acknowledge(
            task_id, department=department, now=at("2014-09-03"), session_factory=sf
        )
        for day in (
            "2014-10-08",
            "2015-01-06",
            "2015-04-03",
            "2015-07-03",
            "2015-10-09",
            "2016-01-06",
        ):
            lifecycle.report(
                task_id, department=department, note=f"{day} 进展", now=at(day), session_factory=sf
            )
    clock = OrgClock(ZONE)
    tools = RoundTools(
        calendar=calendar,
        hours=OfficeHours(time(9), time(18)),
        clock=clock,
        sender=_NoSender(),
        render=lambda _t, _c: _Sent(),  # type: ignore[arg-type, return-value]
        context=DeliveryContext(
            base_url=None, sender_name="督办科", calendar=calendar, clock=clock
        ),
    )
    run_round(sf, now=datetime.combine(AS_OF, time(9), ZONE), tools=tools)
    ledger = build_ledger(sf, as_of=AS_OF, calendar=calendar)
    card = scorecard_from_ledger(ledger, period=Period(), calendar=calendar)
    workbook = write_ledger_xlsx(ledger, folder / "reference-ledger.xlsx", scorecard=card)
    try:
        yield Reference(sf, calendar, ledger, workbook)
    finally:
        engine.dispose()


def test_every_task_with_the_light_duban_tasks_shows(reference: Reference) -> None:
    ledger = reference.ledger
    views = list_tasks(reference.session_factory, as_of=AS_OF, calendar=reference.calendar)
    assert len(ledger.rows) == len(views) == 213
    expected = {v.id: v.light for v in views}
    book = load_workbook(reference.workbook)
    sheet = book["台账"]
    light_col, id_col = HEADERS.index("灯色") + 2, HEADERS.index("任务编号") + 2  # after 序号
    seen: Counter[Light] = Counter()
    for number in range(4, sheet.max_row + 1):  # after the title rows and the header
        task_id = sheet.cell(number, id_col).value
        light = expected.pop(task_id)
        cell = sheet.cell(number, light_col)
        assert cell.fill.fill_type == "solid"
        assert cell.fill.fgColor.rgb == LIGHT_FILLS[light], task_id
        seen[light] += 1
    assert expected == {}  # every task, once
    assert seen[Light.RED] and seen[Light.YELLOW] and seen[Light.GREEN]
    # The round on 2016-01-15 recorded the ladder of the tasks due in December.
    overdue = [r for r in ledger.rows if r.light is Light.RED]
    assert overdue and all(r.max_level == 3 for r in overdue if r.due <= date(2015, 12, 31))
    sections = ledger.by_section()
    assert sum(s.tasks for s in sections) == 213 and len(sections) >= 5


def _soffice() -> str | None:
    found = shutil.which("libreoffice") or shutil.which("soffice")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is required in CI (.ci/run installs libreoffice-calc-nogui)")
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    return found


def _convert(soffice: str, source: Path, kind: str, outdir: Path, profile: Path) -> Path:
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            kind,
            "--outdir",
            str(outdir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    result = outdir / f"{source.stem}.{kind.split(':')[0]}"
    assert result.is_file(), f"LibreOffice wrote no {kind} for {source.name}"
    return result


def test_opens_in_libreoffice(reference: Reference, tmp_path: Path) -> None:
    soffice = _soffice()
    assert soffice is not None
    profile = tmp_path / "lo-profile"
    # Read back through LibreOffice's own import: the first sheet as CSV.
    exported = _convert(
        soffice, reference.workbook, "csv:Text - txt - csv (StarCalc):44,34,76", tmp_path, profile
    )
    with exported.open(encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0][0] == reference.ledger.dated_title and table[1][0] == "制表单位:督办科"
    assert table[2] == ["序号", *HEADERS]
    id_col, light_col = HEADERS.index("任务编号") + 1, HEADERS.index("灯色") + 1
    lights = {int(r[id_col]): r[light_col] for r in table[3:]}
    assert lights == {r.task_id: r.light_label for r in reference.ledger.rows}
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = _convert(soffice, reference.workbook, "pdf", ARTIFACTS, profile)
    assert pdf.stat().st_size > 10_000
    if shutil.which("pdftoppm"):
        for stale in ARTIFACTS.glob("reference-ledger-*.png"):
            stale.unlink()
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "150",
                "-png",
                "-f",
                "1",
                "-l",
                "2",
                str(pdf),
                str(ARTIFACTS / "reference-ledger"),
            ],
            check=True,
            timeout=120,
        )
        assert list(ARTIFACTS.glob("reference-ledger-*.png"))


def test_streamed_it_is_the_ledger_held(reference: Reference, tmp_path: Path) -> None:
    """Read, assessed and written 7 tasks at a time (see test_ledger_streamed)."""
    rows = same_ledger(reference.session_factory, reference.calendar, AS_OF, tmp_path, batch=7)
    assert rows == len(reference.ledger.rows) > 200
