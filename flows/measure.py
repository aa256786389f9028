"""The measure flow: one Prefect flow run per measure (措施N 标题).

A thin wrapper: the rules live in duban.services and duban.domain. The run
creates the measure's missing tasks and queues their 交办通知; the daily sweep
then moves them along the escalation ladder (one task run per measure, see
flows/sweep.py). Our database, not Prefect's states, records the work.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from duban.config import get_settings
from duban.services.plans.assignment import AssignResult, assign_measure
from duban.wiring import open_context


def _run_name() -> str:
    params = flow_run.parameters
    return f"措施{params['measure']} {params.get('title') or ''}".strip()


@flow(name="measure", flow_run_name=_run_name, retries=1, retry_delay_seconds=2)
def measure_flow(
    measure: int,
    plan: str | None = None,
    title: str = "",
    as_of: datetime | None = None,
) -> AssignResult:
    """Assign measure ``measure`` of ``plan`` as of ``as_of`` (default now; a
    naive time is read in the organisation's zone): create its missing tasks
    and queue their 交办通知 (rerunning is safe)."""
    logger = get_run_logger()
    context = open_context(get_settings())
    clock = context.clock()
    result = assign_measure(
        context.session_factory,
        plan=plan,
        measure=measure,
        now=clock.resolve(as_of),
        calendar=context.calendar,
        policy=context.assignment_policy,
        on_task_created=context.faults.task_created,
        zone=clock.zone,
    )
    logger.info(
        "措施%s:新交办 %d 项,已存在 %d 项", measure, len(result.created), len(result.existing)
    )
    for cancelled in result.cancelled:
        logger.info("措施%s:撤销任务#%d %s(%s)", measure, cancelled.task_id,
                    cancelled.department, cancelled.reason)
    return result
