"""``duban demo``: the main job on the embedded default, end to end.

Database migration, the default directory, the reference plan imported,
every measure assigned through its Prefect flow — each step idempotent, so
running it again changes nothing and says so.
"""

from __future__ import annotations

from typing import Annotated

import typer

from duban.cli.app import app
from duban.cli.assign import assign_command
from duban.cli.db import upgrade_command
from duban.cli.org import load_command
from duban.cli.store import import_command
from duban.config import REFERENCE_PLAN_FILE, get_settings
from duban.db import mask_url

DEMO_START = "2014-09-01"


def _step(title: str) -> None:
    typer.echo(f"\n== {title} ==")


@app.command("demo")
def demo_command(
    as_of: Annotated[
        str, typer.Option("--as-of", help="交办时间(默认 2014-09-01,方案下发后)")
    ] = DEMO_START,
) -> None:
    """主流程演示:建库、载入机构目录、导入参考方案、按措施运行交办流程。"""
    settings = get_settings()
    typer.echo(f"数据目录:{settings.data_dir}")
    typer.echo(f"数据库:{mask_url(settings.database_url)}")
    _step("1/4 数据库")
    upgrade_command()
    _step("2/4 机构目录")
    load_command(file=None)
    _step("3/4 导入参考方案")
    import_command(file=REFERENCE_PLAN_FILE, dry_run=False, create_unknown=False, as_json=False)
    _step("4/4 交办(每项措施一次 Prefect 流程)")
    assign_command(plan=None, measure=None, as_of=as_of, as_json=False)
    typer.echo("\n完成。查看任务:duban plan show 8;duban tasks --measure 8")
