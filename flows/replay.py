"""A replay: the daily sweep of every working day in a date range, as if each
office morning had come (``duban replay`` does the same in one process).

Coordinators use it to rehearse a plan (演练) on a copy of the data; operators
use it to load-test a Prefect server and its workers. Several replay runs of
the same range may run at once on several workers: every round waits after
each phase until everyone's work of that phase is done (``settle``), so they
move through the days in step, share each day's tasks and deliveries, and end
in the state one process would have reached."""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from duban.config import get_settings
from duban.services.ladder.round_lock import round_lock
from duban.services.rounds.daily import RoundReport, outstanding, replay
from duban.wiring import open_context
from flows.sweep import LOCK_WAIT_SECONDS, sweep_flow

# Longest wait for the other replays' share of a phase (their leases last 10 minutes).
DEFAULT_SETTLE_SECONDS = 600.0


def _run_name() -> str:
    params = flow_run.parameters
    return f"演练 {params.get('start')}至{params.get('end')}"


# Run again after a failure (the database was away longer than the sweep's own
# retries): the days already replayed are idle and pass without a flow run.
@flow(name="replay", flow_run_name=_run_name, retries=2, retry_delay_seconds=10)
def replay_flow(
    start: date, end: date, settle: float = DEFAULT_SETTLE_SECONDS
) -> list[RoundReport]:
    """Run the sweep flow for every working day in [start, end], then that
    day's delivery retries; returns the rounds that did something."""
    logger = get_run_logger()
    context = open_context(get_settings())

    def morning(now: datetime) -> RoundReport:
        if outstanding(context.session_factory, now=now).idle:
            return RoundReport(at=now)  # the sweep would find nothing: no flow run
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return sweep_flow(as_of=now, settle=settle).round

    with (
        round_lock(context.session_factory, holder="replay flow", shared=True,
                   wait=LOCK_WAIT_SECONDS),
        context.sender() as sender,
    ):
        tools = context.round_tools(sender=sender, worker=f"replay:{flow_run.id or 'local'}")
        rounds = replay(
            context.session_factory,
            start=start,
            end=end,
            tools=tools,
            morning=morning,
            settle=settle,
        )
    logger.info(
        "演练 %s至%s:%d 个有动作的轮次,新增通知 %d 条,本流程发送 %d 条",
        start,
        end,
        len(rounds),
        sum(r.sweep.notices for r in rounds),
        sum(r.delivery.sent for r in rounds),
    )
    return rounds
