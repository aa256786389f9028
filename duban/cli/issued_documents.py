"""``duban report notice|bulletin``: printable 督办单 and 督查通报 (.docx / PDF).

Each call issues a new document under the next 文号 and writes it to every
``--out`` (the suffix chooses .docx or .pdf: the same document, one number);
``--number`` prints an issued one again instead. Everything the command can
check is checked before a number is taken: the output paths, and LibreOffice
when a PDF is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duban.cli.report import AsOf, PlanOpt, _env, _writable, report_app
from duban.domain.errors import DubanError
from duban.domain.issued_documents import DocumentKind, parse_kind
from duban.domain.scorecard import parse_period
from duban.services.reports.issued_documents import (
    IssuedView,
    find_document,
    issue_bulletin,
    issue_notice,
)
from duban.services.reports.libreoffice import find_soffice

Outs = Annotated[
    list[Path],
    typer.Option("--out", help="输出文件,.docx 或 .pdf(可给两次,同一文号各写一份)"),
]
Number = Annotated[
    str | None, typer.Option("--number", help="重新输出已印发的文书(按文号),不占用新文号")
]
Signer = Annotated[str | None, typer.Option("--signer", help="签发人(默认:机构文件中的 signer)")]
ACTOR = "命令行"


def _check_outs(outs: list[Path], soffice: str | None) -> None:
    if not outs:
        raise DubanError("请用 --out 指定输出文件(.docx 或 .pdf)")
    for out in outs:
        if out.suffix.lower() not in (".docx", ".pdf"):
            raise DubanError(f"--out 应为 .docx 或 .pdf 文件,而不是“{out.name}”")
        _writable(out, "--out")
    if any(out.suffix.lower() == ".pdf" for out in outs):
        find_soffice(soffice)  # before a number is taken


def _write(view: IssuedView, outs: list[Path], *, data_dir: Path, soffice: str | None,
           issued: bool) -> None:
    # python-docx is imported by the commands that write a document, not by
    # every start of the CLI (~0.12 s).
    from duban.services.reports.issued_document_files import write_document

    verb = "已印发" if issued else "已重新输出"
    typer.echo(f"{view.kind.label} {view.number}({view.subject}){verb}。")
    for out in outs:
        try:
            write_document(view, out, data_dir=data_dir, soffice=soffice)
        except DubanError as err:
            if not issued:
                raise
            raise DubanError(
                f"{err.message}。文书已印发(文号 {view.number}),可用 --number "
                f"“{view.number}” --out … 重新输出"
            ) from None
        typer.echo(f"  已写入 {out}")


def _reprint(number: str, kind: str) -> IssuedView:
    env = _env(None)
    view = find_document(env.context.session_factory, number)
    is_bulletin = view.kind is DocumentKind.BULLETIN
    if is_bulletin != (kind == "bulletin"):
        other = "duban report bulletin" if is_bulletin else "duban report notice"
        raise DubanError(f"文号“{number}”是{view.kind.label},请用 {other} --number 输出")
    return view


@report_app.command("notice")
def notice_command(
    out: Outs = [],  # noqa: B006  typer reads the default, never mutates it
    task: Annotated[
        list[int], typer.Option("--task", help="任务编号(可给多次,须为同一责任单位)")
    ] = [],  # noqa: B006
    department: Annotated[
        str | None,
        typer.Option("--department", "-d", help="责任单位:其逾期(否则亮黄灯)的未办结任务"),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="notice 督办通知单、yellow 黄色督办单、red 红色督办单"
                                    "(默认按已达到的督办级别)"),
    ] = None,
    opinion: Annotated[
        str | None, typer.Option("--opinion", help="督办意见(默认按种类生成)")
    ] = None,
    signer: Signer = None,
    number: Number = None,
    as_of: AsOf = None,
) -> None:
    """督办单:督办通知单 / 黄色督办单 / 红色督办单(按任务或按单位),.docx 与 PDF。"""
    chosen = parse_kind(kind, notices_only=True) if kind else None
    env = _env(as_of)
    settings = env.context.settings
    _check_outs(out, settings.soffice)
    if number:
        if task or department or kind or opinion or signer:
            raise DubanError("--number 只重新输出已印发的文书,不能同时给 --task、--department 等")
        view = _reprint(number, "notice")
        _write(view, out, data_dir=settings.ensure_data_dir(), soffice=settings.soffice,
               issued=False)
        return
    if bool(task) == bool(department):
        raise DubanError("请给出 --task(一项或多项)或 --department 之一")
    view = issue_notice(
        env.context.session_factory, actor=ACTOR, now=env.now, calendar=env.context.calendar,
        task_ids=list(task) or None, department=department, kind=chosen, opinion=opinion,
        signer=signer, default_issuer=settings.sender_name, zone=env.zone,
    )
    _write(view, out, data_dir=settings.ensure_data_dir(), soffice=settings.soffice, issued=True)


@report_app.command("bulletin")
def bulletin_command(
    out: Outs = [],  # noqa: B006
    period: Annotated[
        str | None,
        typer.Option("--period", help="通报期间:起..止、YYYY、YYYY-Qn 或 YYYY-MM(默认:至今全部)"),
    ] = None,
    plan: PlanOpt = None,
    signer: Signer = None,
    number: Number = None,
    as_of: AsOf = None,
) -> None:
    """督查通报:期间内任务总体情况、逾期未办结单位、约谈名单,.docx 与 PDF。"""
    span = parse_period(period)
    env = _env(as_of)
    settings = env.context.settings
    _check_outs(out, settings.soffice)
    if number:
        if period or plan or signer:
            raise DubanError("--number 只重新输出已印发的文书,不能同时给 --period 等")
        view = _reprint(number, "bulletin")
        _write(view, out, data_dir=settings.ensure_data_dir(), soffice=settings.soffice,
               issued=False)
        return
    view = issue_bulletin(
        env.context.session_factory, actor=ACTOR, now=env.now, calendar=env.context.calendar,
        period=span, plan=plan, signer=signer, default_issuer=settings.sender_name, zone=env.zone,
    )
    _write(view, out, data_dir=settings.ensure_data_dir(), soffice=settings.soffice, issued=True)
