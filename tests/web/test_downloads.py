"""The ledger download on the dashboard and the department calendar feed at
its signed link."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from openpyxl import load_workbook

from tests.db.conftest import World


def test_staff_download_the_ledger_with_every_task(
    client: TestClient, world: World, login: Callable[[TestClient, str], str]
) -> None:
    login(client, "supervisor")
    response = client.get("/dashboard/ledger.xlsx")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert "attachment" in disposition
    # A Chinese file name (RFC 5987), and the 考核 sheet as in the command's workbook.
    assert "filename*=UTF-8''" in disposition
    assert quote("督办台账(截至2015-06-01).xlsx") in disposition
    book = load_workbook(io.BytesIO(response.content))
    assert "考核" in book.sheetnames
    sheet = book.worksheets[0]
    # Each measure's name links to its page on the site.
    links = {c.hyperlink.target for row in sheet.iter_rows(min_row=4) for c in row if c.hyperlink}
    assert links and all(t.startswith("http://duban.test/dashboard/measures/") for t in links)
    task_ids = {world.lead, world.support, world.district, world.later, world.single}
    cells = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
    assert len([r for r in sheet.iter_rows(min_row=2) if any(c.value for c in r)]) >= len(
        task_ids
    )
    assert any("市卫生和计划生育局" in value for value in cells)



def test_the_ledger_is_sent_from_a_file_that_goes_once_sent(
    client: TestClient, world: World, login: Callable[[TestClient, str], str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    # The workbook is streamed from a temporary file (not held as bytes), with
    # its length said up front; the file's folder is removed once it is sent.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    login(client, "coordinator")
    for _ in range(2):
        response = client.get("/dashboard/ledger.xlsx")
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == len(response.content) > 0
        assert response.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        assert load_workbook(io.BytesIO(response.content)).sheetnames[0]
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("duban-ledger-")]

def test_the_department_link_serves_its_calendar_feed_only(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    token = link(world.lead)
    response = client.get(f"/d/{token}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")

    def days(feed: Calendar) -> set[date]:
        return {e.decoded("dtstart") for e in feed.walk("VEVENT")}

    def uids(feed: Calendar) -> set[str]:
        return {str(e["UID"]) for e in feed.walk("VEVENT")}

    # By default the dates from a month ago to 60 days ahead of 2015-06-01;
    # ?days=366 a year ahead (the lead task's due date, 2015-12-31, in it);
    # ?all=1 every task and date.
    feed = Calendar.from_ical(response.content)
    assert days(feed) and all(date(2015, 5, 1) <= d <= date(2015, 7, 31) for d in days(feed))
    year = Calendar.from_ical(client.get(f"/d/{token}/calendar.ics?days=366").content)
    assert date(2015, 12, 31) in days(year) and date(2015, 12, 31) not in days(feed)
    whole = Calendar.from_ical(client.get(f"/d/{token}/calendar.ics?all=1").content)
    assert uids(feed) < uids(year) <= uids(whole)
    for wrong in ("days=0", "days=367", "days=soon"):
        assert client.get(f"/d/{token}/calendar.ics?{wrong}").status_code == 422, wrong
    tampered = client.get(f"/d/{token[:-2]}xx/calendar.ics")
    assert tampered.status_code in (403, 404)


def test_pages_link_to_the_downloads(
    client: TestClient, world: World, link: Callable[..., str],
    login: Callable[[TestClient, str], str],
) -> None:
    token = link(world.lead)
    home = client.get(f"/d/{token}").text
    # The feed link says which dates the calendar holds and how to get more.
    assert f'href="/d/{token}/calendar.ics"' in home and "今后 60 天" in home
    assert f"/d/{token}/calendar.ics?days=366" in home and f"/d/{token}/calendar.ics?all=1" in home
    login(client, "coordinator")
    assert "/dashboard/ledger.xlsx?plan=" in client.get("/dashboard").text
