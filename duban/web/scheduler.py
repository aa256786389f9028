"""The daily reminder round inside ``duban serve``: one background thread.

On each working day, once office hours have begun, it runs the full round
(sweep → route → deliver, :func:`duban.services.rounds.daily.run_round`) through
the real sender; during office hours it also delivers whatever falls due
later (retries, re-sent notices, fixed addresses) — when woken by the web or
at the next retry time, and at least every ``poll`` seconds. A failed round
is logged and tried again at the next wake; the thread never dies of it.

A round holds the round lock (:mod:`duban.services.ladder.round_lock`): while
another process runs one (a replay, a second server), this one skips its
round and looks again at the next wake.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta

from duban.domain.workdays import likely_workday
from duban.services.accounts.org import org_settings
from duban.services.ladder.round_lock import RoundBusyError, round_lock
from duban.services.rounds.daily import next_delivery_time, run_round
from duban.wiring import AppContext

log = logging.getLogger("duban.scheduler")


class Scheduler:
    """Runs rounds on ``context`` with ``now()`` as the clock (see module doc)."""

    def __init__(
        self,
        context: AppContext,
        now: Callable[[], datetime],
        *,
        poll: float = 300.0,
        worker: str = "serve",
    ) -> None:
        self.context = context
        self.now = now
        self.poll = poll
        self.worker = worker
        self.rounds = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swept_on: date | None = None
        self._woken = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="duban-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Deliver soon (inside office hours): something was queued or fixed."""
        self._woken = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.step()
            except Exception:  # a bad round must not end the scheduler
                log.exception("督办轮次失败,稍后重试")
                wait = self.poll
            self._wake.wait(max(wait, 1.0))
            self._wake.clear()

    def step(self) -> float:
        """Do what is due now; return seconds until the next look."""
        with self.context.session_factory() as session:
            org = org_settings(session)
        calendar = self.context.calendar
        now = self.now()
        local = now.astimezone(self.context.clock().zone)
        workday = likely_workday(calendar, local.date())
        started = local.time() >= org.office_hours.start
        in_hours = workday and started and local.time() < org.office_hours.end
        if workday and started and self._swept_on != local.date():
            if self._round(now, sweep=True):
                self._swept_on = local.date()
        elif in_hours:
            due = next_delivery_time(self.context.session_factory)
            if self._woken or (due is not None and due <= now):
                self._round(now, sweep=False)
        self._woken = False
        return self._seconds_to_next(now, local.date(), in_hours)

    def _round(self, now: datetime, *, sweep: bool) -> bool:
        """Run a round unless another process is running one (then False:
        tried again at the next wake, at the latest after ``poll`` seconds)."""
        try:
            with (
                round_lock(self.context.session_factory, holder="duban serve"),
                self.context.sender() as sender,
            ):
                tools = self.context.round_tools(sender=sender, worker=self.worker)
                report = run_round(
                    self.context.session_factory, now=now, tools=tools, sweep=sweep,
                    store_lights=sweep,
                )
        except RoundBusyError as busy:
            log.info("本轮跳过:%s", busy)
            return False
        self.rounds += 1
        log.info(
            "督办轮次 %s:新增通知 %d,发送 %d,待重试 %d,失败 %d",
            now.isoformat(timespec="minutes"),
            report.sweep.notices,
            report.delivery.sent,
            report.delivery.failed,
            report.delivery.dead,
        )
        return True

    def _seconds_to_next(self, now: datetime, today: date, in_hours: bool) -> float:
        """Until the next office morning (today's, if still ahead), or sooner
        inside office hours: the next retry, or the poll interval."""
        clock = self.context.clock()
        day = today
        for _ in range(32):
            if likely_workday(self.context.calendar, day) and clock.morning(day) > now:
                break
            day += timedelta(days=1)
        candidates = [(clock.morning(day) - now).total_seconds()]
        if in_hours:
            candidates.append(self.poll)
            due = next_delivery_time(self.context.session_factory)
            if due is not None and due > now:
                candidates.append((due - now).total_seconds())
        return max(1.0, min(candidates))
