"""The measure flow: one Prefect flow run per measure (措施N 标题).

A thin wrapper: the rules live in duban.services and duban.domain. The run
creates the measure's missing tasks and queues their 交办通知; the daily sweep
then moves them along the escalation ladder (one task run per measure, see
flows/sweep.py). Our database, not Prefect's states, records the work.
"""

from __future__ import annotations

import os
from datetime import datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from duban.config import get_settings
from duban.ops.faults import pause_point
from duban.services.plans.assignment import assign_measure
from duban.timeutil import parse_as_of
from duban.wiring import open_context


def _run_name() -> str:
    params = flow_run.parameters
    return f"措施{params['measure']} {params.get('title') or ''}".strip()


@flow(name="measure", flow_run_name=_run_name, retries=1, retry_delay_seconds=2)
def measure_flow(
    measure: int,
    plan: str | None = None,
    title: str = "",
    as_of: str | None = None,
) -> dict[str, object]:
    """Assign measure ``measure`` of ``plan`` as of ``as_of`` (ISO; default now):
    create its missing tasks and queue their 交办通知 (rerunning is safe)."""
    logger = get_run_logger()
    context = open_context(get_settings())
    now: datetime = parse_as_of(as_of, context.settings.timezone)
    crash_after = context.settings.fault_crash_after_tasks

    def on_task_created(count: int) -> None:
        pause_point(context.settings, "task-created")
        if crash_after is not None and count >= crash_after:
            logger.error("fault injection: crashing after %d new tasks", count)
            os._exit(70)

    result = assign_measure(
        context.session_factory,
        plan=plan,
        measure=measure,
        now=now,
        calendar=context.calendar,
        policy=context.assignment_policy,
        on_task_created=on_task_created,
    )
    logger.info(
        "措施%s:新交办 %d 项,已存在 %d 项", measure, len(result.created), len(result.existing)
    )
    for cancelled in result.cancelled:
        logger.info("措施%s:撤销任务#%d %s(%s)", measure, cancelled.task_id,
                    cancelled.department, cancelled.reason)
    return result.as_dict()
