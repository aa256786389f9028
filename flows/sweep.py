"""The daily sweep: each measure with due work is advanced by its own task
run (措施N, so Prefect's history shows each measure's part), then the outbox
sends what may go out now. A task run costs ~3 ms of Prefect bookkeeping, a
subflow run ~120 ms: at thousands of measures a day that decides. Deployed
on a daily morning schedule; the round itself knows working days and office
hours (a holiday's round sends nothing, a make-up Saturday's does)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run, task_run

from duban.config import get_settings
from duban.services.ladder.core import OrgClock
from duban.services.ladder.round_lock import round_lock
from duban.services.ladder.sweep import SweepReport, advance
from duban.services.plans.to_assign import MeasureRef
from duban.services.rounds.daily import run_round
from duban.services.rounds.fanout import SweepRound, sweep_by_measure
from duban.wiring import AppContext, open_context

# How long a flow run waits for another process's round before it fails (and
# Prefect retries it).
LOCK_WAIT_SECONDS = 600.0


def _task_name() -> str:
    ref = task_run.parameters["ref"]
    return f"措施{ref.number} {ref.title}".strip()


def run_label(prefix: str) -> str:
    """A flow run's name: ``prefix`` and its ``as_of`` parameter as given
    (local wall-clock time when the CLI started it), to the minute."""
    as_of = flow_run.parameters.get("as_of")
    if isinstance(as_of, str):  # as the API hands parameters back
        as_of = datetime.fromisoformat(as_of)
    shown = as_of.strftime("%Y-%m-%dT%H:%M") if isinstance(as_of, datetime) else ""
    return f"{prefix} {shown}".strip()


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
        on_claimed=context.faults.sweep_claimed,
    )


@flow(name="sweep", flow_run_name=lambda: run_label("每日督办"), retries=3, retry_delay_seconds=10)
def sweep_flow(as_of: datetime | None = None, settle: float | None = None) -> SweepRound:
    """One reminder round as of ``as_of`` (default now; a naive time is read in
    the organisation's zone).

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


def _sweep(context: AppContext, as_of: datetime | None, settle: float | None) -> SweepRound:
    logger = get_run_logger()
    clock = context.clock()  # the org's zone and office start, read once per round
    now = clock.resolve(as_of)
    measures = sweep_by_measure(
        context.session_factory,
        now=now,
        calendar=context.calendar,
        policy=context.assignment_policy,
        advance_one=lambda ref: advance_measure(context, clock, ref, now),
        order_seed=str(flow_run.id),
    )
    with context.sender() as sender:
        tools = context.round_tools(sender=sender, worker=f"sweep:{flow_run.id or 'local'}")
        # A replay in step (settle) skips the day's lights: no page reads them.
        report = run_round(
            context.session_factory, now=now, tools=tools, sweep=False, settle=settle,
            store_lights=settle is None,
        )
    report.sweep = measures.sweep
    logger.info(
        "措施 %d 项有到期事项(本次推进 %d 项),新增通知 %d 条,发送 %d 条,失败 %d 条",
        len(measures.due),
        measures.advanced,
        report.sweep.notices,
        report.delivery.sent,
        report.delivery.failed + report.delivery.dead,
    )
    return SweepRound(measures=measures, round=report)
