"""``duban org load|show``: the organisation file in the database.

Notification addresses are secrets: nothing here prints one, only its
privacy form (``mailto://l...n:****@host``) or its scheme.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from duban.cli.app import org_app
from duban.cli.options import as_of_option
from duban.cli.policy import describe_steps
from duban.config import get_settings
from duban.db import open_session_factory
from duban.domain.directory import KIND_LABELS, DepartmentKind
from duban.domain.labels import ORG_ROLE_LABELS
from duban.domain.org import ContactRole, OrgFile
from duban.services.accounts.org import ContactWithChannels, OrgOverview, org_overview
from duban.services.accounts.org_file import OrgSyncReport, load_org_file, sync_org
from duban.services.ladder.policy import PolicyChange
from duban.timeutil import Clock

POLICY_CHANGES = {
    PolicyChange.NEW: "新版本,已设为当前",
    PolicyChange.SWITCHED: "已切换回此前存过的这一版本",
    PolicyChange.UNCHANGED: "无变化",
}


@org_app.command("load")
def load_command(
    file: Annotated[
        Path | None,
        typer.Argument(help="机构文件(YAML;默认:DUBAN_DIRECTORY_FILE 或内置目录)"),
    ] = None,
    as_of: Annotated[
        datetime | None, as_of_option("记录时间(YYYY-MM-DD 或 ISO 时间;默认现在)")
    ] = None,
) -> None:
    """把机构文件同步到数据库:单位与别名、联系人与通知地址、办公时间、督办规则。

    可重复运行;不删除已有单位;文件中已去掉的联系人停用而不删除。
    """
    settings = get_settings()
    path = file or settings.directory_file
    org = load_org_file(path)  # validates everything before the database is touched
    # The file being loaded names the zone its --as-of is read in.
    now = Clock(zone=ZoneInfo(org.timezone)).resolve(as_of)
    report = sync_org(org, session_factory=open_session_factory(settings), now=now)
    typer.echo(f"机构目录:{path}")
    _echo_departments(org, report)
    _echo_contacts(report)
    _echo_settings(org, report)
    typer.echo(
        f"督办规则:“{report.policy_name}”(编号 {report.policy_id},{report.policy_steps} 步):"
        f"{POLICY_CHANGES[report.policy_change]}。"
    )
    if report.stale_tasks:
        typer.echo(
            f"有 {report.stale_tasks} 项未办结任务仍按交办时的规则办理;"
            "如需改用当前规则:duban policy apply"
        )


def _echo_departments(org: OrgFile, report: OrgSyncReport) -> None:
    directory = report.directory
    if not directory.changed:
        typer.echo(f"无变化:{len(org.directory)} 个单位与数据库一致。")
    else:
        typer.echo(
            f"共 {len(org.directory)} 个单位:新增 {len(directory.added)} 个,"
            f"更新 {len(directory.updated)} 个,未变 {directory.unchanged} 个。"
        )
        if directory.updated:
            typer.echo("已更新:" + "、".join(directory.updated))
    if directory.not_in_file:
        typer.echo(
            f"数据库中另有 {len(directory.not_in_file)} 个单位不在此文件中,已保留:"
            + "、".join(directory.not_in_file)
        )


def _echo_contacts(report: OrgSyncReport) -> None:
    total = f"{report.contacts} 人、通知地址 {report.channels} 个"
    if not report.contacts_changed:
        typer.echo(f"联系人:无变化({total})。")
        return
    typer.echo(
        f"联系人:共 {total};新增 {len(report.contacts_added)} 人,"
        f"更新 {len(report.contacts_updated)} 人,停用 {len(report.contacts_deactivated)} 人"
        f"(通知地址新增 {report.channels_added} 个,停用 {report.channels_deactivated} 个)。"
    )
    if report.contacts_updated:
        typer.echo("已更新:" + "、".join(report.contacts_updated))
    if report.contacts_deactivated:
        typer.echo("已停用(不在文件中):" + "、".join(report.contacts_deactivated))


def _echo_settings(org: OrgFile, report: OrgSyncReport) -> None:
    state = "已更新" if report.settings_changed else "无变化"
    typer.echo(
        f"办公时间:{org.office_hours}({org.timezone});"
        f"任务链接:{org.base_url or '未设置'}({state})。"
    )


@org_app.command("show")
def show_command(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")] = False,
) -> None:
    """查看单位及其联络员、负责人,督办科、督查室,办公时间和当前督办规则(地址只显示脱敏形式)。"""
    session_factory = open_session_factory(get_settings())
    with session_factory() as session:
        overview = org_overview(session)
    if as_json:
        typer.echo(json.dumps(overview.to_dict(), ensure_ascii=False, indent=2))
        return
    for line in overview_lines(overview):
        typer.echo(line)


def overview_lines(overview: OrgOverview) -> list[str]:
    """``org show`` as text lines; addresses in privacy form only."""
    settings = overview.settings
    lines = [
        f"时区:{settings.timezone}  办公时间:{settings.office_hours}  "
        f"任务链接:{settings.base_url or '未设置'}",
        "督办科(coordinators):",
        *_contact_lines(overview.coordinators, "  "),
        "督查室(supervisors):",
        *_contact_lines(overview.supervisors, "  "),
    ]
    with_contacts = [d for d in overview.departments if d.liaison or d.head]
    without_liaison = [d.name for d in overview.departments if not d.liaison]
    lines.append(
        f"单位:共 {len(overview.departments)} 个,已配置联系人 {len(with_contacts)} 个:"
    )
    for department in with_contacts:
        kind = KIND_LABELS[DepartmentKind(department.kind)]
        aliases = f";别名:{'、'.join(department.aliases)}" if department.aliases else ""
        lines.append(f"  {department.name}({kind}{aliases})")
        lines += _contact_lines([*department.liaison, *department.head], "    ")
    if without_liaison:
        lines.append(
            f"未配置联络员的单位({len(without_liaison)} 个,收不到通知):"
            + "、".join(without_liaison)
        )
    label = f"编号 {overview.policy_id}" if overview.policy_id else "内置默认,尚未载入"
    lines.append(f"督办规则:“{overview.policy.name}”({label})")
    lines += [f"  {line}" for line in describe_steps(overview.policy)]
    return lines


def _contact_lines(contacts: list[ContactWithChannels], indent: str) -> list[str]:
    if not contacts:
        return [f"{indent}(未配置)"]
    return [
        f"{indent}{ORG_ROLE_LABELS[ContactRole(c.role)]} {c.name}:"
        + ("、".join(_short(ch.url_privacy) for ch in c.channels) or "(无有效地址)")
        for c in contacts
    ]


def _short(shown: str) -> str:
    """A privacy form without its query (Apprise's retry/format options), for text."""
    return shown.split("?", 1)[0]
