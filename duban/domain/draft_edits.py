"""Corrections a coordinator makes to a plan draft in review (pure data rules).

* :func:`apply_edits` takes, per measure, the lead and supporting units and the
  targets as the review form sends them (strings) and checks every field
  first: the draft changes only when all are valid; otherwise the errors are
  returned, each naming the measure and the field, and the draft is untouched.
* :func:`resolve_name` applies the coordinator's decision for a name the
  directory does not know: replace it by an existing department or alias,
  record it as an alias of a department, or create it as a new department of
  a kind. Aliases and new departments are only written down in the draft;
  the import applies them in its own transaction.
* :func:`review_warnings` lists what deserves a look, computed from the draft
  as it is now (unknown names, targets without a date, measures without a
  lead) plus the parser's other remarks, minus those marked as checked.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from duban.domain.directory import (
    KIND_LABELS,
    Department,
    DepartmentKind,
    Directory,
    collective_kind,
    normalize_name,
)
from duban.domain.errors import DirectoryError
from duban.domain.parser_config import ParserConfig
from duban.domain.plan_draft import (
    COMPARATORS,
    WARNING_LABELS,
    Measure,
    NewAlias,
    NewDepartment,
    ParseWarning,
    PlanDraft,
    Responsibility,
    Role,
    Target,
    WarningKind,
)

MAX_NAME = 200
MAX_UNIT = 50
FIELD_LABELS = {
    "lead": "牵头单位",
    "supporting": "配合单位",
    "text": "目标原文",
    "due": "截止日期",
    "indicator": "指标",
    "comparator": "比较",
    "value": "数值",
    "unit": "计量单位",
    "leaders": "责任领导",
}
# Separators between names typed in one box; 、 inside parentheses
# (各县(市、区)政府) belongs to the name.
_SEPARATORS = "、,;\uff0c\uff1b\n"  # 、 , ; ， ； and line breaks
_OPEN, _CLOSE = "(\uff08", ")\uff09"  # half- and full-width parentheses


@dataclass
class TargetEdit:
    """One target row of the form, as typed. ``origin`` is the index of the
    draft's target the row shows (None for a row added in review)."""

    text: str = ""
    due: str = ""
    indicator: str = ""
    comparator: str = ""
    value: str = ""
    unit: str = ""
    ongoing: bool = False
    origin: int | None = None
    remove: bool = False

    @property
    def blank(self) -> bool:
        return not any(
            s.strip()
            for s in (self.text, self.due, self.indicator, self.comparator, self.value, self.unit)
        )

    @classmethod
    def of(cls, target: Target, origin: int) -> TargetEdit:
        value = target.value
        shown = "" if value is None else (str(int(value)) if value.is_integer() else repr(value))
        return cls(
            text=target.text,
            due=target.due.isoformat() if target.due else "",
            indicator=target.indicator or "",
            comparator=target.comparator or "",
            value=shown,
            unit=target.unit or "",
            ongoing=target.ongoing,
            origin=origin,
        )


@dataclass
class MeasureEdit:
    """A measure's units, targets and leaders as the review form holds them
    (``leaders`` None: left as they are)."""

    number: int
    lead: list[str] = field(default_factory=list)
    supporting: list[str] = field(default_factory=list)
    targets: list[TargetEdit] = field(default_factory=list)
    leaders: list[str] | None = None

    @classmethod
    def of(cls, measure: Measure) -> MeasureEdit:
        return cls(
            number=measure.number,
            lead=list(measure.lead),
            supporting=list(measure.supporting),
            targets=[TargetEdit.of(t, i) for i, t in enumerate(measure.targets)],
            leaders=list(measure.leaders),
        )


@dataclass(frozen=True)
class FieldError:
    """A field the draft cannot take: measure number, field (a key of
    :data:`FIELD_LABELS`), the target row (index in the edit) for target
    fields, and the message (Chinese, naming measure and field)."""

    measure: int
    field: str
    message: str
    row: int | None = None


def split_names(raw: str) -> list[str]:
    """Names typed in one box: split at 、,; and line breaks outside
    parentheses, except inside a collective (各区、县级市 stays one name);
    blanks dropped, order kept."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in raw:
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE and depth:
            depth -= 1
        if char in _SEPARATORS and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    parts = [p.strip() for p in parts if p.strip()]
    names: list[str] = []
    index = 0
    while index < len(parts):
        end = next(
            (j for j in range(len(parts), index + 1, -1)
             if collective_kind("、".join(parts[index:j])) is not None),
            index + 1,
        )
        names.append("、".join(parts[index:end]))
        index = end
    return names


def apply_edits(
    draft: PlanDraft, edits: Iterable[MeasureEdit], *, config: ParserConfig | None = None
) -> list[FieldError]:
    """Check every edit; if all are valid, apply them to ``draft``.

    Returns the errors (then ``draft`` is unchanged), or [] after applying.
    An edit for a measure number the draft does not have is an error.
    """
    vague = {normalize_name(n) for n in (config or ParserConfig()).vague_names}
    planned: list[tuple[Measure, list[Responsibility], list[Target], list[str] | None]] = []
    errors: list[FieldError] = []
    for edit in edits:
        measure = draft.measure(edit.number)
        if measure is None:
            errors.append(FieldError(edit.number, "lead", f"方案中没有措施{edit.number}"))
            continue
        found: list[FieldError] = []
        responsibilities = _responsibilities(measure, edit, vague, found)
        targets = _targets(measure, edit, found)
        leaders = None
        if edit.leaders is not None:
            leaders = list(dict.fromkeys(n for raw in edit.leaders for n in split_names(raw)))
            if any(len(n) > MAX_NAME for n in leaders):
                found.append(FieldError(measure.number, "leaders",
                                        f"{_where(measure)} 责任领导:超过{MAX_NAME}个字符"))
        errors.extend(found)
        if not found:
            planned.append((measure, responsibilities, targets, leaders))
    if errors:
        return errors
    for measure, responsibilities, targets, leaders in planned:
        measure.responsibilities = responsibilities
        measure.targets = targets
        if leaders is not None:
            measure.leaders = leaders
    return []


def _where(measure: Measure) -> str:
    return f"措施{measure.label or measure.number}"


def _responsibilities(
    measure: Measure, edit: MeasureEdit, vague: set[str], errors: list[FieldError]
) -> list[Responsibility]:
    old_lines = {normalize_name(r.name): r.line for r in measure.responsibilities}
    default_line = measure.clause_line or measure.line
    seen: dict[str, str] = {}
    result: list[Responsibility] = []
    for role, names in ((Role.LEAD, edit.lead), (Role.SUPPORTING, edit.supporting)):
        key = role.value
        label = FIELD_LABELS[key]
        for raw in names:
            for name in split_names(raw):
                normal = normalize_name(name)
                prefix = f"{_where(measure)} {label}"
                if normal in vague:
                    errors.append(FieldError(measure.number, key,
                                             f"{prefix}:“{name}”未指明具体单位,请填写具体单位名称"))
                elif len(name) > MAX_NAME:
                    errors.append(FieldError(measure.number, key,
                                             f"{prefix}:“{name[:20]}…”超过{MAX_NAME}个字符"))
                elif normal in seen:
                    where = "重复" if seen[normal] == key else "同时列为牵头和配合单位"
                    errors.append(FieldError(measure.number, key, f"{prefix}:“{name}”{where}"))
                else:
                    seen[normal] = key
                    result.append(Responsibility(name, role, old_lines.get(normal, default_line)))
    if any(r.role is Role.SUPPORTING for r in result) and not any(
        r.role is Role.LEAD for r in result
    ):
        errors.append(FieldError(measure.number, "lead",
                                 f"{_where(measure)} 牵头单位:列有配合单位但没有牵头单位"))
    return result


def _targets(measure: Measure, edit: MeasureEdit, errors: list[FieldError]) -> list[Target]:
    result: list[Target] = []
    shown = 0
    for row, target_edit in enumerate(edit.targets):
        if target_edit.remove or (target_edit.origin is None and target_edit.blank):
            continue
        shown += 1
        prefix = f"{_where(measure)} 目标{shown}"

        def fail(key: str, message: str, prefix: str = prefix, row: int = row) -> None:
            errors.append(FieldError(measure.number, key,
                                     f"{prefix} {FIELD_LABELS[key]}:{message}", row))

        text = target_edit.text.strip()
        if not text:
            fail("text", "不能为空(不需要此目标请勾选“删除”)")
        due: date | None = None
        if target_edit.due.strip():
            try:
                due = date.fromisoformat(target_edit.due.strip())
            except ValueError:
                fail("due", f"“{target_edit.due.strip()}”不是有效日期(应为 YYYY-MM-DD)")
        comparator = target_edit.comparator.strip() or None
        if comparator is not None and comparator not in COMPARATORS:
            fail("comparator", f"“{comparator}”无效,应为 {' '.join(COMPARATORS)} 之一")
        value: float | None = None
        raw_value = target_edit.value.strip().replace(",", "")
        if raw_value:
            try:
                value = float(raw_value)
            except ValueError:
                fail("value", f"“{target_edit.value.strip()}”不是数字")
            else:
                if not math.isfinite(value):
                    fail("value", f"“{target_edit.value.strip()}”不是有限的数字")
        if comparator is not None and not raw_value:
            fail("value", "选了比较方式,请填写数值")
        if raw_value and comparator is None:
            fail("comparator", "填了数值,请选择比较方式(≥、>、≤、<、约等于)")
        unit = target_edit.unit.strip() or None
        if unit is not None and len(unit) > MAX_UNIT:
            fail("unit", f"超过{MAX_UNIT}个字符")
        if target_edit.ongoing and due is not None:
            fail("due", "长期任务不设截止日期(清空日期,或取消“长期任务”)")
        origin = (
            measure.targets[target_edit.origin]
            if target_edit.origin is not None and 0 <= target_edit.origin < len(measure.targets)
            else None
        )
        result.append(
            Target(
                text=text,
                line=origin.line if origin else measure.line,
                due=due,
                due_text=origin.due_text if origin and origin.due == due else None,
                indicator=target_edit.indicator.strip() or None,
                comparator=comparator,
                value=value,
                unit=unit,
                source_text=origin.source_text if origin else text,
                ongoing=target_edit.ongoing,
            )
        )
    return result


# --- names the directory does not know ------------------------------------------


class Resolution(StrEnum):
    PICK = "pick"  # replace the printed name by an existing department or alias
    ALIAS = "alias"  # record the printed name as an alias of a department
    CREATE = "create"  # create a new department of a kind
    UNDO = "undo"  # forget an alias or new department decided earlier


def with_pending(directory: Directory, draft: PlanDraft) -> Directory:
    """The directory as it will be once the draft's new departments and aliases
    are added; raises DirectoryError if one of them clashes."""
    aliases: dict[str, list[str]] = {}
    for alias in draft.new_aliases:
        target = directory.resolve(alias.department)
        if target is None:
            raise DirectoryError(
                f"别名“{alias.alias}”所归入的单位“{alias.department}”不在机构目录中"
            )
        aliases.setdefault(target.name, []).append(alias.alias)
    extended = Directory(
        [
            Department(d.name, d.kind, (*d.aliases, *aliases.get(d.name, ())), d.functional_area)
            for d in directory
        ]
    )
    for new in draft.new_departments:
        if extended.resolve(new.name) is None:
            extended.add(Department(new.name, DepartmentKind(new.kind)))
    return extended


def unknown_names(draft: PlanDraft, known: Callable[[str], bool]) -> dict[str, list[int]]:
    """Printed names ``known`` does not know -> the measures naming them (first
    spelling of names equal after normalisation)."""
    found: dict[str, list[int]] = {}
    spelling: dict[str, str] = {}
    for measure in draft.measures:
        for responsibility in measure.responsibilities:
            if known(responsibility.name):
                continue
            name = spelling.setdefault(normalize_name(responsibility.name), responsibility.name)
            numbers = found.setdefault(name, [])
            if measure.number not in numbers:
                numbers.append(measure.number)
    return found


def resolve_name(
    draft: PlanDraft,
    name: str,
    how: Resolution,
    *,
    directory: Directory,
    department: str = "",
    kind: str = "",
) -> str | None:
    """Apply one decision about ``name``; returns an error message (and changes
    nothing) or None. ``directory`` is the stored one (without the draft's
    pending changes)."""
    name = name.strip()
    department = department.strip()
    pending = {normalize_name(a.alias) for a in draft.new_aliases} | {
        normalize_name(d.name) for d in draft.new_departments
    }
    if how is Resolution.UNDO:
        draft.new_aliases = [a for a in draft.new_aliases
                             if normalize_name(a.alias) != normalize_name(name)]
        draft.new_departments = [d for d in draft.new_departments
                                 if normalize_name(d.name) != normalize_name(name)]
        return None
    if directory.knows(name):
        return f"“{name}”已在机构目录中,无需处理"
    if normalize_name(name) in pending:
        return f"“{name}”已有处理方式,请先撤销"
    if how is Resolution.CREATE:
        try:
            chosen = DepartmentKind(kind)
        except ValueError:
            labels = "、".join(KIND_LABELS.values())
            return f"新建“{name}”:请选择单位类型({labels})"
        if len(name) > MAX_NAME:
            return f"新建单位名称超过{MAX_NAME}个字符"
        draft.new_departments.append(NewDepartment(name, chosen.value))
        return None
    if not department:
        return f"“{name}”:请填写对应的已有单位"
    if how is Resolution.PICK:
        if not directory.knows(department):
            return f"“{name}”改为“{department}”:“{department}”不在机构目录中"
        rename(draft, name, department)
        return None
    target = directory.resolve(department)
    if target is None:
        return f"把“{name}”记为别名:“{department}”不在机构目录中(应为具体单位,不能是“各区”等统称)"
    draft.new_aliases.append(NewAlias(name, target.name))
    return None


def rename(draft: PlanDraft, old: str, new: str) -> None:
    """Replace every responsibility named ``old`` (after normalisation) by ``new``;
    a name then listed twice in a measure keeps its first place (lead first)."""
    old_key = normalize_name(old)
    for measure in draft.measures:
        kept: list[Responsibility] = []
        seen: set[str] = set()
        ordered = sorted(measure.responsibilities, key=lambda r: r.role is not Role.LEAD)
        for responsibility in ordered:
            if normalize_name(responsibility.name) == old_key:
                responsibility.name = new
            key = normalize_name(responsibility.name)
            if key not in seen:
                seen.add(key)
                kept.append(responsibility)
        measure.responsibilities = kept


# --- warnings ----------------------------------------------------------------------

_KINDS = {k.value for k in WarningKind}
LIVE_KINDS = frozenset(
    {WarningKind.UNKNOWN_DEPARTMENT, WarningKind.TARGET_WITHOUT_DATE, WarningKind.NO_RESPONSIBILITY}
)


@dataclass(frozen=True)
class ReviewWarning:
    """One thing to look at. ``key`` is stable across saves (marks it as
    checked); ``checkable`` is False for what must be fixed instead (an unknown
    name must be resolved before import)."""

    key: str
    kind: str
    label: str
    measure: int | None
    line: int | None
    message: str
    checkable: bool = True
    checked: bool = False


def warning_key(kind: str, measure: int | None, subject: str) -> str:
    digest = hashlib.sha1(subject.encode("utf-8")).hexdigest()[:10]
    return f"{kind}:{measure or 0}:{digest}"


def _measure_of_line(draft: PlanDraft, line: int) -> int | None:
    for measure in draft.measures:
        if measure.line <= line <= max(measure.end_line, measure.line):
            return measure.number
    return None


def _recomputed(draft: PlanDraft, warning: ParseWarning, number: int | None) -> bool:
    """Whether :func:`review_warnings` computes this parser warning afresh:
    unknown names and missing leads always; a target without a date when the
    warning quotes one of the measure's targets (not, say, a 完成时限 the
    parser could not read, which stays as the parser said)."""
    if warning.kind is not WarningKind.TARGET_WITHOUT_DATE:
        return True
    measure = draft.measure(number) if number is not None else None
    return measure is not None and any(f"“{t.text}”" in warning.message for t in measure.targets)


def review_warnings(draft: PlanDraft, known: Callable[[str], bool]) -> list[ReviewWarning]:
    """What to look at, in measure order (remarks about the whole plan first).

    Unknown names, targets without a date and measures without a lead are
    computed from the draft now (so they disappear once fixed); the parser's
    other warnings are kept as they were. Warnings whose key is in
    ``draft.reviewed`` come back with ``checked`` True.
    """
    reviewed = set(draft.reviewed)
    found: list[ReviewWarning] = []

    def add(kind: str, measure: int | None, line: int | None, message: str, subject: str,
            checkable: bool = True) -> None:
        key = warning_key(kind, measure, subject)
        label = WARNING_LABELS.get(WarningKind(kind), kind) if kind in _KINDS else kind
        found.append(ReviewWarning(key, kind, label, measure, line, message, checkable,
                                   checkable and key in reviewed))

    for warning in draft.warnings:
        number = warning.measure or _measure_of_line(draft, warning.line)
        if warning.kind in LIVE_KINDS and _recomputed(draft, warning, number):
            continue
        add(str(warning.kind), number, warning.line, warning.message,
            f"{warning.line}:{warning.message}")
    for measure in draft.measures:
        where = _where(measure)
        if not measure.lead:
            add(WarningKind.NO_RESPONSIBILITY, measure.number, measure.line,
                f"{where}“{measure.title}”没有牵头单位,导入后不会交办", "no-lead")
        for responsibility in measure.responsibilities:
            if not known(responsibility.name):
                add(WarningKind.UNKNOWN_DEPARTMENT, measure.number, responsibility.line,
                    f"{where}的“{responsibility.name}”不在机构目录中,"
                    "请在“目录中没有的单位”里选择对应单位、记为别名或新建",
                    normalize_name(responsibility.name), checkable=False)
        for target in measure.targets:
            if target.due is None and not target.ongoing:
                add(WarningKind.TARGET_WITHOUT_DATE, measure.number, target.line,
                    f"{where}的目标“{target.text}”没有时限,导入后按方案期限处理", target.text)
    order = {m.number: i for i, m in enumerate(draft.measures)}
    return sorted(found, key=lambda w: -1 if w.measure is None else order.get(w.measure, -1))

