"""``duban demo``: the main job on the embedded default, end to end.

Database migration, the default directory, the reference plan imported,
every measure assigned through its Prefect flow, then a reminder replay
through the real send path: every contact of the directory is routed to a
mail sink on loopback that the demo starts, so the messages and the
escalation log can be shown. Each step is idempotent: running the demo again
changes nothing and says so.
"""

from __future__ import annotations

import secrets
import socket
import time as time_module
from collections import Counter
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
import yaml

from duban.cli.app import app
from duban.cli.assign import assign_refs
from duban.cli.db import upgrade_command
from duban.cli.demo_work import morning, plan_work
from duban.cli.options import CommandEnv, as_of_option, command_env
from duban.cli.org import load_command
from duban.cli.store import import_command
from duban.config import REFERENCE_PLAN_FILE, Settings, get_settings
from duban.db import mask_url
from duban.domain.org import DEFAULT_TIMEZONE
from duban.domain.scorecard import parse_period
from duban.ops.mail_sink import MailSink, free_port, text_of
from duban.private_files import write_private
from duban.services.accounts.directory import load_directory_file
from duban.services.accounts.links import LinkSigner, department_link
from duban.services.accounts.staff import add_user, list_users
from duban.services.ladder.round_lock import round_lock
from duban.services.plans.assignment import assignment_would_change
from duban.services.plans.to_assign import measures_to_run
from duban.services.reports.escalation_log import escalation_log
from duban.services.reports.issued_documents import issue_bulletin, issue_notice, list_documents
from duban.services.rounds.daily import RoundReport, replay, run_round
from duban.services.tasks.queries import find_department
from duban.timeutil import parse_local
from duban.wiring import AppContext, open_context

DEMO_START = "2014-09-01"
DEMO_REPLAY_END = "2016-01-29"


_phase_started: list[float] = []


def _step(title: str) -> None:
    """Print a phase's title, and how long the previous phase took."""
    now = time_module.monotonic()
    if _phase_started:
        typer.echo(f"(用时 {now - _phase_started[-1]:.1f} 秒)")
    _phase_started[:] = [now]
    typer.echo(f"\n== {title} ==")


def _demo_mail_port(settings: Settings) -> int:
    """The demo mail server's port, kept in the data folder so that a second
    run finds the same addresses (and changes no contact); a new one only if
    the kept port is taken."""
    path = settings.ensure_data_dir() / "demo-mail.port"
    try:
        kept = int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        kept = 0
    if kept and _port_free(kept):
        return kept
    port = free_port()
    path.write_text(f"{port}\n", encoding="utf-8")
    return port


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the mail server binds (asyncio sets it): a port the last run's
        # server left in TIME_WAIT is free for it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo_org(settings: Settings, sink: MailSink) -> dict[str, Any]:
    """The default directory with a liaison and a head per department, the
    coordinators and the supervisors, every address delivering to ``sink``."""
    directory = load_directory_file(settings.directory_file)
    departments = []
    for index, department in enumerate(directory, start=1):
        short = department.aliases[0] if department.aliases else department.name
        departments.append(
            {
                "name": department.name,
                "aliases": list(department.aliases),
                "kind": department.kind.value,
                "functional_area": department.functional_area,
                "liaison": [
                    {"name": f"{short}联络员", "notify": [sink.url(f"liaison-{index}@demo.local")]}
                ],
                "head": [
                    {"name": f"{short}负责人", "notify": [sink.url(f"head-{index}@demo.local")]}
                ],
            }
        )
    return {
        "timezone": DEFAULT_TIMEZONE,
        "office_hours": "09:00-18:00",
        "base_url": settings.base_url or "http://127.0.0.1:8000",
        "coordinators": [{"name": "督办科", "notify": [sink.url("coordinator@demo.local")]}],
        "supervisors": [{"name": "督查室", "notify": [sink.url("supervisor@demo.local")]}],
        "documents": {
            "issuer": "中共珠海市委社会工作部",
            "notice_number": "珠督〔{year}〕{seq}号",
            "bulletin_number": "珠督通〔{year}〕{seq}号",
        },
        "departments": departments,
    }


@app.command("demo")
def demo_command(
    as_of: Annotated[
        datetime | None, as_of_option("交办时间(默认 2014-09-01,方案下发后)")
    ] = None,
    until: Annotated[
        str, typer.Option("--until", help="提醒回放截止日期(默认 2016-01-29)")
    ] = DEMO_REPLAY_END,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="最后启动网页(默认启动,Ctrl+C 结束)")
    ] = True,
    port: Annotated[int, typer.Option("--port", help="网页端口")] = 8000,
) -> None:
    """主流程演示:建库、导入参考方案、按措施交办,再回放提醒与督办并显示收到的消息。"""
    settings = get_settings()
    assigned = as_of or parse_local(DEMO_START)
    typer.echo(f"数据目录:{settings.data_dir}")
    typer.echo(f"数据库:{mask_url(settings.database_url)}")
    _step("1/6 数据库")
    upgrade_command()
    # The organisation file (directory and contacts, every address the demo's
    # mail server on a port kept in the data folder) is loaded once, here: a
    # second run finds it unchanged.
    sink = MailSink(_demo_mail_port(settings))
    _step(f"2/6 机构目录与联系人(邮件发往本机邮件服务 127.0.0.1:{sink.port})")
    _load_demo_org(settings, sink, assigned)
    _step("3/6 导入参考方案")
    import_command(file=REFERENCE_PLAN_FILE, dry_run=False, create_unknown=False, as_json=False)
    _step("4/6 交办(每项措施一次 Prefect 流程)")
    _assign_changed(command_env(assigned))
    with sink:
        start, end = assigned.date(), date.fromisoformat(until)
        _step(f"5/6 提醒与督办回放({start} 至 {until})")
        context = open_context(settings)
        rounds = _replay_with_work(context, start, end)
        _show_mail(sink, rounds_count=len(rounds))
        _issue_documents(context, settings, until=end)
    _step("6/6 督办记录(最近 12 条)")
    _show_log(context.session_factory, context.clock().zone)
    typer.echo(
        "\n再次运行会显示“无变化”且不再发送。命令行查看:duban tasks --light red;"
        "duban escalations;duban deliveries --status failed"
    )
    _step("网页(督查室看板、督办科工作台、单位办理页)")
    _phase_started.clear()
    _show_web_entry(settings, context, until=until, port=port)
    if serve:
        from duban.cli.serve import serve_command

        typer.echo("按 Ctrl+C 结束。")
        # The contacts point at the demo's mail sink, which is gone now: serve
        # the pages without the in-process reminder rounds.
        serve_command(host="127.0.0.1", port=port, no_scheduler=True,
                      as_of=parse_local(until))


def _load_demo_org(settings: Settings, sink: MailSink, assigned: datetime) -> None:
    """Write the demo's organisation file (every address the demo mail sink's) and
    load it; a second run finds it unchanged."""
    org_file = settings.ensure_data_dir() / "demo-org.yaml"
    write_private(  # its addresses carry the mail sink's credentials
        org_file,
        "# duban demo: every contact delivers to the demo's loopback mail sink\n"
        + yaml.safe_dump(demo_org(settings, sink), allow_unicode=True, sort_keys=False),
    )
    load_command(file=org_file, as_of=assigned)


def _replay_with_work(context: AppContext, start: date, end: date) -> list[RoundReport]:
    """The daily rounds from ``start`` to ``end``. Departments act during the replay
    (签收, 进度反馈, 报结, 延期, 退回 …), each on its morning before the round: the
    pages show every state."""
    work = plan_work(context.session_factory, start=start, end=end,
                     calendar=context.calendar, zone=context.clock().zone)
    acts = sum(len(day) for day in work.values())
    with (
        round_lock(context.session_factory, holder="duban demo"),
        context.sender() as sender,
    ):
        tools = context.round_tools(sender=sender, worker="demo")

        def round_at(now: datetime) -> RoundReport:
            return run_round(context.session_factory, now=now, tools=tools)

        rounds = replay(
            context.session_factory,
            start=start,
            end=end,
            tools=tools,
            morning=morning(work, tools.clock.zone, round_at),
        )
    if acts:
        typer.echo(
            f"回放中各单位与督办科办理 {acts} 次(签收、进度反馈、报结、延期、退回、催办)。"
        )
    return rounds


def _assign_changed(env: CommandEnv) -> None:
    """Run the measure flow (as ``duban assign`` does) only for the measures
    whose assignment would change something; a rerun starts no flow (and so
    no Prefect) when the plan is unchanged."""
    refs = measures_to_run(env.session_factory, plan=None, measure=None)
    changed = [
        ref for ref in refs
        if ref.assignable and assignment_would_change(
            env.session_factory, plan=ref.plan, measure=ref.number,
            calendar=env.calendar, policy=env.context.assignment_policy,
        )
    ]
    unchanged = sum(1 for ref in refs if ref.assignable) - len(changed)
    if unchanged:
        typer.echo(f"{unchanged} 项措施已交办且方案未变,不再运行流程。")
    if changed:
        assign_refs(env, changed)


def _issue_documents(context: AppContext, settings: Settings, *, until: date) -> None:
    """A 督查通报 of the last quarter and a 督办单 for the department longest
    overdue, as the coordinator would print them (once: not again on a rerun)."""
    if list_documents(context.session_factory, limit=1):
        return
    zone = context.clock().zone
    now = datetime.combine(until, time(10), zone)
    quarter = (until.month - 1) // 3 or 4
    year = until.year if until.month > 3 else until.year - 1
    bulletin = issue_bulletin(
        context.session_factory, actor="督办科(张科长)", now=now, calendar=context.calendar,
        period=parse_period(f"{year}-Q{quarter}"), signer="张科长",
        default_issuer=settings.sender_name, zone=zone,
    )
    content = bulletin.content
    late = getattr(content, "late_units", [])
    lines = [f"{bulletin.kind.label} {bulletin.number}"]
    if late:
        notice = issue_notice(
            context.session_factory, actor="督办科(张科长)", now=now, calendar=context.calendar,
            department=late[0].department, signer="张科长",
            default_issuer=settings.sender_name, zone=zone,
        )
        lines.append(f"{notice.kind.label} {notice.number}({notice.subject})")
    typer.echo("已印发:" + ";".join(lines) + "(网页“督办文书”可下载 Word 或 PDF)")


def _demo_password(settings: Settings, username: str) -> str:
    """A password for a demo account, made once and kept (mode 0600) in the data dir."""
    path = settings.ensure_data_dir() / f"demo-{username}.password"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(9)
    write_private(path, password + "\n")
    return password


def _show_web_entry(settings: Settings, context: AppContext, *, until: str, port: int) -> None:
    """Create the demo's 督办科 and 督查室 accounts (if new) and print how to get in."""
    now = context.now()
    base = f"http://127.0.0.1:{port}"
    existing = {u.username for u in list_users(session_factory=context.session_factory)}
    for username, role, label in (
        ("dbk", "coordinator", "督办科"),
        ("dcs", "supervisor", "督查室"),
    ):
        password = _demo_password(settings, username)
        if username not in existing:
            add_user(
                username,
                role=role,
                password=password,
                now=now,
                display_name=label,
                session_factory=context.session_factory,
            )
        typer.echo(f"{label}账号:{username} / {password}    登录:{base}/login")
    with context.session_factory() as session:
        department = find_department("市民政局", session=session)
    as_of = datetime.combine(date.fromisoformat(until), time(9), context.clock().zone)
    link = department_link(
        department.id,
        base_url=base,
        now=as_of.astimezone(UTC),
        session_factory=context.session_factory,
        signer=LinkSigner.from_settings(settings),
    )
    typer.echo(f"单位办理页(珠海市民政局,免密码链接,与通知中的链接相同):{link}")
    typer.echo(f"网页时钟从 {until} 开始(演示数据所在的日子)。")


def _show_mail(sink: MailSink, *, rounds_count: int) -> None:
    messages = sink.messages
    if not messages:
        typer.echo("本次没有新消息(此前已发送的不会重复发送)。")
        return
    typer.echo(f"{rounds_count} 个工作日有事项;邮件服务共收到 {len(messages)} 封邮件。")
    subjects = Counter(str(m["Subject"]).split(":")[0].split("]")[0] for m in messages)
    for subject, count in subjects.most_common(8):
        typer.echo(f"  {count:>4} 封  {subject}")
    sample = next((m for m in messages if "督办" in str(m["Subject"])), messages[-1])
    typer.echo(f"\n示例:收件人 {sample['To']},主题 {sample['Subject']}")
    for line in text_of(sample).strip().splitlines()[:14]:
        typer.echo(f"  | {line}")


def _show_log(session_factory: Any, zone: ZoneInfo) -> None:
    entries = escalation_log(session_factory, zone=zone)[:12]
    if not entries:
        typer.echo("暂无催办或督办。")
        return
    for e in entries:
        delivered = "已送达" if e.delivered else e.status_label
        typer.echo(
            f"  {e.at[:10]} 级别{e.level} {e.step_label} 措施{e.measure} {e.department} "
            f"→ {'、'.join(r.name for r in e.recipients) or '—'}({delivered})"
        )


__all__ = ["Path", "demo_command"]  # Path: kept for callers that type demo files
