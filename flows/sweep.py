"""The daily sweep: each measure with due work is advanced by its own task
run (措施N, so Prefect's history shows each measure's part), then the outbox
sends what may go out now. A task run costs ~3 ms of Prefect bookkeeping, a
subflow run ~120 ms: at thousands of measures a day that decides. Deployed
on a daily morning schedule; the round itself knows working days and office
hours (a holiday's round sends nothing, a make-up Saturday's does)."""

from __future__ import annotations

import random
from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run, task_run

from duban.config import get_settings
from duban.ops.faults import pause_point
from duban.services.calendar.changes import sync_calendar
from duban.services.ladder.core import OrgClock
from duban.services.ladder.round_lock import round_lock
from duban.services.ladder.sweep import (
    SweepReport,
    advance,
    measures_with_due_work,
    release_waiting,
)
from duban.services.plans.assignment import MeasureRef, measure_refs
from duban.services.rounds.daily import run_round
from duban.timeutil import parse_as_of
from duban.wiring import AppContext, open_context

# How long a flow run waits for another process's round before it fails (and
# Prefect retries it).
LOCK_WAIT_SECONDS = 600.0


def _task_name() -> str:
    ref = task_run.parameters["ref"]
    return f"措施{ref.number} {ref.title}".strip()


def _run_name() -> str:
    as_of = flow_run.parameters.get("as_of")
    return f"每日督办 {as_of or ''}".strip()


# A sweep is idempotent (leases, unique notices), so a run that failed because
# the database or the network was away for a moment is simply run again.
@task(name="advance-measure", task_run_name=_task_name, cache_policy=NO_CACHE)
def advance_measure(
    context: AppContext, clock: OrgClock, ref: MeasureRef, now: datetime
) -> SweepReport:
    """Evaluate the escalation ladder of measure ``ref``'s due tasks."""
    assert ref.measure_id is not None
    return advance(
        context.session_factory,
        now=now,
        calendar=context.calendar,
        clock=clock,
        measure_ids=[ref.measure_id],
        on_claimed=lambda _ids: pause_point(context.settings, "sweep-claimed"),
    )


@flow(name="sweep", flow_run_name=_run_name, retries=3, retry_delay_seconds=10)
def sweep_flow(as_of: str | None = None, settle: float | None = None) -> dict[str, object]:
    """One reminder round as of ``as_of`` (ISO; default now); returns counts.

    With ``settle`` (seconds) the round waits after each phase until the work
    of that phase is finished by everyone doing the same round (replays run in
    step on several workers; see duban.services.rounds.daily.run_round)."""
    context = open_context(get_settings())
    # Replays in step on several workers (settle) share rounds on purpose.
    with round_lock(
        context.session_factory,
        holder="sweep flow",
        shared=settle is not None,
        wait=LOCK_WAIT_SECONDS,
    ):
        return _sweep(context, as_of, settle)


def _sweep(context: AppContext, as_of: str | None, settle: float | None) -> dict[str, object]:
    logger = get_run_logger()
    now = parse_as_of(as_of, context.settings.timezone)
    sync_calendar(
        context.session_factory, calendar=context.calendar, now=now,
        policy=context.assignment_policy,
    )
    release_waiting(context.session_factory, now=now, calendar=context.calendar)
    due = measure_refs(
        context.session_factory, measures_with_due_work(context.session_factory, now=now)
    )
    # Sweeps running at once start at different measures; a measure another
    # sweep has finished meanwhile is skipped without a task run.
    random.Random(str(flow_run.id)).shuffle(due)
    notices = ran = 0
    clock = context.clock()  # the org's zone and office start, read once per round
    for ref in due:
        if ref.measure_id is None or not measures_with_due_work(
            context.session_factory, now=now, measure_ids=[ref.measure_id]
        ):
            continue
        result = advance_measure(context, clock, ref, now)
        ran += 1
        notices += result.notices
    with context.sender() as sender:
        tools = context.round_tools(sender=sender, worker=f"sweep:{flow_run.id or 'local'}")
        report = run_round(
            context.session_factory, now=now, tools=tools, sweep=False, settle=settle
        )
    logger.info(
        "措施 %d 项有到期事项(本次推进 %d 项),新增通知 %d 条,发送 %d 条,失败 %d 条",
        len(due),
        ran,
        notices,
        report.delivery.sent,
        report.delivery.failed + report.delivery.dead,
    )
    return {
        "measures": sorted(r.number for r in due),
        "advanced": ran,
        "notices": notices,
        "routed": report.routing.routed,
        "sent": report.delivery.sent,
        "failed": report.delivery.failed,
        "dead": report.delivery.dead,
    }
