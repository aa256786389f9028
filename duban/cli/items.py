"""``duban item add|list``: single 督办件 (领导批示, 会议纪要 …) outside any plan."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from duban.cli.app import app
from duban.cli.options import CommandEnv, as_of_option, command_env
from duban.cli.table import render_table, truncate
from duban.domain.errors import DubanError
from duban.domain.items import SOURCE_LABELS, ItemInput, check_item, item_source_text
from duban.services.plans.items import ItemRecord, add_item, known_names, list_items
from duban.services.plans.to_assign import measures_to_run, planned_tasks
from duban.services.serialize import jsonable
from duban.wiring import open_context

item_app = typer.Typer(
    help="督办件:领导批示、会议议定事项等不来自工作方案的单项督办(每年汇入“YYYY年督办件”)。",
    no_args_is_help=True,
)
app.add_typer(item_app, name="item")

SOURCES = "、".join(SOURCE_LABELS.values())
CLI_ACTOR = "督办科(命令行)"


@item_app.command("add")
def add_command(
    source: Annotated[str, typer.Option("--source", "-s", help=f"来源:{SOURCES}")],
    text: Annotated[str, typer.Option("--text", "-t", help="批示或议定事项的内容")],
    lead: Annotated[
        list[str],
        typer.Option("--lead", "-l", help="牵头单位(可重复,或用“、”分隔)", metavar="单位"),
    ],
    due: Annotated[str, typer.Option("--due", "-d", help="办理期限 YYYY-MM-DD")],
    supporting: Annotated[
        list[str] | None, typer.Option("--supporting", help="配合单位(可重复,或用“、”分隔)",
                                   metavar="单位")
    ] = None,
    doc_number: Annotated[
        str, typer.Option("--doc-number", help="文号,如 市府办批〔2027〕12号")
    ] = "",
    leader: Annotated[str, typer.Option("--leader", help="批示领导,如 张市长")] = "",
    title: Annotated[str, typer.Option("--title", help="标题(默认取内容的第一句)")] = "",
    as_of: Annotated[
        datetime | None, as_of_option("登记时间(YYYY-MM-DD 或 ISO 时间;默认现在)")
    ] = None,
    no_assign: Annotated[
        bool, typer.Option("--no-assign", help="只登记,不交办(之后用 duban assign 交办)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """登记一件督办件,作为当年“督办件”汇总的一项措施,并交办(运行一次措施流程)。"""
    env = command_env(as_of)
    context, zone, now, today = env.context, env.zone, env.now, env.today
    raw = ItemInput(source=source, doc_ref=doc_number, title=title, text=text, lead=lead,
                    supporting=supporting or [], due=due, leader=leader)
    item, errors = check_item(raw, known=known_names(context.session_factory), today=today)
    if item is None:
        raise DubanError("督办件未登记:\n" + "\n".join(f"  {e.message}" for e in errors))
    record = add_item(item, session_factory=context.session_factory, now=now, zone=zone,
                      actor=CLI_ACTOR)
    result = None if no_assign else _assign(env, record)
    if as_json:
        typer.echo(json.dumps({"item": jsonable(record), "assigned": result},
                              ensure_ascii=False, indent=2))
        return
    origin = item_source_text(record.source, record.doc_ref, record.instructed_by)
    typer.echo(f"已登记督办件:{record.plan} 措施{record.number} {record.title}({origin})")
    if record.created_plan:
        typer.echo(f"(首次登记,已建立“{record.plan}”)")
    if result is None:
        typer.echo(f"尚未交办;交办请运行:duban assign --plan {record.plan} "
                   f"--measure {record.number}")
    else:
        typer.echo(f"措施{record.number}:新交办 {result['created']} 项,"
                   f"已存在 {result['existing']} 项")



def _assign(env: CommandEnv, record: ItemRecord) -> dict[str, object]:
    """Run the measure flow of a registered item; what it did, as ``duban assign
    --json`` says it. A failure says the item is registered and how to assign it."""
    from duban.cli.assign import run_measure_flows

    context = env.context
    try:
        planned_tasks(context.session_factory, plan=record.plan, measure=record.number,
                      calendar=context.calendar, policy=context.assignment_policy)
        refs = measures_to_run(context.session_factory, plan=record.plan,
                               measure=record.number)
        return run_measure_flows(refs, as_of=env.now)[0].as_dict()
    except DubanError as err:
        raise DubanError(
            f"督办件已登记为 {record.plan} 措施{record.number},但未能交办:{err}。"
            f"处理后可运行 duban assign --plan {record.plan} --measure {record.number}"
        ) from None


@item_app.command("list")
def list_command(
    year: Annotated[int | None, typer.Option("--year", help="只列出这一年的督办件")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """列出已登记的督办件(来源、文号、牵头单位、期限)。"""
    context = open_context()
    records = list_items(context.session_factory, year=year)
    if as_json:
        typer.echo(json.dumps([jsonable(r) for r in records], ensure_ascii=False, indent=2))
        return
    if not records:
        typer.echo("还没有登记督办件。")
        return
    rows = [
        [r.plan, str(r.number), r.source_label, r.doc_ref or "", truncate(r.title, 30),
         "、".join(r.lead), r.due.isoformat() if r.due else "", r.instructed_by or ""]
        for r in records
    ]
    headers = ["汇总", "序号", "来源", "文号", "标题", "牵头单位", "期限", "批示领导"]
    typer.echo(render_table(headers, rows))
