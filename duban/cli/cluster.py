"""``duban deploy`` and ``duban cluster up|status``: the production profile."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from duban.cli.app import app, cluster_app
from duban.config import environment, get_settings
from duban.db import mask_url, upgrade
from duban.ops.cluster import PREFECT_DB_VARIABLE, ClusterError, ClusterPlan
from duban.ops.databases import check_databases, ensure_database
from duban.ops.prefect_admin import deploy
from duban.ops.supervisor import Supervisor, read_status


def api_url() -> str:
    url = environment().get("PREFECT_API_URL")
    if not url:
        raise ClusterError(
            "未设置 PREFECT_API_URL:部署需要一个 Prefect 服务器(duban cluster up 会启动并注册)"
        )
    return url


@app.command("deploy")
def deploy_command() -> None:
    """向 PREFECT_API_URL 上的 Prefect 服务器注册 prefect.yaml 中的全部部署(及 duban 工作池)。"""
    names = deploy(api_url(), environment())
    typer.echo(f"已注册部署 {len(names)} 个:" + "、".join(names))
    typer.echo("启动 worker:prefect worker start --pool duban")


def _default_home() -> Path:
    return get_settings().data_dir / "cluster"


@cluster_app.command("up")
def up_command(
    workers: Annotated[int, typer.Option("--workers", help="worker 进程数")] = 2,
    worker_limit: Annotated[
        int, typer.Option("--worker-limit", help="每个 worker 同时运行的流程数上限(0 为不限)")
    ] = 4,
    host: Annotated[str, typer.Option("--host", help="监听地址(服务器与网页)")] = "127.0.0.1",
    api_port: Annotated[int, typer.Option("--api-port", help="Prefect 服务器端口")] = 4200,
    web_port: Annotated[int, typer.Option("--web-port", help="网页端口")] = 8000,
    no_web: Annotated[bool, typer.Option("--no-web", help="不启动网页")] = False,
    home: Annotated[
        Path | None, typer.Option("--home", help="日志与状态目录(默认 DATA_DIR/cluster)")
    ] = None,
) -> None:
    """在本机启动生产配置:Prefect 服务器(PostgreSQL)、注册部署、多个 worker、网页;Ctrl+C 停止。"""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = get_settings()
    env = environment()
    prefect_url = env.get(PREFECT_DB_VARIABLE, "")
    check_databases(settings.database_url, prefect_url)
    for url in (settings.database_url, prefect_url):
        if ensure_database(url):
            typer.echo(f"已创建数据库:{mask_url(url)}")
    upgrade(settings)
    plan = ClusterPlan(
        duban_url=settings.database_url,
        prefect_url=prefect_url,
        home=(home or _default_home()).resolve(),
        host=host,
        api_port=api_port,
        web_port=web_port,
        workers=workers,
        worker_limit=worker_limit or None,
        web=not no_web,
    )
    supervisor = Supervisor(plan, env)
    names = supervisor.start()
    typer.echo(f"督办数据库:{mask_url(plan.duban_url)}")
    typer.echo(f"Prefect 数据库:{mask_url(plan.prefect_url)}")
    typer.echo(f"Prefect 服务器:{plan.api_url}(界面 http://{host}:{api_port}/)")
    typer.echo("已注册部署:" + "、".join(names))
    typer.echo(f"worker:{workers} 个(工作池 duban,每个最多同时 {worker_limit or '不限'} 个流程)")
    if plan.web:
        typer.echo(f"网页:http://{host}:{web_port}/")
    typer.echo(f"日志:{plan.log_dir}  状态:{plan.status_file}")
    typer.echo("按 Ctrl+C 停止。", err=False)
    supervisor.run()
    typer.echo("已停止。")


@cluster_app.command("status")
def status_command(
    home: Annotated[Path | None, typer.Option("--home", help="日志与状态目录")] = None,
) -> None:
    """显示本机生产配置各进程的状态。"""
    status = read_status((home or _default_home()).resolve())
    typer.echo(f"Prefect 服务器:{status['api_url']}")
    for child in status["children"]:
        state = "运行中" if child["running"] else "已停止"
        typer.echo(
            f"{child['name']}:{state} pid {child['pid']} "
            f"重启 {child['restarts']} 次 日志 {child['log']}"
        )
