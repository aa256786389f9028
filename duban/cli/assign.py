"""``duban assign``: run the measure flows (Prefect) for one or all measures."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from duban.cli.app import app
from duban.cli.options import CommandEnv, as_of_option, command_env
from duban.config import apply_prefect_defaults
from duban.domain.assignment import LateTask
from duban.domain.errors import DubanError
from duban.domain.labels import TASK_ROLE_LABELS
from duban.services.plans.assignment import AssignResult
from duban.services.plans.to_assign import (
    MeasureRef,
    late_tasks,
    measures_to_run,
    tasks_per_measure,
)
from duban.services.plans.withdrawal import Cancelled, cancelled_since
from duban.wiring import AppContext

if TYPE_CHECKING:
    from duban.ops.runs import RunOutcome  # imports Prefect: only when assigning on workers


@app.command("assign")
def assign_command(
    plan: Annotated[
        str | None, typer.Option("--plan", help="方案标识(文号或标题);默认最新导入的方案")
    ] = None,
    measure: Annotated[int | None, typer.Option("--measure", help="只交办这一项措施")] = None,
    as_of: Annotated[datetime | None, as_of_option("交办时间(YYYY-MM-DD 或 ISO 时间)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    accept_past: Annotated[
        bool,
        typer.Option(
            "--accept-past",
            help="确认交办完成时限已过或临近的任务(期限改为自交办日起的办理期)",
        ),
    ] = False,
    deployments: Annotated[
        bool,
        typer.Option(
            "--deployments",
            help="交给 Prefect 服务器上的 measure 部署,由 worker 运行(需 PREFECT_API_URL)",
        ),
    ] = False,
) -> None:
    """交办:每项措施运行一次 Prefect 流程,生成各责任单位的任务并排队交办通知。"""
    env = command_env(as_of)
    refs = measures_to_run(env.session_factory, plan=plan, measure=measure)
    assign_refs(env, refs, as_json=as_json, accept_past=accept_past, deployments=deployments)


def assign_refs(
    env: CommandEnv,
    refs: list[MeasureRef],
    *,
    as_json: bool = False,
    accept_past: bool = False,
    deployments: bool = False,
) -> None:
    """``duban assign``'s work for ``refs`` as of ``env.now``: refuse late
    tasks unless accepted, run a measure flow per assignable measure (in
    this process, or on the workers), print what each did."""
    context, now = env.context, env.now
    late = _late(env, refs)
    if late and not accept_past:
        raise DubanError(past_warning(late, context.assignment_policy.grace_workdays))
    if deployments:
        _assign_on_workers(context, refs, as_json=as_json, now=now)
        return
    results = run_measure_flows(refs, as_of=now)
    _report_results(results, [r for r in refs if not r.assignable], as_json=as_json)


def _late(env: CommandEnv, refs: list[MeasureRef]) -> list[LateTask]:
    """The tasks of ``refs`` that would be late at once. Unknown calendar years,
    due dates already past and the like are reported here, before any flow
    starts or anything is written."""
    context = env.context
    late: list[LateTask] = []
    for ref in refs:
        if ref.assignable:
            late += late_tasks(
                context.session_factory,
                plan=ref.plan,
                measure=ref.number,
                now=env.now,
                calendar=context.calendar,
                policy=context.assignment_policy,
                zone=env.zone,
            )
    return late


def _report_results(
    results: list[AssignResult], skipped: list[MeasureRef], *, as_json: bool
) -> None:
    """Print what each measure's flow did, and the measures not assigned."""
    if as_json:
        typer.echo(
            json.dumps(
                {"measures": [r.as_dict() for r in results],
                 "skipped": [r.number for r in skipped]},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for r in results:
        extra = f",撤销 {len(r.cancelled)} 项" if r.cancelled else ""
        typer.echo(
            f"措施{r.measure} {r.title}:新交办 {len(r.created)} 项,"
            f"已存在 {len(r.existing)} 项{extra}"
        )
        for item in r.cancelled:
            typer.echo(describe_cancelled(item.as_dict()))
    if skipped:
        typer.echo("未交办(没有牵头单位):" + "、".join(f"措施{r.number}" for r in skipped))
    created = sum(len(r.created) for r in results)
    existing = sum(len(r.existing) for r in results)
    cancelled = sum(len(r.cancelled) for r in results)
    tail = f",撤销 {cancelled} 项(方案已不再包含,已通知相关单位)" if cancelled else ""
    typer.echo(f"合计:新交办 {created} 项任务,已存在 {existing} 项{tail}。")


def describe_cancelled(item: dict[str, object]) -> str:
    """One line for a task a flow cancelled (its ``cancelled`` entry, see
    :meth:`duban.services.plans.withdrawal.Cancelled.as_dict`)."""
    role = TASK_ROLE_LABELS.get(str(item["role"]), str(item["role"]))
    head = f"  已撤销 任务#{item['task']} {item['department']}({role},期限 {item['deadline']})"
    if item.get("successor") is None:
        return f"{head}:{item['reason']}"
    carried = int(item.get("carried_reports") or 0)  # type: ignore[call-overload]
    more = f",已承接进度反馈 {carried} 次" if carried else ""
    return f"{head}:{item['reason']},由 {item['successor_text']} 接替{more}"


def past_warning(late: list[LateTask], grace: int) -> str:
    """The refusal that lists the late tasks and how to confirm them."""
    lines = [
        f"未交办任何任务:以下 {len(late)} 项任务的完成时限在交办时已过,"
        "或距交办日不足首次到期提醒的提前量:"
    ]
    lines += [f"  {item.describe()}" for item in late[:30]]
    if len(late) > 30:
        lines.append(f"  ……另有 {len(late) - 30} 项")
    lines.append(
        f"确认交办请加 --accept-past:时限已过的任务期限改为自交办日起 {grace} 个工作日,"
        "提醒、催办据此计算,不会在交办当天催办或督办;时限临近的保持原期限。"
    )
    return "\n".join(lines)


def run_measure_flows(refs: list[MeasureRef], *, as_of: datetime) -> list[AssignResult]:
    """Run the measure flow in this process for each assignable measure of
    ``refs`` (Prefect's local API) as of ``as_of`` (aware); returns each
    flow's result."""
    apply_prefect_defaults()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.measure import measure_flow  # Prefect starts its local API on first use

    results: list[AssignResult] = []
    # In-process runs need no heartbeat (it detects crashed *worker* runs) and it
    # costs ~1 s per flow run when the run ends.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        for ref in refs:
            if ref.assignable:
                results.append(
                    measure_flow(measure=ref.number, plan=ref.plan, title=ref.title, as_of=as_of)
                )
    return results


def _assign_on_workers(
    context: AppContext,
    refs: list[MeasureRef],
    *,
    as_json: bool,
    now: datetime,
) -> None:
    """Run the measure deployment once per assignable measure on the workers;
    exit 1 if any run did not complete (rerunning is safe: a measure's
    existing tasks are kept, missing ones are created)."""
    from duban.cli.cluster import api_url
    from duban.ops.runs import run_deployments

    runnable = [r for r in refs if r.assignable]
    outcomes = run_deployments(
        "measure/measure",
        [{"measure": r.number, "plan": r.plan, "title": r.title, "as_of": now} for r in runnable],
        api_url=api_url(),
    )
    failed = [o for o in outcomes if not o.ok]
    counts = tasks_per_measure(
        context.session_factory,
        [r.number for r in runnable],
        plan=runnable[0].plan if runnable else None,
    )
    # What the runs cancelled (the plan no longer yields it), read back from the log.
    withdrawn = (
        cancelled_since(
            context.session_factory,
            plan=runnable[0].plan,
            numbers=[r.number for r in runnable],
            since=now,
        )
        if runnable
        else []
    )
    _report_runs(outcomes, refs, counts, withdrawn, as_json=as_json)
    if failed:
        numbers = "、".join(f"措施{o.parameters['measure']}" for o in failed)
        raise DubanError(f"{numbers}的流程运行未完成;可重新运行本命令(已交办的任务不会重复)")


def _report_runs(
    outcomes: list[RunOutcome],
    refs: list[MeasureRef],
    counts: dict[int, int],
    withdrawn: list[Cancelled],
    *,
    as_json: bool,
) -> None:
    """Print each run's state and tasks, and the tasks the runs cancelled."""
    failed = [o for o in outcomes if not o.ok]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "runs": [
                        {
                            "measure": o.parameters["measure"],
                            "flow_run": o.flow_run_id,
                            "state": o.state,
                            "tasks": counts.get(int(o.parameters["measure"]), 0),
                        }
                        for o in outcomes
                    ],
                    "skipped": [r.number for r in refs if not r.assignable],
                    "cancelled": [c.as_dict() for c in withdrawn],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for o in outcomes:
            number = int(o.parameters["measure"])
            state = "完成" if o.ok else f"未完成({o.state})"
            typer.echo(f"措施{number}:{state},任务 {counts.get(number, 0)} 项(流程运行 {o.name})")
        for item in withdrawn:
            typer.echo(describe_cancelled(item.as_dict()))
        tail = f";撤销 {len(withdrawn)} 项方案已不再包含的任务(已通知相关单位)" if withdrawn else ""
        typer.echo(
            f"合计:{len(outcomes) - len(failed)} 项措施的流程已完成,{len(failed)} 项未完成{tail}。"
        )
