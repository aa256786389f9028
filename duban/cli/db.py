"""``duban db``: create or migrate the database schema."""

from __future__ import annotations

import typer

from duban.cli.app import db_app
from duban.config import get_settings
from duban.db import mask_url, upgrade


@db_app.command("upgrade")
def upgrade_command() -> None:
    """建表或把数据库结构升级到最新版本(可重复运行)。"""
    settings = get_settings()
    revision = upgrade(settings)
    typer.echo(f"数据库:{mask_url(settings.database_url)}")
    typer.echo(f"结构版本:{revision}(已是最新)")
