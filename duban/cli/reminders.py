"""``duban sweep``, ``duban replay``, ``duban escalations``, ``duban deliveries``."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

import typer

from duban.cli.app import app
from duban.cli.options import as_of_option, command_env
from duban.cli.table import render_table, truncate
from duban.config import apply_prefect_defaults
from duban.domain.errors import DubanError
from duban.domain.labels import LEVEL_LABELS
from duban.domain.outbox import DeliveryStatus
from duban.services.ladder.round_lock import round_lock
from duban.services.reports.delivery_log import delivery_log
from duban.services.reports.escalation_log import escalation_log
from duban.services.rounds.daily import replay
from duban.services.tasks.queries import find_department
from duban.wiring import AppContext, open_context


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DubanError(f"{option} 的日期“{value}”无效,应为 YYYY-MM-DD") from None


@app.command("sweep")
def sweep_command(
    as_of: Annotated[datetime | None, as_of_option("时间(默认现在)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """每日督办:把到期的提醒、催办、督办推进一步并发送(Prefect 流程)。"""
    env = command_env(as_of)  # the schema check too, before Prefect starts
    context = env.context
    apply_prefect_defaults()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.sweep import sweep_flow

    with (
        round_lock(context.session_factory, holder="duban sweep"),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        result = sweep_flow(as_of=env.clock.local(env.now))
    numbers, report = result.measures.numbers, result.round
    if as_json:
        typer.echo(json.dumps({
            "measures": numbers,
            "advanced": result.measures.advanced,
            "notices": report.sweep.notices,
            "routed": report.routing.routed,
            "sent": report.delivery.sent,
            "failed": report.delivery.failed,
            "dead": report.delivery.dead,
        }, ensure_ascii=False))
        return
    typer.echo(
        f"到期事项涉及措施 {len(numbers)} 项(措施{'、'.join(str(m) for m in numbers)});"
        f"新增通知 {report.sweep.notices} 条,发送 {report.delivery.sent} 条,"
        f"待重试 {report.delivery.failed} 条,失败 {report.delivery.dead} 条。"
    )


@app.command("replay")
def replay_command(
    start: Annotated[str, typer.Option("--from", help="开始日期 YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="结束日期 YYYY-MM-DD")],
    quiet: Annotated[bool, typer.Option("--quiet", help="只显示合计")] = False,
) -> None:
    """回放:按区间内每个工作日的上班时间依次运行每日督办(同一进程内,真实发送)。"""
    first, last = _date(start, "--from"), _date(end, "--to")
    assert first is not None and last is not None
    if last < first:
        raise DubanError("--to 不能早于 --from")
    context = open_context()
    with (
        round_lock(context.session_factory, holder="duban replay"),
        context.sender() as sender,
    ):
        tools = context.round_tools(sender=sender, worker="replay")
        rounds = replay(context.session_factory, start=first, end=last, tools=tools)
    totals = {"notices": 0, "superseded": 0, "sent": 0, "failed": 0, "dead": 0}
    for r in rounds:
        totals["notices"] += r.sweep.notices
        totals["superseded"] += r.sweep.superseded
        totals["sent"] += r.delivery.sent
        totals["failed"] += r.delivery.failed
        totals["dead"] += r.delivery.dead
        if not quiet:
            local = r.at.astimezone(tools.clock.zone)
            typer.echo(
                f"{local:%Y-%m-%d %H:%M} 新增通知 {r.sweep.notices},取代 {r.sweep.superseded},"
                f"发送 {r.delivery.sent},待重试 {r.delivery.failed},失败 {r.delivery.dead}"
            )
    typer.echo(
        f"回放 {first} 至 {last}:新增通知 {totals['notices']} 条(另有 {totals['superseded']} 条"
        f"因过时未发),发送 {totals['sent']} 条,待重试 {totals['failed']} 次,"
        f"失败 {totals['dead']} 条。"
    )


@app.command("escalations")
def escalations_command(
    since: Annotated[str | None, typer.Option("--since", help="起始日期")] = None,
    department: Annotated[str | None, typer.Option("--department", "-d", help="单位")] = None,
    level: Annotated[
        int | None, typer.Option("--level", help="级别:0 提醒,1 催办,2 黄色督办,3 红色督办")
    ] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="方案")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """督办记录:每次催办、督办(或 --level 0 的提醒)发给了谁、是否送达。"""
    context = open_context()
    zone = context.clock().zone
    official = _official_name(context, department)
    if level is not None and not 0 <= level <= 3:
        raise DubanError("--level 应为 0–3")
    entries = escalation_log(
        context.session_factory,
        zone=zone,
        since=_date(since, "--since"),
        department=official,
        level=level,
        plan=plan,
    )
    if as_json:
        typer.echo(json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=2))
        return
    rows = [
        [
            e.at[:16].replace("T", " "),
            LEVEL_LABELS.get(e.level, str(e.level)),
            e.step_label,
            f"措施{e.measure}",
            truncate(e.department, 14),
            f"#{e.task}",
            "、".join(r.name for r in e.recipients) or "—",
            "是" if e.delivered else e.status_label,
        ]
        for e in entries
    ]
    typer.echo(
        render_table(["时间", "级别", "事项", "措施", "单位", "任务", "收件人", "送达"], rows)
    )
    typer.echo(f"共 {len(entries)} 条")


# What --status takes (failed includes dead; sending is accepted, undocumented).
LISTED_STATUSES = (
    DeliveryStatus.PENDING, DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SENDING
)


@app.command("deliveries")
def deliveries_command(
    status: Annotated[
        str | None, typer.Option("--status", help="pending|sent|failed(含不再重试)")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="最多显示条数")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """发送记录:每条消息的收件人、渠道(隐去密钥)、状态、尝试次数与错误。"""
    if status not in (None, *LISTED_STATUSES):
        raise DubanError("--status 应为 pending、sent 或 failed")
    context = open_context()
    zone = context.clock().zone
    entries = delivery_log(context.session_factory, zone=zone, status=status, limit=limit)
    if as_json:
        out = []
        for e in entries:
            item = e.to_dict()
            item["step"] = ",".join(e.steps)
            out.append(item)
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    rows = [
        [
            f"#{e.id}",
            e.day,
            truncate(e.recipient, 10),
            truncate(e.channel, 40),
            truncate("、".join(sorted(set(e.steps))), 20),
            e.status_label,
            str(e.attempts),
            truncate(e.error or "", 30),
        ]
        for e in entries
    ]
    typer.echo(
        render_table(["编号", "日期", "收件人", "渠道", "事项", "状态", "次数", "错误"], rows)
    )
    typer.echo(f"共 {len(entries)} 条")


def _official_name(context: AppContext, department: str | None) -> str | None:
    if department is None:
        return None
    with context.session_factory() as session:
        return find_department(department, session=session).name
