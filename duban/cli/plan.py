"""``duban plan parse``: read a plan document into a reviewable draft (no database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from duban.cli.app import plan_app
from duban.config import get_settings
from duban.domain.plan_draft import PlanDraft, draft_to_json, format_value
from duban.services.accounts.directory import load_directory_file
from duban.services.plans.draft_io import write_draft
from duban.services.plans.files import load_parser_config, parse_plan_file


@plan_app.command("parse")
def parse_command(
    file: Annotated[
        Path,
        typer.Argument(help="方案文件:.txt(UTF-8/GBK)、.docx、.pdf、.ofd、.html、.doc/.wps"),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="把审核草稿写入此 YAML 文件,可编辑后导入")
    ] = None,
    directory: Annotated[
        Path | None, typer.Option("--directory", help="机构目录文件(默认:内置目录)")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="解析规则配置文件(YAML)")
    ] = None,
) -> None:
    """解析方案:显示识别出的措施、责任分工和目标,以及需要核对的提示(不写数据库)。"""
    settings = get_settings()
    known = load_directory_file(directory or settings.directory_file)
    draft, _text = parse_plan_file(file, directory=known, config=load_parser_config(config))
    if out is not None:
        write_draft(draft, out)
    if as_json:
        typer.echo(json.dumps(draft_to_json(draft), ensure_ascii=False, indent=2))
        return
    typer.echo(render_draft(draft))
    if out is not None:
        typer.echo(f"\n审核草稿已写入 {out},修改后可运行:duban plan import {out}")


def render_draft(draft: PlanDraft) -> str:
    """The human summary of a draft, in Chinese."""
    out: list[str] = []
    head = f"方案:{draft.title}"
    if draft.doc_number:
        head += f"({draft.doc_number})"
    out.append(head)
    with_clause = sum(1 for m in draft.measures if m.responsibilities)
    targets = sum(len(m.targets) for m in draft.measures)
    out.append(
        f"共 {len(draft.sections)} 个部分、{len(draft.measures)} 项措施,"
        f"{with_clause} 项有责任分工,{targets} 个目标;提示 {len(draft.warnings)} 条"
    )
    current_section: int | None = None
    for measure in draft.measures:
        if measure.section != current_section:
            current_section = measure.section
            section = draft.section(measure.section)
            if section:
                out.append(f"\n{section.heading}(第{section.line}行)")
        out.append(f"  {measure.label}. {measure.title}({measure.where or f'第{measure.line}行'})")
        if measure.lead:
            out.append(f"     牵头:{'、'.join(measure.lead)}")
        if measure.supporting:
            out.append(f"     配合:{'、'.join(measure.supporting)}")
        if measure.leaders:
            out.append(f"     领导:{'、'.join(measure.leaders)}")
        for target in measure.targets:
            due = target.due.isoformat() if target.due else ("长期" if target.ongoing else "无时限")
            if target.value is not None:
                what = (
                    f"{target.indicator or target.text} {target.comparator} "
                    f"{format_value(target.value)}{target.unit or ''}"
                )
            else:
                what = target.text
            out.append(f"     目标[{due}] {what}")
    if draft.warnings:
        out.append("\n需要核对:")
        for warning in draft.warnings:
            out.append(f"  第{warning.line}行 [{warning.label}] {warning.message}")
    return "\n".join(out)
