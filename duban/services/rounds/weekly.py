"""The weekly digest queued and sent in one go (``duban digest``, the weekly flow).

What it says and to whom is :mod:`duban.services.reports.digest`; the outbox
sends it with the builders of :class:`duban.services.rounds.daily.RoundTools`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from duban.services.reports.digest import DigestQueueReport, queue_weekly_digest
from duban.services.rounds.daily import RoundReport, RoundTools, run_round


@dataclass
class WeeklyDigestResult:
    queued: DigestQueueReport
    round: RoundReport

    def as_dict(self) -> dict[str, object]:
        return {
            "week": self.queued.week.isoformat(),
            "digests": self.queued.digests,
            "summaries": self.queued.summaries,
            "existing": self.queued.existing,
            "sent": self.round.delivery.sent,
            "failed": self.round.delivery.failed,
            "dead": self.round.delivery.dead,
        }


def send_weekly_digest(
    session_factory: sessionmaker[Session], *, now: datetime, tools: RoundTools
) -> WeeklyDigestResult:
    """Queue this week's digest and summaries, then run the outbox (route and
    dispatch, without a sweep), which sends them if ``now`` is inside office
    hours on a working day; otherwise the next daily round sends them."""
    queued = queue_weekly_digest(
        session_factory, now=now, send_time=tools.send_time, clock=tools.clock
    )
    report = run_round(session_factory, now=now, tools=tools, sweep=False)
    return WeeklyDigestResult(queued=queued, round=report)
