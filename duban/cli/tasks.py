"""``duban tasks``, ``duban task …`` and ``duban extension …``: see and act on tasks.

Every command takes ``--as-of`` (a date, meaning 09:00 that day, or a datetime,
read in the organisation's time zone; default: now; parsed once by
:mod:`duban.cli.options`) so a plan can be replayed day by day. The
context's clock gives the moment; the services below get it as a
parameter. A moment in a year the working-day calendar does not cover is
refused (CalendarError) before anything is read or written.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

import typer

from duban.cli.app import app
from duban.cli.options import CommandEnv, as_of_option, command_env
from duban.cli.task_text import render_result, render_task_detail, render_task_list
from duban.domain.errors import DubanError
from duban.domain.status import Light, StatusPolicy
from duban.services.tasks import extensions, lifecycle
from duban.services.tasks.detail import get_task
from duban.services.tasks.queries import list_tasks
from duban.services.tasks.views import tasks_to_json

task_app = typer.Typer(
    help="任务:查看详情,签收、进度反馈、报结、办结、退回、延期申请。", no_args_is_help=True
)
extension_app = typer.Typer(help="延期申请:同意或不同意。", no_args_is_help=True)
app.add_typer(task_app, name="task")
app.add_typer(extension_app, name="extension")

DEFAULT_COORDINATOR = "督办科"

AsOf = Annotated[
    datetime | None,
    as_of_option("按此时间办理或查看(YYYY-MM-DD 或 YYYY-MM-DDTHH:MM,机构时区;默认现在)"),
]
AsJson = Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")]
MAX_ID = 2**63 - 1  # the largest id a database holds
TaskId = Annotated[int, typer.Argument(help="任务编号", min=1, max=MAX_ID)]
ExtensionId = Annotated[int, typer.Argument(help="延期申请编号", min=1, max=MAX_ID)]
DepartmentOpt = Annotated[str, typer.Option("--department", "-d", help="办理单位(全称或简称)")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="经办人姓名")]
CoordinatorOpt = Annotated[
    str, typer.Option("--actor", help=f"经办人(默认:{DEFAULT_COORDINATOR})")
]


def parse_day(value: str, option: str) -> date:
    """A YYYY-MM-DD option value; DubanError naming the option otherwise."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DubanError(f"{option} 的日期“{value}”无效,应为 YYYY-MM-DD") from None


def _env(as_of: datetime | None) -> CommandEnv:
    """The command's moment, checked to lie in a year the calendar covers;
    raises DubanError (CalendarError for an uncovered year)."""
    env = command_env(as_of)
    env.calendar.is_workday(env.today)
    return env


# --- reading -----------------------------------------------------------------


@app.command("tasks")
def tasks_command(
    plan: Annotated[str | None, typer.Option("--plan", help="方案文号、标题或编号")] = None,
    department: Annotated[
        str | None, typer.Option("--department", "-d", help="只看此单位(全称、简称或“各区”)")
    ] = None,
    measure: Annotated[int | None, typer.Option("--measure", help="只看此项措施(序号)")] = None,
    light: Annotated[Light | None, typer.Option("--light", help="只看此灯色")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看已逾期的任务")] = False,
    as_of: AsOf = None,
    as_json: AsJson = False,
) -> None:
    """任务台账:每项任务的单位、期限、状态和红黄绿灯(按 --as-of 当日计算)。"""
    env = _env(as_of)
    views = list_tasks(
        env.session_factory,
        as_of=env.today,
        calendar=env.calendar,
        policy=StatusPolicy(),
        department=department,
        measure=measure,
        plan=plan,
        light=light,
        overdue=overdue,
        zone=env.zone,
    )
    if as_json:
        typer.echo(json.dumps(tasks_to_json(views), ensure_ascii=False, indent=2))
        return
    typer.echo(render_task_list(views, env.today))


@task_app.command("show")
def show_command(task_id: TaskId, as_of: AsOf = None, as_json: AsJson = False) -> None:
    """任务详情:措施内容、责任分工、期限、状态与灯色、办理记录、延期申请、指标报送。"""
    env = _env(as_of)
    detail = get_task(
        env.session_factory,
        task_id=task_id,
        as_of=env.today,
        calendar=env.calendar,
        policy=StatusPolicy(),
        zone=env.zone,
    )
    if as_json:
        typer.echo(json.dumps(detail.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(render_task_detail(detail))


# --- department actions ------------------------------------------------------------


@task_app.command("ack")
def ack_command(
    task_id: TaskId, department: DepartmentOpt, actor: ActorOpt = None, as_of: AsOf = None
) -> None:
    """签收任务。"""
    env = _env(as_of)
    result = lifecycle.acknowledge(
        task_id, department=department, actor=actor, now=env.now,
        session_factory=env.session_factory,
    )
    typer.echo(render_result(result))


@task_app.command("report")
def report_command(
    task_id: TaskId,
    department: DepartmentOpt,
    note: Annotated[str, typer.Option("--note", help="进展情况")],
    value: Annotated[
        list[str] | None,
        typer.Option(
            "--value",
            help="指标数值:只有一个数值指标时可只写数值,否则写“指标=数值”;可重复",
        ),
    ] = None,
    actor: ActorOpt = None,
    as_of: AsOf = None,
) -> None:
    """进度反馈:报送进展情况,数值指标可同时报送当前数值。"""
    env = _env(as_of)
    values, bare = split_values(value or [])
    result = lifecycle.report(
        task_id, department=department, note=note, values=values, value=bare, actor=actor,
        now=env.now, session_factory=env.session_factory, zone=env.zone,
        value_bound=env.context.settings.indicator_max,
    )
    typer.echo(render_result(result))


@task_app.command("submit")
def submit_command(
    task_id: TaskId,
    department: DepartmentOpt,
    note: Annotated[str, typer.Option("--note", help="办理情况及佐证材料")],
    actor: ActorOpt = None,
    as_of: AsOf = None,
) -> None:
    """报结:报告任务已完成,须写明办理情况及佐证材料。"""
    env = _env(as_of)
    result = lifecycle.submit(
        task_id, department=department, note=note, actor=actor, now=env.now,
        session_factory=env.session_factory,
    )
    typer.echo(render_result(result))


@task_app.command("extend")
def extend_command(
    task_id: TaskId,
    department: DepartmentOpt,
    to: Annotated[str, typer.Option("--to", help="申请的新期限(YYYY-MM-DD)")],
    reason: Annotated[str, typer.Option("--reason", help="延期理由")],
    actor: ActorOpt = None,
    as_of: AsOf = None,
) -> None:
    """延期申请:须在当前期限前提出,由督办科审批。"""
    env = _env(as_of)
    new_due = parse_day(to, "--to")
    result = extensions.request_extension(
        task_id, department=department, new_due=new_due, reason=reason, actor=actor,
        now=env.now, calendar=env.calendar, session_factory=env.session_factory, zone=env.zone,
    )
    typer.echo(
        f"已提交延期申请 #{result.extension_id}:任务 #{task_id} 申请期限由 "
        f"{result.due.isoformat()} 延至 {new_due.isoformat()},待督办科审批。"
    )


# --- coordinator actions -----------------------------------------------------------


@task_app.command("approve")
def approve_command(
    task_id: TaskId,
    actor: CoordinatorOpt = DEFAULT_COORDINATOR,
    note: Annotated[str | None, typer.Option("--note", help="办结意见")] = None,
    as_of: AsOf = None,
) -> None:
    """办结:审核通过已报结的任务。"""
    env = _env(as_of)
    result = lifecycle.approve(
        task_id, actor=actor, note=note, now=env.now, session_factory=env.session_factory
    )
    typer.echo(render_result(result))


@task_app.command("return")
def return_command(
    task_id: TaskId,
    reason: Annotated[str, typer.Option("--reason", help="退回理由")],
    actor: CoordinatorOpt = DEFAULT_COORDINATOR,
    as_of: AsOf = None,
) -> None:
    """退回:已报结的任务不符合要求,退回责任单位重新办理。"""
    env = _env(as_of)
    result = lifecycle.return_(
        task_id, actor=actor, reason=reason, now=env.now, session_factory=env.session_factory
    )
    typer.echo(render_result(result))


@extension_app.command("approve")
def extension_approve_command(
    extension_id: ExtensionId,
    actor: CoordinatorOpt = DEFAULT_COORDINATOR,
    note: Annotated[str | None, typer.Option("--note", help="审批意见")] = None,
    as_of: AsOf = None,
) -> None:
    """同意延期:任务期限改为申请的新期限(原期限保留备查)。"""
    env = _env(as_of)
    result = extensions.approve_extension(
        extension_id, actor=actor, note=note, now=env.now, session_factory=env.session_factory
    )
    typer.echo(
        f"已同意延期申请 #{extension_id}:任务 #{result.task_id} 期限改为 {result.due.isoformat()}。"
    )


@extension_app.command("refuse")
def extension_refuse_command(
    extension_id: ExtensionId,
    actor: CoordinatorOpt = DEFAULT_COORDINATOR,
    note: Annotated[str | None, typer.Option("--note", help="审批意见")] = None,
    as_of: AsOf = None,
) -> None:
    """不同意延期:任务期限不变。"""
    env = _env(as_of)
    result = extensions.refuse_extension(
        extension_id, actor=actor, note=note, now=env.now, session_factory=env.session_factory
    )
    typer.echo(
        f"已不同意延期申请 #{extension_id}:任务 #{result.task_id} "
        f"期限仍为 {result.due.isoformat()}。"
    )


def split_values(items: list[str]) -> tuple[dict[str, str], str | None]:
    """``--value`` items as {indicator: text} and at most one bare value.

    Raises DubanError for a second bare value, an empty name or a repeated name.
    """
    named: dict[str, str] = {}
    bare: str | None = None
    for item in items:
        separator = "=" if "=" in item else "=" if "=" in item else None
        if separator is None:
            if bare is not None:
                raise DubanError("只能有一个不写指标名的 --value;多个指标请写“指标=数值”")
            bare = item
            continue
        key, _, raw = item.partition(separator)
        key = key.strip()
        if not key:
            raise DubanError(f"--value “{item}” 缺少指标名,应写作“指标=数值”")
        if key in named:
            raise DubanError(f"指标“{key}”填写了两次")
        named[key] = raw.strip()
    return named, bare
