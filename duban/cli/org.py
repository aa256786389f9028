"""``duban org``: the department directory in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duban.cli.app import org_app
from duban.config import get_settings
from duban.db import open_session_factory
from duban.services.directory import load_directory_file, sync_directory


@org_app.command("load")
def load_command(
    file: Annotated[
        Path | None, typer.Argument(help="机构目录文件(YAML;默认:DUBAN_DIRECTORY_FILE 或内置目录)")
    ] = None,
) -> None:
    """把机构目录文件中的单位和别名同步到数据库(可重复运行,不删除已有单位)。"""
    settings = get_settings()
    path = file or settings.directory_file
    directory = load_directory_file(path)
    report = sync_directory(directory, session_factory=open_session_factory(settings))
    typer.echo(f"机构目录:{path}")
    if not report.changed:
        typer.echo(f"无变化:{len(directory)} 个单位与数据库一致。")
    else:
        typer.echo(
            f"共 {len(directory)} 个单位:新增 {len(report.added)} 个,"
            f"更新 {len(report.updated)} 个,未变 {report.unchanged} 个。"
        )
        if report.updated:
            typer.echo("已更新:" + "、".join(report.updated))
    if report.not_in_file:
        typer.echo(
            f"数据库中另有 {len(report.not_in_file)} 个单位不在此文件中,已保留:"
            + "、".join(report.not_in_file)
        )
