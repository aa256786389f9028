"""``duban assign``: run the measure flows (Prefect) for one or all measures."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from duban.cli.app import app
from duban.config import apply_prefect_defaults
from duban.services.assignment import measures_to_run, planned_tasks
from duban.services.context import open_context


@app.command("assign")
def assign_command(
    plan: Annotated[
        str | None, typer.Option("--plan", help="方案标识(文号或标题);默认最新导入的方案")
    ] = None,
    measure: Annotated[int | None, typer.Option("--measure", help="只交办这一项措施")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="交办时间(YYYY-MM-DD 或 ISO 时间)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """交办:每项措施运行一次 Prefect 流程,生成各责任单位的任务并排队交办通知。"""
    context = open_context()
    refs = measures_to_run(context.session_factory, plan=plan, measure=measure)
    for ref in refs:
        if ref.assignable:
            # Unknown calendar years and the like are reported here, before any
            # flow starts, rather than from inside a failed flow run.
            planned_tasks(
                context.session_factory,
                plan=ref.plan,
                measure=ref.number,
                calendar=context.calendar,
                policy=context.assignment_policy,
            )
    apply_prefect_defaults()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.measure import measure_flow  # Prefect starts its local API on first use

    results: list[dict[str, object]] = []
    skipped = [r for r in refs if not r.assignable]
    # In-process runs need no heartbeat (it detects crashed *worker* runs) and it
    # costs ~1 s per flow run when the run ends.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        for ref in refs:
            if not ref.assignable:
                continue
            results.append(
                measure_flow(measure=ref.number, plan=ref.plan, title=ref.title, as_of=as_of)
            )
    if as_json:
        typer.echo(
            json.dumps(
                {"measures": results, "skipped": [r.number for r in skipped]},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    created = sum(int(r["created"]) for r in results)  # type: ignore[call-overload]
    existing = sum(int(r["existing"]) for r in results)  # type: ignore[call-overload]
    for r in results:
        typer.echo(
            f"措施{r['measure']} {r['title']}:新交办 {r['created']} 项,已存在 {r['existing']} 项"
        )
    if skipped:
        typer.echo("未交办(没有牵头单位):" + "、".join(f"措施{r.number}" for r in skipped))
    typer.echo(f"合计:新交办 {created} 项任务,已存在 {existing} 项。")
