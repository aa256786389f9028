"""Corrections a coordinator makes to a plan draft in review (pure data rules).

:func:`apply_edits` takes, per measure, the lead and supporting units and the
targets as the review form sends them (strings) and checks every field first:
the draft changes only when all are valid; otherwise the errors are returned,
each naming the measure and the field, and the draft is untouched.

Names the directory does not know are settled in :mod:`duban.domain.draft_names`;
what deserves a look is listed by :mod:`duban.domain.draft_warnings`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from duban.domain.directory import (
    collective_kind,
    normalize_name,
)
from duban.domain.parser_config import ParserConfig
from duban.domain.plan_draft import (
    COMPARATORS,
    Measure,
    PlanDraft,
    Responsibility,
    Role,
    Target,
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
                                        f"{measure_where(measure)} 责任领导:超过{MAX_NAME}个字符"))
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


def measure_where(measure: Measure) -> str:
    """How messages name a measure: 措施3 / 措施(二).1."""
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
                prefix = f"{measure_where(measure)} {label}"
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
                                 f"{measure_where(measure)} 牵头单位:列有配合单位但没有牵头单位"))
    return result


def _targets(measure: Measure, edit: MeasureEdit, errors: list[FieldError]) -> list[Target]:
    result: list[Target] = []
    shown = 0
    for row, target_edit in enumerate(edit.targets):
        if target_edit.remove or (target_edit.origin is None and target_edit.blank):
            continue
        shown += 1
        prefix = f"{measure_where(measure)} 目标{shown}"

        def fail(key: str, message: str, prefix: str = prefix, row: int = row) -> None:
            errors.append(FieldError(measure.number, key,
                                     f"{prefix} {FIELD_LABELS[key]}:{message}", row))

        result.append(_target(measure, target_edit, fail))
    return result


def _target(
    measure: Measure, target_edit: TargetEdit, fail: Callable[[str, str], None]
) -> Target:
    """One target row as typed, checked field by field (faults go to ``fail``);
    what the form does not show (line, source text) is kept from its origin."""
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
    return Target(
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
