"""The daily sweep: each measure with due work runs its own measure flow
(so a measure stays one flow in Prefect's history), then the outbox sends
what may go out now. Deployed on a daily morning schedule; the round itself
knows working days and office hours (a holiday's round sends nothing, a
make-up Saturday's does)."""

from __future__ import annotations

import random

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from duban.config import get_settings
from duban.services.assignment import measure_refs
from duban.services.context import open_context
from duban.services.reminders import run_round
from duban.services.sweep import measures_with_due_work
from duban.timeutil import parse_as_of
from flows.measure import measure_flow


def _run_name() -> str:
    as_of = flow_run.parameters.get("as_of")
    return f"每日督办 {as_of or ''}".strip()


# A sweep is idempotent (leases, unique notices), so a run that failed because
# the database or the network was away for a moment is simply run again.
@flow(name="sweep", flow_run_name=_run_name, retries=3, retry_delay_seconds=10)
def sweep_flow(as_of: str | None = None, settle: float | None = None) -> dict[str, object]:
    """One reminder round as of ``as_of`` (ISO; default now); returns counts.

    With ``settle`` (seconds) the round waits after each phase until the work
    of that phase is finished by everyone doing the same round (replays run in
    step on several workers; see duban.services.reminders.run_round)."""
    logger = get_run_logger()
    context = open_context(get_settings())
    now = parse_as_of(as_of, context.settings.timezone)
    due = measure_refs(
        context.session_factory, measures_with_due_work(context.session_factory, now=now)
    )
    # Sweeps running at once start at different measures; a measure another
    # sweep has finished meanwhile is skipped without a flow run.
    random.Random(str(flow_run.id)).shuffle(due)
    notices = ran = 0
    # The subflows run inside this flow run, whose heartbeat covers them; their
    # own heartbeat thread would cost ~1 s per measure when it is joined.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        for ref in due:
            if ref.measure_id is not None and not measures_with_due_work(
                context.session_factory, now=now, measure_ids=[ref.measure_id]
            ):
                continue
            result = measure_flow(
                measure=ref.number,
                plan=ref.plan,
                title=ref.title,
                as_of=now.isoformat(),
                advance_ladder=True,
            )
            ran += 1
            notices += int(result.get("notices", 0))  # type: ignore[call-overload]
    with context.sender() as sender:
        tools = context.round_tools(sender=sender, worker=f"sweep:{flow_run.id or 'local'}")
        report = run_round(
            context.session_factory, now=now, tools=tools, sweep=False, settle=settle
        )
    logger.info(
        "措施 %d 项有到期事项(本流程处理 %d 项),新增通知 %d 条,发送 %d 条,失败 %d 条",
        len(due),
        ran,
        notices,
        report.delivery.sent,
        report.delivery.failed + report.delivery.dead,
    )
    return {
        "measures": sorted(r.number for r in due),
        "measure_flows": ran,
        "notices": notices,
        "routed": report.routing.routed,
        "sent": report.delivery.sent,
        "failed": report.delivery.failed,
        "dead": report.delivery.dead,
    }
