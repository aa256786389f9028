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



def test_each_tasks_ladder_version_gives_its_next_step_streamed_as_held(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    """A streamed batch's ladders are its tasks' own versions (their column,
    not read again): tasks on a stored version with other labels show them."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from sqlalchemy import select, update

    from duban.domain.escalation_policy import DEFAULT_POLICY
    from duban.services.ladder.policy import store_policy
    from models import Task

    strict = replace(DEFAULT_POLICY, name="从严", steps=tuple(
        replace(step, label=f"从严{step.label}") for step in DEFAULT_POLICY.steps))
    with session_factory() as session:
        row, _change = store_policy(strict, session=session, now=datetime(2016, 1, 1, tzinfo=UTC))
        ids = sorted(session.scalars(select(Task.id)))
        strict_ids = ids[1::2]  # the open task with a step ahead among them
        session.execute(update(Task).where(Task.id.in_(strict_ids)).values(policy_id=row.id))
        session.commit()
    ledger = build_ledger(session_factory, as_of=AS_OF, calendar=history.calendar)
    with session_factory() as session:
        rows = list(stream_ledger(session, as_of=AS_OF, calendar=history.calendar,
                                  batch=2).rows)
    assert rows == ledger.rows
    steps = {r.task_id: r.next_step for r in rows}
    assert any(steps[i].endswith("从严报送提醒") for i in strict_ids)
    assert not any("从严" in steps[i] for i in set(ids) - set(strict_ids))
