"""``duban user add|list|disable``: accounts of coordinators and supervisors."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from duban.cli.app import app
from duban.services.accounts import staff as accounts
from duban.wiring import open_context

user_app = typer.Typer(help="账号:督办科(coordinator)与督查室(supervisor)。", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="用户名")],
    role: Annotated[str, typer.Option("--role", help="coordinator(督办科)或 supervisor(督查室)")],
    display_name: Annotated[str | None, typer.Option("--display-name", help="姓名")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="从标准输入读取密码(一行)")
    ] = False,
) -> None:
    """新建账号,或为已有账号重设密码和角色(密码以 Argon2 散列保存)。"""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    accounts.check_password_rules(password)
    context = open_context()
    user = accounts.add_user(
        name,
        role=role,
        password=password,
        display_name=display_name,
        now=context.now(),
        session_factory=context.session_factory,
    )
    typer.echo(f"已保存账号 {user.username}({user.role_label},{user.display_name})")


@user_app.command("list")
def list_command() -> None:
    """列出账号。"""
    for user in accounts.list_users(session_factory=open_context().session_factory):
        state = "" if user.active else "(已停用)"
        typer.echo(f"{user.username}\t{user.role_label}\t{user.display_name}{state}")


@user_app.command("disable")
def disable_command(name: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """停用账号(保留记录)。"""
    context = open_context()
    accounts.deactivate_user(name, now=context.now(), session_factory=context.session_factory)
    typer.echo(f"已停用账号 {name}")



