"""``duban policy show|apply``: the escalation ladder in force, and re-applying it.

A task keeps the policy that was current when it was assigned; after
``duban org load`` stores a new version, ``duban policy apply`` moves open
tasks to it and has the sweep look at them again.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from duban.cli.app import app
from duban.cli.options import as_of_option, command_env
from duban.domain.escalation import Anchor, EscalationPolicy, LadderStep
from duban.domain.labels import AUDIENCE_LABELS, LEVEL_LABELS
from duban.domain.status import Cadence
from duban.services.ladder.policy import (
    current_policy,
    policy_versions,
    stale_open_tasks,
)
from duban.services.tasks.reapply_policy import apply_current_policy
from duban.wiring import open_context

policy_app = typer.Typer(
    help="督办规则:查看当前规则,让未办结任务改用当前规则。", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")

CADENCE_LABELS = {Cadence.QUARTERLY: "每季度", Cadence.MONTHLY: "每月"}


def describe_trigger(step: LadderStep) -> str:
    """When the step falls due, in words (``逾期 5 个工作日``)."""
    n = step.workdays
    return {
        Anchor.ASSIGNED: "交办时" if n == 0 else f"交办后 {n} 个工作日",
        Anchor.UNACKNOWLEDGED: f"交办后 {n} 个工作日仍未签收",
        Anchor.BEFORE_DUE: f"到期前 {n} 个工作日",
        Anchor.AFTER_DUE: f"逾期 {n} 个工作日",
        Anchor.REPORT_DUE: f"进度报送截止前 {n} 个工作日",
        Anchor.REPORT_MISSING: f"进度报送截止后 {n} 个工作日仍未报送",
    }[step.anchor]


def describe_steps(policy: EscalationPolicy) -> list[str]:
    """One line per step: ``1. 催办 [催办] 逾期 1 个工作日 → 联络员、负责人``."""
    return [
        f"{index}. {step.label} [{LEVEL_LABELS.get(step.level, step.level)}] "
        f"{describe_trigger(step)} → {'、'.join(AUDIENCE_LABELS[a] for a in step.audience)}"
        for index, step in enumerate(policy.steps, start=1)
    ]


def describe_report(policy: EscalationPolicy) -> str:
    """The progress-report cadence and the yellow-light threshold, in words."""
    report = policy.report
    light = f"到期前 {report.due_soon_workdays} 个工作日亮黄灯。"
    if report.report_cadence is Cadence.NONE:
        return f"进度报送:不要求定期报送;{light}"
    return (
        f"进度报送:{CADENCE_LABELS[report.report_cadence]},"
        f"期末后 {report.report_workdays_after_period} 个工作日内报送;{light}"
    )


def policy_json(policy_id: int | None, policy: EscalationPolicy) -> dict[str, Any]:
    return {"id": policy_id, **policy.to_data()}


@policy_app.command("show")
def show_command(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")] = False,
) -> None:
    """查看当前督办规则(各步骤、报送周期)和已存的各版本。"""
    context = open_context()
    with context.session_factory() as session:
        policy_id, policy = current_policy(session)
        versions = policy_versions(session=session)
        stale = stale_open_tasks(session=session)
    if as_json:
        data = policy_json(policy_id, policy)
        data["versions"] = [
            {
                "id": v.id,
                "name": v.name,
                "fingerprint": v.fingerprint,
                "created_at": v.created_at.isoformat(),
                "current": v.current,
                "open_tasks": v.tasks,
            }
            for v in versions
        ]
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if policy_id is None:
        typer.echo(f"督办规则:“{policy.name}”(内置默认,尚未载入;运行 duban org load 后生效)")
    else:
        typer.echo(f"督办规则:“{policy.name}”(编号 {policy_id})")
    for line in describe_steps(policy):
        typer.echo(f"  {line}")
    typer.echo(describe_report(policy))
    if len(versions) > 1:
        typer.echo("各版本(未办结任务数):")
        for v in versions:
            mark = "(当前)" if v.current else ""
            typer.echo(
                f"  编号 {v.id} “{v.name}” {v.created_at:%Y-%m-%d %H:%M} UTC:{v.tasks} 项{mark}"
            )
    if stale:
        typer.echo(f"有 {stale} 项未办结任务未按当前规则办理;改用当前规则:duban policy apply")


@policy_app.command("apply")
def apply_command(
    plan: Annotated[
        str | None, typer.Option("--plan", help="只处理此方案(文号、标题或编号);默认全部方案")
    ] = None,
    measure: Annotated[int | None, typer.Option("--measure", help="只处理这一项措施")] = None,
    as_of: Annotated[
        datetime | None, as_of_option("办理时间(YYYY-MM-DD 或 ISO 时间;默认现在)")
    ] = None,
) -> None:
    """让未办结任务改按当前督办规则办理,并安排立即重新评估(可重复运行)。"""
    env = command_env(as_of)
    context, now = env.context, env.now
    report = apply_current_policy(
        session_factory=context.session_factory, now=now, plan=plan, measure=measure
    )
    rule = f"督办规则“{report.policy_name}”(编号 {report.policy_id})"
    if report.applied == 0:
        typer.echo(f"无变化:范围内 {report.already} 项未办结任务均已按{rule}办理。")
        return
    typer.echo(
        f"已让 {report.applied} 项未办结任务改按{rule}办理,并安排重新评估;"
        f"另有 {report.already} 项原已按此规则办理。"
    )
