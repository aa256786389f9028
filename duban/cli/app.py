"""The typer application and its command groups."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="督办:把工作方案变成交办、跟踪、提醒和督办的任务。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
plan_app = typer.Typer(help="工作方案:解析、审核、导入、查看。", no_args_is_help=True)
db_app = typer.Typer(help="数据库:建表与迁移。", no_args_is_help=True)
org_app = typer.Typer(help="机构目录:单位、别名、联系人。", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
cluster_app = typer.Typer(
    help="生产配置:PostgreSQL 上的 Prefect 服务器、多个 worker 与网页。", no_args_is_help=True
)
app.add_typer(cluster_app, name="cluster")
calendar_app = typer.Typer(help="工作日日历:已有年份、导入节假日安排。", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
