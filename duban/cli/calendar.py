"""``duban calendar status|import``: the working-day calendar's years, and adding one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from duban.cli.app import calendar_app
from duban.cli.options import as_of_option, command_env
from duban.services.calendar.changes import CalendarImport, import_calendar_file
from duban.services.calendar.status import CalendarStatus, calendar_status
from duban.wiring import open_context


@calendar_app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")] = False,
) -> None:
    """日历已有哪些年份、各自来源,以及哪些未办结任务在等待尚未公布的年份。"""
    context = open_context()
    status = calendar_status(
        context.session_factory, settings=context.settings, calendar=context.calendar
    )
    if as_json:
        typer.echo(json.dumps(status.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(render_status(status))


@calendar_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(help="某一年的节假日安排:.yaml(本系统格式)或 .json(holiday-cn 格式)"),
    ],
    as_of: Annotated[
        datetime | None, as_of_option("导入时间(YYYY-MM-DD 或 ISO 时间),用于回放")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")] = False,
) -> None:
    """导入某一年的节假日安排:校验后写入日历数据目录,并重新计算受影响任务的期限和提醒。"""
    env = command_env(as_of)
    context = env.context
    result = import_calendar_file(
        file,
        settings=context.settings,
        session_factory=context.session_factory,
        now=env.now,
        policy=context.assignment_policy,
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(render_import(result))


def render_status(status: CalendarStatus) -> str:
    """The status in Chinese: year ranges by source, then what waits."""
    lines = ["已有节假日安排的年份:"]
    groups: list[tuple[int, int, str]] = []
    for known in status.years:
        source = known.source
        # The package's years share one label apart from the year.
        label = source.split("(")[0] if source.startswith("chinesecalendar") else source
        if groups and groups[-1][2] == label and groups[-1][1] == known.year - 1:
            groups[-1] = (groups[-1][0], known.year, label)
        else:
            groups.append((known.year, known.year, label))
    for first, last, label in groups:
        years = f"{first}年" if first == last else f"{first}–{last}年"
        lines.append(f"  {years}:{label}")
    lines.append(f"导入新的年份:duban calendar import 文件(写入 {status.directory})")
    if not status.waiting and not status.fallback_due and not status.unassigned:
        lines.append("没有未办结任务在等待尚未公布的年份。")
    for year, ids in sorted(status.waiting.items()):
        lines.append(
            f"{year}年尚未公布:{len(ids)} 项未办结任务有步骤待日历公布(任务 "
            + "、".join(f"#{i}" for i in ids[:20])
            + ("等" if len(ids) > 20 else "")
            + ")"
        )
    for year, count in sorted(status.unassigned.items()):
        lines.append(
            f"{year}年尚未公布:{count} 项措施的完成时限在该年,导入该年日历后才能交办"
        )
    for year, ids in sorted(status.fallback_due.items()):
        lines.append(
            f"{year}年尚未公布:{len(ids)} 项任务的期限暂按周一至周五计算,公布后将重新计算"
        )
    return "\n".join(lines)


def render_import(result: CalendarImport) -> str:
    verb = "已替换" if result.replaced else "已导入"
    lines = [f"{verb}{result.year}年节假日安排(来源:{result.source}),写入 {result.path}。"]
    if result.replaced and not result.changed:
        lines.append("内容与原有安排相同。")
    if result.moved:
        lines.append(
            f"{len(result.moved)} 项任务的期限随之调整,已通知 {len(result.departments)} 个单位:"
        )
        lines += [
            f"  任务#{m.task_id} 措施{m.measure} {m.department}:{m.old.isoformat()} → "
            f"{m.new.isoformat()}({m.rule})"
            for m in result.moved
        ]
    else:
        lines.append("没有任务的期限因此改变。")
    lines.append(
        f"{result.looked_again} 项未办结任务的提醒将在下一轮按新日历重新计算;"
        "正在运行的 duban serve 会在数秒内读取新日历。"
    )
    return "\n".join(lines)
