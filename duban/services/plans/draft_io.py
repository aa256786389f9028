"""Write a plan draft to an editable YAML file and read a (corrected) one back.

The file is meant for people: Chinese comments on top, one block per measure
with ``lead``/``supporting`` lists and ``targets`` a coordinator can edit,
an optional ``directory`` block (departments to create and aliases to add on
import), the parse warnings at the end (read back, but informational only).
Reading validates every field and names the measure and field at fault.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from duban.domain.directory import DepartmentKind
from duban.domain.errors import DraftError
from duban.domain.plan_draft import (
    COMPARATORS,
    Measure,
    NewAlias,
    NewDepartment,
    ParseWarning,
    PlanDraft,
    Responsibility,
    Role,
    Section,
    Target,
    WarningKind,
)

DRAFT_FORMAT = "duban-plan-draft/1"

_HEADER = """\
# 督办 · 工作方案审核草稿 ({fmt})
# 请核对每项措施的牵头单位(lead)、配合单位(supporting)与目标(targets),
# 修改后运行:duban plan import 本文件
# 目标字段:due 截止日期(YYYY-MM-DD,可空);comparator 取 >=、>、<=、<、= 之一;
# where/clause_where 为原文出处(页、段或表格行)。
# value 数值;unit 单位;indicator 指标名称;ongoing: true 为长期任务(长期坚持、持续推进,
# 无截止日期,按报送周期定期报送进展)。leaders 为分管/责任领导。line 为原文行号,仅供对照。
# directory(可选):导入时一并写入机构目录——new_departments 新建单位
# (name 名称,kind 类型:department 市直部门、district 区(功能区)、party 党委部门、
# peoples_org 人民团体),aliases 别名(alias 方案中的写法,department 目录中的单位全称)。
# 文末 warnings 为解析提示,reviewed 为已核对的提示,导入时忽略。
"""


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line text as literal blocks; no anchors/aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def draft_to_mapping(draft: PlanDraft) -> dict[str, Any]:
    """The YAML document as plain data (dates stay ``date`` objects)."""
    return {
        "format": DRAFT_FORMAT,
        "title": draft.title,
        "doc_number": draft.doc_number,
        "plan_year": draft.plan_year,
        "horizon": draft.horizon,
        "source": {
            "name": draft.source_name,
            "sha256": draft.source_sha256,
            "encoding": draft.encoding,
            "format": draft.source_format,
        },
        "sections": [
            {"number": s.number, "label": s.label, "title": s.title, "line": s.line}
            for s in draft.sections
        ],
        "measures": [_measure_mapping(m) for m in draft.measures],
        **_directory_mapping(draft),
        "warnings": [
            {"line": w.line, "measure": w.measure, "kind": str(w.kind), "message": w.message}
            for w in draft.warnings
        ],
        **({"reviewed": list(draft.reviewed)} if draft.reviewed else {}),
    }


def _directory_mapping(draft: PlanDraft) -> dict[str, Any]:
    if not (draft.new_departments or draft.new_aliases):
        return {}
    return {
        "directory": {
            "new_departments": [{"name": d.name, "kind": d.kind} for d in draft.new_departments],
            "aliases": [{"alias": a.alias, "department": a.department} for a in draft.new_aliases],
        }
    }


def _measure_mapping(measure: Measure) -> dict[str, Any]:
    return {
        "number": measure.number,
        "label": measure.label,
        "title": measure.title,
        "section": measure.section,
        "line": measure.line,
        "where": measure.where or None,
        "end_line": measure.end_line,
        "lead": measure.lead,
        "supporting": measure.supporting,
        "clause": measure.clause,
        "clause_line": measure.clause_line,
        "clause_where": measure.clause_where or None,
        "leaders": measure.leaders,
        "targets": [
            {
                "due": t.due,
                "due_text": t.due_text,
                "indicator": t.indicator,
                "comparator": t.comparator,
                "value": t.value,
                "unit": t.unit,
                "text": t.text,
                "source_text": t.source_text,
                "ongoing": t.ongoing,
                "line": t.line,
            }
            for t in measure.targets
        ],
        "text": measure.text,
    }


def dump_draft(draft: PlanDraft) -> str:
    """The draft as YAML text with the explanatory header."""
    body = yaml.dump(
        draft_to_mapping(draft),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )
    return _HEADER.format(fmt=DRAFT_FORMAT) + body


def write_draft(draft: PlanDraft, path: Path) -> None:
    path.write_text(dump_draft(draft), encoding="utf-8")


def read_draft(path: Path) -> PlanDraft:
    """Read and validate a draft file; raises DraftError naming file, measure and field."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DraftError("文件不存在", where=source) from None
    except UnicodeDecodeError:
        raise DraftError("草稿文件应为 UTF-8 编码", where=source) from None
    return load_draft(text, source=source)


def load_draft(text: str, *, source: str = "草稿") -> PlanDraft:
    """Parse draft YAML text (see :func:`read_draft`)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source} 第{mark.line + 1}行" if mark is not None else source
        raise DraftError(f"YAML 格式错误:{getattr(err, 'problem', err)}", where=where) from None
    if not isinstance(data, dict) or "measures" not in data:
        raise DraftError("不是 duban 方案草稿(缺少 measures)", where=source)
    if data.get("format") not in (None, DRAFT_FORMAT):
        raise DraftError(f"不支持的草稿格式“{data.get('format')}”", where=source)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise DraftError("缺少方案标题 title", where=source)
    sections = [_read_section(s, source, i) for i, s in enumerate(data.get("sections") or [], 1)]
    measures_raw = data.get("measures")
    if not isinstance(measures_raw, list) or not measures_raw:
        raise DraftError("measures 应为非空列表", where=source)
    measures: list[Measure] = []
    seen: dict[int, int] = {}
    for index, raw in enumerate(measures_raw, 1):
        measure = _read_measure(raw, source, index)
        if measure.number in seen:
            raise DraftError(
                f"措施编号 {measure.number} 重复(第{seen[measure.number]}项与第{index}项)",
                where=source,
            )
        seen[measure.number] = index
        measures.append(measure)
    src = data.get("source") or {}
    new_departments, new_aliases = _read_directory(data.get("directory"), source)
    return PlanDraft(
        title=title.strip(),
        doc_number=_opt_str(data.get("doc_number"), source, "doc_number"),
        measures=measures,
        sections=sections,
        plan_year=_opt_int(data.get("plan_year"), source, "plan_year"),
        horizon=_opt_date(data.get("horizon"), source, "horizon"),
        source_name=src.get("name") if isinstance(src, dict) else None,
        source_sha256=src.get("sha256") if isinstance(src, dict) else None,
        encoding=(src.get("encoding") if isinstance(src, dict) else None) or "utf-8",
        warnings=_read_warnings(data.get("warnings")),
        new_departments=new_departments,
        new_aliases=new_aliases,
        reviewed=[str(k) for k in data.get("reviewed") or [] if isinstance(k, str | int)],
        source_format=str((src.get("format") if isinstance(src, dict) else None) or "txt"),
    )


def _read_directory(raw: Any, source: str) -> tuple[list[NewDepartment], list[NewAlias]]:
    """The optional ``directory`` block: departments to create, aliases to add."""
    where = f"{source} directory"
    if raw is None:
        return [], []
    if not isinstance(raw, dict) or set(raw) - {"new_departments", "aliases"}:
        raise DraftError("应为包含 new_departments 和/或 aliases 的映射", where=where)
    departments: list[NewDepartment] = []
    for index, item in enumerate(raw.get("new_departments") or [], 1):
        at = f"{where} new_departments 第{index}项"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise DraftError("应为包含 name 和 kind 的映射", where=at)
        kind = item.get("kind", DepartmentKind.DEPARTMENT.value)
        if kind not in {k.value for k in DepartmentKind}:
            allowed = "、".join(k.value for k in DepartmentKind)
            raise DraftError(f"kind“{kind}”无效,应为 {allowed} 之一", where=at)
        if not item["name"].strip():
            raise DraftError("name 不能为空", where=at)
        departments.append(NewDepartment(item["name"].strip(), str(kind)))
    aliases: list[NewAlias] = []
    for index, item in enumerate(raw.get("aliases") or [], 1):
        at = f"{where} aliases 第{index}项"
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("alias"), str)
            or not isinstance(item.get("department"), str)
            or not item["alias"].strip()
            or not item["department"].strip()
        ):
            raise DraftError("应为包含 alias 和 department 的映射", where=at)
        aliases.append(NewAlias(item["alias"].strip(), item["department"].strip()))
    return departments, aliases


def _read_warnings(raw: Any) -> list[ParseWarning]:
    """The parse warnings kept in the file (informational: malformed entries,
    or kinds this version does not know, are skipped rather than refused)."""
    kinds = {k.value for k in WarningKind}
    warnings: list[ParseWarning] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or item.get("kind") not in kinds:
            continue
        line, measure = item.get("line"), item.get("measure")
        warnings.append(
            ParseWarning(
                WarningKind(item["kind"]),
                line if isinstance(line, int) and not isinstance(line, bool) else 0,
                str(item.get("message") or ""),
                measure if isinstance(measure, int) and not isinstance(measure, bool) else None,
            )
        )
    return warnings


def _read_section(raw: Any, source: str, index: int) -> Section:
    where = f"{source} sections 第{index}项"
    if not isinstance(raw, dict):
        raise DraftError("应为映射", where=where)
    number = _opt_int(raw.get("number"), where, "number")
    if number is None:
        raise DraftError("缺少 number", where=where)
    return Section(
        number=number,
        label=str(raw.get("label") or ""),
        title=str(raw.get("title") or ""),
        line=_opt_int(raw.get("line"), where, "line") or 0,
    )


def _read_measure(raw: Any, source: str, index: int) -> Measure:
    where = f"{source} measures 第{index}项"
    if not isinstance(raw, dict):
        raise DraftError("应为映射", where=where)
    number = _opt_int(raw.get("number"), where, "number")
    if number is None or number <= 0:
        raise DraftError("措施编号 number 应为正整数", where=where)
    where = f"{source} 措施{number}"
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise DraftError("缺少措施标题 title", where=where)
    line = _opt_int(raw.get("line"), where, "line") or 0
    clause_line = _opt_int(raw.get("clause_line"), where, "clause_line") or line
    lead = _names(raw.get("lead"), where, "lead")
    supporting = _names(raw.get("supporting"), where, "supporting")
    both = set(lead) & set(supporting)
    if both:
        raise DraftError(f"“{'、'.join(sorted(both))}”同时列为牵头和配合单位", where=where)
    if supporting and not lead:
        raise DraftError("列有配合单位但没有牵头单位 lead", where=where)
    responsibilities = [Responsibility(n, Role.LEAD, clause_line) for n in lead] + [
        Responsibility(n, Role.SUPPORTING, clause_line) for n in supporting
    ]
    targets_raw = raw.get("targets") or []
    if not isinstance(targets_raw, list):
        raise DraftError("targets 应为列表", where=where)
    targets = [_read_target(t, where, i, line) for i, t in enumerate(targets_raw, 1)]
    return Measure(
        number=number,
        title=title.strip(),
        text=str(raw.get("text") or ""),
        line=line,
        end_line=_opt_int(raw.get("end_line"), where, "end_line") or line,
        section=_opt_int(raw.get("section"), where, "section"),
        label=str(raw.get("label") or number),
        responsibilities=responsibilities,
        targets=targets,
        clause=_opt_str(raw.get("clause"), where, "clause"),
        clause_line=_opt_int(raw.get("clause_line"), where, "clause_line"),
        leaders=_leaders(raw.get("leaders"), where),
        where=str(raw.get("where") or ""),
        clause_where=str(raw.get("clause_where") or ""),
    )


def _read_target(raw: Any, where: str, index: int, default_line: int) -> Target:
    where = f"{where} 目标{index}"
    if not isinstance(raw, dict):
        raise DraftError("应为映射", where=where)
    comparator = raw.get("comparator")
    if comparator is not None and comparator not in COMPARATORS:
        raise DraftError(
            f"comparator“{comparator}”无效,应为 {'、'.join(COMPARATORS)} 之一", where=where
        )
    value = raw.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise DraftError(f"value“{value}”应为数字", where=where)
    if (value is None) != (comparator is None):
        raise DraftError("comparator 与 value 应同时填写或同时留空", where=where)
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DraftError("缺少目标原文 text", where=where)
    return Target(
        text=text.strip(),
        line=_opt_int(raw.get("line"), where, "line") or default_line,
        due=_opt_date(raw.get("due"), where, "due"),
        due_text=_opt_str(raw.get("due_text"), where, "due_text"),
        indicator=_opt_str(raw.get("indicator"), where, "indicator"),
        comparator=comparator,
        value=float(value) if value is not None else None,
        unit=_opt_str(raw.get("unit"), where, "unit"),
        source_text=str(raw.get("source_text") or text),
        ongoing=_opt_bool(raw.get("ongoing"), where, "ongoing"),
    )


def _names(raw: Any, where: str, key: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(n, str) and n.strip() for n in raw):
        raise DraftError(f"{key} 应为单位名称列表", where=where)
    names: list[str] = []
    for name in raw:
        if name.strip() in names:
            raise DraftError(f"{key} 中“{name.strip()}”重复", where=where)
        names.append(name.strip())
    return names


def _leaders(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(n, str) and n.strip() for n in raw):
        raise DraftError("leaders 应为领导姓名列表", where=where)
    return [n.strip() for n in raw]


def _opt_bool(raw: Any, where: str, key: str) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise DraftError(f"{key}“{raw}”应为 true 或 false", where=where)
    return raw


def _opt_str(raw: Any, where: str, key: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool | dict | list):
        raise DraftError(f"{key} 应为文本", where=where)
    return str(raw)


def _opt_int(raw: Any, where: str, key: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise DraftError(f"{key}“{raw}”应为整数", where=where)
    return raw


def _opt_date(raw: Any, where: str, key: str) -> date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise DraftError(f"{key}“{raw}”不是有效日期(应为 YYYY-MM-DD)", where=where) from None
