"""The streamed ledger (read, assessed and written a batch of tasks at a time,
its summaries and scorecard counted as the rows go by) is the ledger that
:func:`build_ledger` holds: the same rows in the same order, the same
summaries and scorecard (and the scorecard counted in SQL for the download
is the rows'), and the same workbook part for part, on SQLite and
PostgreSQL; batches of a few tasks so that every fixture spans several."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from duban.domain.periods import Period
from duban.domain.workdays import WorkCalendar
from duban.services.reports.ledger import build_ledger, stream_ledger
from duban.services.reports.ledger_files import write_ledger_xlsx, write_streamed_ledger_xlsx
from duban.services.reports.ledger_tally import ScoreTally
from duban.services.reports.scorecard import counted_scorecard, scorecard_from_ledger
from tests.reports.conftest import History

AS_OF = date(2016, 1, 29)
PERIODS = (Period(), Period(date(2015, 10, 1), date(2015, 12, 31)))


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {
            name: archive.read(name)
            for name in archive.namelist()
            if name != "docProps/core.xml"  # the time it was written
        }


def same_ledger(
    session_factory: sessionmaker[Session],
    calendar: WorkCalendar,
    as_of: date,
    folder: Path,
    *,
    batch: int,
    listed: int = 5000,
) -> int:
    """Assert the streamed ledger is the held one; returns its rows."""
    ledger = build_ledger(session_factory, as_of=as_of, calendar=calendar)
    with session_factory() as session:
        stream = stream_ledger(session, as_of=as_of, calendar=calendar, batch=batch,
                                  listed=listed)
        assert stream.ledger.plans == ledger.plans
        assert list(stream.rows) == ledger.rows
    for number, period in enumerate(PERIODS):
        card = scorecard_from_ledger(ledger, period=period, calendar=calendar)
        held = write_ledger_xlsx(ledger, folder / f"held{number}.xlsx", scorecard=card,
                                 base_url="http://127.0.0.1:8000/")
        streamed = folder / f"streamed{number}.xlsx"
        scoring = ScoreTally(as_of, period, calendar, batch=batch)
        with session_factory() as session:
            stream = stream_ledger(session, as_of=as_of, calendar=calendar, batch=batch,
                                  listed=listed)
            tally = write_streamed_ledger_xlsx(stream, streamed, scoring=scoring,
                                               base_url="http://127.0.0.1:8000/")
        assert scoring.scorecard(ledger) == card
        # The download's 考核 sheet counted in SQL (every plan and period:
        # from the day's kept cells) is the rows' scorecard.
        for store in (False, True):  # cells worked out, then stored and read
            counted = counted_scorecard(session_factory, as_of=as_of, calendar=calendar,
                                        period=period, all_plans=True, store=store)
            assert counted == card
        one_plan = counted_scorecard(session_factory, as_of=as_of, calendar=calendar,
                                     period=period, plan=ledger.plans[0][0])
        assert one_plan == card
        assert tally.by_section() == ledger.by_section()
        assert tally.by_department() == ledger.by_department()
        assert tally.rows == len(ledger.rows)
        assert _parts(streamed) == _parts(held)
    return len(ledger.rows)


def test_the_small_world_streamed_is_the_ledger_held(
    history: History, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    assert same_ledger(session_factory, history.calendar, AS_OF, tmp_path, batch=2) == 5


def test_batches_read_by_their_measures_are_the_ledger_held(
    history: History, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """A batch of more tasks than its ids are listed for reads their history
    by the batch's measures instead."""
    assert same_ledger(session_factory, history.calendar, AS_OF, tmp_path, batch=2,
                       listed=1) == 5

