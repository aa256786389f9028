"""A reviewed draft checked before anything is written: every measure has a
lead, no department is both lead and supporting, targets are complete and
well-formed, and no text is longer than its column. Raises DraftError naming
the measure and the field.
"""

from __future__ import annotations

from duban.domain.directory import normalize_name
from duban.domain.errors import DraftError
from duban.domain.labels import UNIT_ROLE_LABELS
from duban.domain.plan_draft import (
    COMPARATORS,
    PlanDraft,
    Role,
)
from duban.domain.plan_draft import Measure as DraftMeasure

# Column widths the schema enforces (PostgreSQL rejects longer strings).
MAX_KEY = 300


MAX_DOC_NUMBER = 100


MAX_SOURCE_NAME = 500


MAX_LABEL = 20


MAX_NAME = 200


MAX_UNIT = 50


def plan_key(draft: PlanDraft) -> str:
    """The identity of the draft's plan: its document number, else its title."""
    if draft.doc_number and draft.doc_number.strip():
        return draft.doc_number.strip()
    return draft.title.strip()



def validate_draft(draft: PlanDraft) -> None:
    """Raise DraftError (naming the measure and line) if the draft cannot be stored."""
    if not draft.title.strip():
        raise DraftError("方案标题为空")
    _check_length(plan_key(draft), MAX_KEY, "方案文号或标题")
    _check_length(draft.doc_number, MAX_DOC_NUMBER, "文号")
    _check_length(draft.source_name, MAX_SOURCE_NAME, "来源文件名")

    sections: dict[int, int] = {}
    for section in draft.sections:
        if section.number in sections:
            raise DraftError(
                f"第{section.number}部分重复(第{sections[section.number]}行和第{section.line}行)"
            )
        sections[section.number] = section.line
        _check_length(section.label, MAX_LABEL, f"第{section.number}部分的序号", section.line)

    measures: dict[int, int] = {}
    for measure in draft.measures:
        where = f"第{measure.number}项措施(第{measure.line}行)"
        if measure.number in measures:
            raise DraftError(
                f"第{measure.number}项措施重复(第{measures[measure.number]}行和第{measure.line}行)"
            )
        measures[measure.number] = measure.line
        if measure.section is not None and measure.section not in sections:
            raise DraftError(f"所属的第{measure.section}部分不存在", where=where)
        _check_length(measure.label, MAX_LABEL, "措施序号", measure.line, where)
        _validate_responsibilities(measure, where)
        for target in measure.targets:
            if target.comparator is not None and target.comparator not in COMPARATORS:
                raise DraftError(
                    f"第{target.line}行的目标比较符“{target.comparator}”无效,"
                    f"应为 {' '.join(COMPARATORS)} 之一",
                    where=where,
                )
            _check_length(target.unit, MAX_UNIT, "目标单位", target.line, where)


def _validate_responsibilities(measure: DraftMeasure, where: str) -> None:
    seen: set[tuple[Role, str]] = set()
    for responsibility in measure.responsibilities:
        if not isinstance(responsibility.role, Role):
            raise DraftError(
                f"第{responsibility.line}行的责任角色“{responsibility.role}”无效,"
                "应为 lead 或 supporting",
                where=where,
            )
        label = UNIT_ROLE_LABELS[responsibility.role]
        name = normalize_name(responsibility.name)
        if not name:
            raise DraftError(f"第{responsibility.line}行有空的{label}名称", where=where)
        if (responsibility.role, name) in seen:
            raise DraftError(f"重复列出{label}“{responsibility.name}”", where=where)
        seen.add((responsibility.role, name))
        _check_length(responsibility.name, MAX_NAME, label, responsibility.line, where)


def _check_length(
    value: str | None, limit: int, what: str, line: int | None = None, where: str | None = None
) -> None:
    if value is not None and len(value) > limit:
        at = f"第{line}行的" if line else ""
        raise DraftError(f"{at}{what}超过{limit}个字符:“{value[:40]}…”", where=where)
