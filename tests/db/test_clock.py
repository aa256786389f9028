"""The one clock: the organisation file's zone (the one zone source), its
office start, and an injectable reading of the time."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.services.accounts.org_file import load_org_file, sync_org
from duban.timeutil import DEFAULT_ZONE, parse_local
from duban.wiring import AppContext

URUMQI = ZoneInfo("Asia/Urumqi")  # UTC+6, two hours behind Beijing


def context_for(url: str, tmp_path: Path) -> AppContext:
    return AppContext(Settings(database_url=url, data_dir=tmp_path / "data"))


def test_without_an_org_file_the_clock_is_in_the_default_zone(
    migrated_url: str, tmp_path: Path
) -> None:
    clock = context_for(migrated_url, tmp_path).clock()
    assert (clock.zone, clock.office_start) == (DEFAULT_ZONE, time(9, 0))


def test_the_org_files_zone_and_office_start_are_the_clocks_and_as_of_is_read_in_it(
    migrated_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        yaml.safe_dump({"timezone": "Asia/Urumqi", "office_hours": "10:00-19:00",
                        "departments": []}),
        encoding="utf-8",
    )
    sync_org(load_org_file(path), session_factory=session_factory,
             now=datetime(2015, 8, 1, tzinfo=UTC))
    context = context_for(migrated_url, tmp_path)
    clock = context.clock()
    assert (clock.zone, clock.office_start) == (URUMQI, time(10, 0))
    # A --as-of without offset is wall-clock time in the organisation's zone.
    assert clock.resolve(parse_local("2015-09-01")) == datetime(2015, 9, 1, 3, tzinfo=UTC)
    assert clock.morning(clock.today(datetime(2015, 9, 1, 20, tzinfo=UTC))) == datetime(
        2015, 9, 2, 10, tzinfo=URUMQI
    )


def test_the_time_is_read_through_the_injected_reading(migrated_url: str, tmp_path: Path) -> None:
    context = context_for(migrated_url, tmp_path)
    moment = datetime(2016, 1, 4, 1, 30, tzinfo=UTC)
    context.read_clock = lambda: moment
    assert context.now() == moment and context.clock().today() == moment.date()
    assert context.clock().resolve(None) == moment
