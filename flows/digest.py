"""The weekly digest: queued through the outbox and sent like every other
message (a thin wrapper over duban.services.reports.digest). Deploy it on a weekly
schedule, e.g. Mondays 09:30 in the organisation's zone (entrypoint
``flows/digest.py:weekly_digest_flow``); running it twice in a week sends nothing
new."""

from __future__ import annotations

from datetime import datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from duban.config import get_settings
from duban.services.ladder.round_lock import round_lock
from duban.services.rounds.weekly import WeeklyDigestResult, send_weekly_digest
from duban.wiring import open_context
from flows.sweep import LOCK_WAIT_SECONDS, run_label


@flow(name="weekly-digest", flow_run_name=lambda: run_label("每周督办简报"))
def weekly_digest_flow(as_of: datetime | None = None) -> WeeklyDigestResult:
    """Queue and send this week's digest as of ``as_of`` (default now; a naive
    time is read in the organisation's zone)."""
    logger = get_run_logger()
    context = open_context(get_settings())
    now = context.clock().resolve(as_of)
    with (
        round_lock(context.session_factory, holder="weekly-digest flow", wait=LOCK_WAIT_SECONDS),
        context.sender() as sender,
    ):
        tools = context.round_tools(sender=sender, worker=f"digest:{flow_run.id or 'local'}")
        result = send_weekly_digest(context.session_factory, now=now, tools=tools)
    queued, delivery = result.queued, result.round.delivery
    logger.info(
        "每周简报:新排队 %d 份(督查督办 %d,单位 %d),本周已有 %d 份;发送 %d 份,失败 %d 份",
        queued.digests + queued.summaries,
        queued.digests,
        queued.summaries,
        queued.existing,
        delivery.sent,
        delivery.failed + delivery.dead,
    )
    return result
