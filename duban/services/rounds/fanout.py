"""The daily sweep fanned out over measures: each measure with due work is
advanced by its own call (the sweep flow makes each call a Prefect task run,
措施N, so Prefect's history shows each measure's part); the round's delivery
follows (:func:`duban.services.rounds.daily.run_round` with ``sweep=False``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from duban.domain.assignment import AssignmentPolicy
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.changes import sync_calendar
from duban.services.ladder.sweep import SweepReport, measures_with_due_work, release_waiting
from duban.services.plans.to_assign import MeasureRef, measure_refs
from duban.services.rounds.daily import RoundReport


@dataclass
class MeasureSweep:
    """What a fan-out did: the measures with due work when it began (by plan
    and number), how many of them it advanced itself (a measure another sweep
    finished meanwhile is skipped), and the merged sweep report."""

    due: list[MeasureRef] = field(default_factory=list)
    advanced: int = 0
    sweep: SweepReport = field(default_factory=SweepReport)

    @property
    def numbers(self) -> list[int]:
        """The due measures' numbers, sorted."""
        return sorted(ref.number for ref in self.due)


@dataclass
class SweepRound:
    """A daily sweep fanned out over measures, then its delivery round (the
    round's ``sweep`` is the fan-out's merged report)."""

    measures: MeasureSweep
    round: RoundReport


def sweep_by_measure(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    calendar: WorkCalendar,
    policy: AssignmentPolicy,
    advance_one: Callable[[MeasureRef], SweepReport],
    order_seed: str = "",
) -> MeasureSweep:
    """Bring the calendar's changes in, release tasks waiting for a year now
    covered, then call ``advance_one(ref)`` once for each measure that still has
    due work when its turn comes. Sweeps running at once (different
    ``order_seed``) start at different measures."""
    sync_calendar(session_factory, calendar=calendar, now=now, policy=policy)
    release_waiting(session_factory, now=now, calendar=calendar)
    result = MeasureSweep(
        due=measure_refs(session_factory, measures_with_due_work(session_factory, now=now))
    )
    order = list(result.due)
    random.Random(order_seed).shuffle(order)
    for ref in order:
        if ref.measure_id is None or not measures_with_due_work(
            session_factory, now=now, measure_ids=[ref.measure_id]
        ):
            continue
        result.sweep.add(advance_one(ref))
        result.advanced += 1
    return result
