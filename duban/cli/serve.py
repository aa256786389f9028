"""``duban serve``: the web pages and JSON API, with the daily reminder round
running in the same process (``--no-scheduler`` for a web-only process)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import typer

from duban.cli.app import app
from duban.cli.options import as_of_option, command_env
from duban.db import mask_url
from duban.wiring import open_context


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口")] = 8000,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="只提供网页,不在本进程运行每日督办")
    ] = False,
    as_of: Annotated[
        datetime | None, as_of_option("以此时间为起点运行(YYYY-MM-DD 或 ISO 时间;默认现在)")
    ] = None,
) -> None:
    """启动网页(督查室看板、督办科工作台、单位办理页)与 JSON 接口。"""
    import uvicorn

    from duban.web import create_app

    context = open_context()
    context.session_factory  # noqa: B018  refuse early (in Chinese) without a schema
    start = None
    if as_of is not None:
        env = command_env(as_of, context)
        start = env.now
        context.calendar.is_workday(env.today)  # an uncovered year is refused now
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    application = create_app(
        context.settings, as_of=start, scheduler=not no_scheduler, context=context
    )
    typer.echo(f"数据库:{mask_url(context.settings.database_url)}")
    typer.echo(f"网页:http://{host}:{port}/ (每日督办:{'关闭' if no_scheduler else '开启'})")
    # No access log: department links carry their token in the path.
    uvicorn.run(application, host=host, port=port, access_log=False, log_level="warning")
