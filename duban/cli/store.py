"""``duban plan import|list|show``: store plans in the database and read them back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from duban.cli.app import plan_app
from duban.cli.table import render_table, truncate
from duban.config import get_settings
from duban.db import open_session_factory
from duban.domain.assignment import AssignmentPolicy
from duban.domain.errors import DubanError
from duban.domain.labels import COMPARATOR_SIGNS
from duban.domain.plan_draft import PlanDraft, format_value
from duban.services.accounts.directory import directory_from_db
from duban.services.plans.catalog import (
    MeasureView,
    PlanDetail,
    ResponsibilityView,
    TargetView,
    list_plans,
    show_plan,
    summaries_to_json,
)
from duban.services.plans.fates import fate_lines
from duban.services.plans.import_report import FieldChange, ImportReport, ImportStatus
from duban.services.plans.importer import import_plan
from duban.wiring import open_context

DRAFT_SUFFIXES = (".yaml", ".yml")

FIELD_LABELS = {
    "title": "标题",
    "doc_number": "文号",
    "plan_year": "年度",
    "horizon": "期限",
    "source_name": "来源文件",
    "source_sha256": "来源文件摘要",
    "label": "序号",
    "text": "正文",
    "section": "所属部分",
    "clause": "分工表述",
    "lead": "牵头单位",
    "supporting": "配合单位",
    "targets": "目标",
}


@plan_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="方案文件(文本),或审核后的草稿(.yaml/.yml)")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="只显示将导入或更新的内容,不写数据库")
    ] = False,
    create_unknown: Annotated[
        bool, typer.Option("--create-unknown", help="把机构目录中没有的单位新建为市直部门")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")] = False,
) -> None:
    """导入工作方案;再次导入同一方案时只更新有变化的内容。"""
    context = open_context()
    settings, session_factory = context.settings, context.session_factory
    if file.suffix.lower() in DRAFT_SUFFIXES:
        from duban.services.plans.draft_io import read_draft

        draft = read_draft(file)
        source_text = _source_text_for_draft(draft, file)
    else:
        from duban.services.plans.files import parse_plan_file

        with session_factory() as session:
            directory = directory_from_db(session=session)
        draft, source_text = parse_plan_file(file, directory=directory)
    report = import_plan(
        draft,
        session_factory=session_factory,
        source_text=source_text,
        dry_run=dry_run,
        create_unknown=create_unknown,
        now=context.now(),
        policy=AssignmentPolicy(
            support_lead_workdays=settings.support_lead_workdays,
            default_horizon=settings.default_horizon,
        ),
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(render_import_report(report))


@plan_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")] = False,
) -> None:
    """列出已导入的工作方案。"""
    context = open_context()
    with context.session_factory() as session:
        summaries = list_plans(session=session)
    if as_json:
        typer.echo(json.dumps(summaries_to_json(summaries), ensure_ascii=False, indent=2))
        return
    if not summaries:
        typer.echo("还没有导入任何工作方案。")
        return
    zone = context.clock().zone
    rows = [
        [
            str(s.id),
            s.doc_number or "",
            truncate(s.title, 40),
            str(s.measure_count),
            str(s.responsibility_count),
            s.updated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        ]
        for s in summaries
    ]
    typer.echo(render_table(["编号", "文号", "标题", "措施", "分工", "更新时间"], rows))


@plan_app.command("show")
def show_command(
    number: Annotated[int | None, typer.Argument(help="措施序号;不填则列出全部措施")] = None,
    plan: Annotated[
        str | None, typer.Option("--plan", help="方案文号、标题或编号(只有一个方案时可省略)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")] = False,
) -> None:
    """查看方案的措施一览,或某项措施的详情(责任单位、目标、原文出处)。"""
    settings = get_settings()
    with open_session_factory(settings)() as session:
        detail = show_plan(plan, number, session=session)
    if as_json:
        typer.echo(json.dumps(detail.to_dict(), ensure_ascii=False, indent=2))
    elif number is None:
        typer.echo(render_plan(detail))
    else:
        typer.echo(render_measure(detail, detail.measures[0]))


def _source_text_for_draft(draft: PlanDraft, draft_path: Path) -> str | None:
    """The draft's source document, if it lies next to the draft (or in the
    working directory) and is exactly the text the draft was parsed from."""
    if not draft.source_name or not draft.source_sha256:
        return None
    from duban.services.plans.files import read_plan_text

    name = Path(draft.source_name).name
    for candidate in (draft_path.parent / name, Path.cwd() / name):
        if not candidate.is_file():
            continue
        try:
            text, _encoding = read_plan_text(candidate)
        except DubanError:
            continue
        if hashlib.sha256(text.encode("utf-8")).hexdigest() == draft.source_sha256:
            return text
    return None


# --- rendering ---------------------------------------------------------------


def render_import_report(report: ImportReport) -> str:
    """The human summary of an import, in Chinese."""
    name = f"《{report.title}》"
    counts = (
        f"{report.measure_count} 项措施、{report.responsibility_count} 条责任分工、"
        f"{report.target_count} 个目标"
    )
    prefix = "(演练,未写入数据库)" if report.dry_run else ""
    out: list[str] = []
    if report.status is ImportStatus.UNCHANGED:
        out.append(f"无变化:{name}与已导入的内容相同,未写入。")
    elif report.status is ImportStatus.CREATED:
        verb = "将导入" if report.dry_run else "已导入"
        out.append(f"{prefix}{verb}:{name}(标识:{report.key}),{counts}。")
    else:
        verb = "将更新" if report.dry_run else "已更新"
        out.append(f"{prefix}{verb}:{name}(标识:{report.key}),现有 {counts}。")
        out.extend(_render_changes(report))
        if report.task_fates:
            out.append("对已交办任务的影响(运行 duban assign 后生效;撤销的任务将通知相关单位):")
            out.extend(f"  {line}" for line in fate_lines(report.task_fates))
    if report.created_departments:
        verb = "将新建" if report.dry_run else "已新建"
        out.append(
            f"{verb} {len(report.created_departments)} 个单位(类型:市直部门):"
            + "、".join(report.created_departments)
        )
    return "\n".join(out)


def _render_changes(report: ImportReport) -> list[str]:
    out = [
        f"  方案{_label(c.field)}:{_value(c.old)} → {_value(c.new)}" for c in report.plan_changes
    ]
    for label, numbers, unit in (
        ("新增部分", report.sections_added, "部分"),
        ("删除部分", report.sections_removed, "部分"),
        ("修改部分", report.sections_changed, "部分"),
        ("新增措施", report.measures_added, "项"),
        ("删除措施", report.measures_removed, "项"),
    ):
        if numbers:
            out.append(f"  {label}:" + "、".join(f"第{n}{unit}" for n in numbers))
    for change in report.measures_changed:
        out.append(f"  修改第{change.number}项措施({truncate(change.title, 30)}):")
        out.extend(f"    {_describe_change(c)}" for c in change.changes)
    if report.relocated:
        out.append(f"  另有 {report.relocated} 项措施仅在原文中的行号有变化。")
    if not out:
        out.append("  内容未变,仅原文行号或出处有变化。")
    return out


def _describe_change(change: FieldChange) -> str:
    return f"{_label(change.field)}:{_value(change.old)} → {_value(change.new)}"


def _label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def _value(value: Any) -> str:
    if value is None or value == []:
        return "(无)"
    if isinstance(value, list):
        return ";".join(_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return truncate(str(value), 60)


def render_plan(detail: PlanDetail) -> str:
    """A plan's header and its measures as a table."""
    rows = [
        [
            str(m.number),
            truncate(m.title, 36),
            truncate("、".join(r.named_as for r in m.lead), 24),
            truncate("、".join(r.named_as for r in m.supporting), 30),
            str(len(m.targets)),
        ]
        for m in detail.measures
    ]
    table = render_table(["序号", "措施", "牵头单位", "配合单位", "目标"], rows)
    return f"{_plan_heading(detail)}\n共 {len(detail.measures)} 项措施\n\n{table}"


def _plan_heading(detail: PlanDetail) -> str:
    parts = [f"《{detail.title}》"]
    if detail.doc_number:
        parts.append(f"文号 {detail.doc_number}")
    if detail.plan_year:
        parts.append(f"年度 {detail.plan_year}")
    if detail.horizon:
        parts.append(f"期限 {detail.horizon.isoformat()}")
    return "  ".join(parts)


def render_measure(detail: PlanDetail, measure: MeasureView) -> str:
    """Everything stored about one measure, with pointers into the source."""
    out = [
        f"第{measure.number}项 {measure.title}",
        f"方案:{_plan_heading(detail)}",
    ]
    if measure.section:
        out.append(f"所属部分:{measure.section}")
    if measure.item_source:
        out.append(f"来源:{measure.item_source}")
    else:
        out.append(f"出处:{_lines(measure.source_line, measure.source_end_line)}")
    out.append(_responsibilities("牵头单位", measure.lead))
    out.append(_responsibilities("配合单位", measure.supporting))
    if measure.clause:
        at = f"({_lines(measure.clause_line)})" if measure.clause_line else ""
        out.append(f"分工表述:{measure.clause}{at}")
    if measure.targets:
        out.append("目标:")
        for target in measure.targets:
            out.append(f"  {target.position}. {target.text}")
            out.append(f"     {_target_facts(target)}")
    else:
        out.append("目标:(无)")
    if measure.source_excerpt is not None:
        out.append(f"原文({_lines(measure.source_line, measure.source_end_line)}):")
        out.extend(f"  {line.strip()}" for line in measure.source_excerpt.splitlines())
    else:
        out.append("督办事项:" if measure.item_source else "正文(未保存原文):")
        out.append(f"  {measure.text}")
    return "\n".join(out)


def _responsibilities(label: str, views: list[ResponsibilityView]) -> str:
    if not views:
        return f"{label}:(无)"
    parts = []
    for view in views:
        if view.collective:
            parts.append(f"{view.named_as}(全部区,交办时展开)")
        elif view.department and view.department != view.named_as:
            parts.append(f"{view.named_as}(即 {view.department})")
        else:
            parts.append(view.named_as)
    return f"{label}:" + "、".join(parts)


def _target_facts(target: TargetView) -> str:
    facts = []
    if target.due is not None:
        due = target.due.isoformat()
        facts.append(f"期限 {due}" + (f"({target.due_text})" if target.due_text else ""))
    else:
        facts.append("期限 未注明")
    if target.value is not None:
        sign = COMPARATOR_SIGNS.get(target.comparator or "", target.comparator or "")
        quantity = f"{sign} {format_value(target.value)}{target.unit or ''}"
        facts.append(f"指标 {target.indicator} {quantity}" if target.indicator else quantity)
    if target.source_line > 0:  # a single 督办件's target has no source line
        facts.append(_lines(target.source_line))
    return ";".join(facts)


def _lines(start: int, end: int | None = None) -> str:
    if end is None or end == start:
        return f"第{start}行"
    return f"第{start}–{end}行"
