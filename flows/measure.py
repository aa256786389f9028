"""The measure flow: one Prefect flow run per measure (措施N 标题).

A thin wrapper: the rules live in duban.services and duban.domain. Assigning,
the run creates the measure's missing tasks and queues their 交办通知; in the
daily sweep (``advance=True``) it moves the measure's due tasks along the
escalation ladder. Our database, not Prefect's task states, records the work.
"""

from __future__ import annotations

import os
from datetime import datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from duban.config import get_settings
from duban.faults import pause_point
from duban.services.assignment import assign_measure, measure_id_of
from duban.services.context import open_context
from duban.services.sweep import advance
from duban.timeutil import parse_as_of


def _run_name() -> str:
    params = flow_run.parameters
    return f"措施{params['measure']} {params.get('title') or ''}".strip()


@flow(name="measure", flow_run_name=_run_name, retries=1, retry_delay_seconds=2)
def measure_flow(
    measure: int,
    plan: str | None = None,
    title: str = "",
    as_of: str | None = None,
    advance_ladder: bool = False,
) -> dict[str, object]:
    """Assign measure ``measure`` of ``plan`` as of ``as_of`` (ISO; default now),
    or with ``advance_ladder`` evaluate its due tasks' escalation steps."""
    logger = get_run_logger()
    context = open_context(get_settings())
    now: datetime = parse_as_of(as_of, context.settings.timezone)
    if advance_ladder:
        measure_id = measure_id_of(context.session_factory, plan=plan, measure=measure)
        report = advance(
            context.session_factory,
            now=now,
            calendar=context.calendar,
            clock=context.clock(),
            measure_ids=[measure_id],
            on_claimed=lambda _ids: pause_point(context.settings, "sweep-claimed"),
        )
        logger.info(
            "措施%s:评估 %d 项任务,新增通知 %d 条", measure, report.evaluated, report.notices
        )
        return {
            "measure": measure,
            "evaluated": report.evaluated,
            "notices": report.notices,
            "superseded": report.superseded,
        }
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
    return result.as_dict()
