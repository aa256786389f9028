"""The daily sweep: each measure with due work runs its own measure flow
(so a measure stays one flow in Prefect's history), then the outbox sends
what may go out now. Deployed on a schedule for working-day mornings."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

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


@flow(name="sweep", flow_run_name=_run_name)
def sweep_flow(as_of: str | None = None) -> dict[str, object]:
    """One reminder round as of ``as_of`` (ISO; default now); returns counts."""
    logger = get_run_logger()
    context = open_context(get_settings())
    now = parse_as_of(as_of, context.settings.timezone)
    due = measure_refs(context.session_factory,
                       measures_with_due_work(context.session_factory, now=now))
    notices = 0
    for ref in due:
        result = measure_flow(measure=ref.number, plan=ref.plan, title=ref.title,
                              as_of=now.isoformat(), advance_ladder=True)
        notices += int(result.get("notices", 0))  # type: ignore[call-overload]
    with context.sender() as sender:
        tools = context.round_tools(sender=sender, worker=f"sweep:{flow_run.id or 'local'}")
        report = run_round(context.session_factory, now=now, tools=tools, sweep=False)
    logger.info("措施 %d 项有到期事项,新增通知 %d 条,发送 %d 条,失败 %d 条", len(due), notices,
                report.delivery.sent, report.delivery.failed + report.delivery.dead)
    return {
        "measures": [r.number for r in due],
        "notices": notices,
        "routed": report.routing.routed,
        "sent": report.delivery.sent,
        "failed": report.delivery.failed,
        "dead": report.delivery.dead,
    }
