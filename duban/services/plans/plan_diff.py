"""A reviewed draft compared with the stored plan: which plan fields and which
measures (title, text, responsibilities, targets) would change, in the
import report's words; measures are matched by number.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from duban.domain.plan_draft import Measure as DraftMeasure
from duban.domain.plan_draft import (
    PlanDraft,
    Role,
    format_value,
)
from duban.domain.plan_draft import Target as DraftTarget
from duban.services.plans.import_report import (
    FieldChange,
    ImportReport,
    MeasureChange,
)
from duban.services.serialize import jsonable
from models import (
    Measure,
    Plan,
    Target,
)


def diff_plan(plan: Plan, draft: PlanDraft, report: ImportReport) -> None:
    """Fill the report with how ``draft`` differs from the stored ``plan``."""
    for name, old, new in (
        ("title", plan.title, draft.title),
        ("doc_number", plan.doc_number, draft.doc_number),
        ("plan_year", plan.plan_year, draft.plan_year),
        ("horizon", plan.horizon, draft.horizon),
        ("source_name", plan.source_name, draft.source_name),
        ("source_sha256", plan.source_sha256, draft.source_sha256),
    ):
        if old != new:
            report.plan_changes.append(FieldChange(name, old, new))

    stored_sections = {s.number: s for s in plan.sections}
    drafted_sections = {s.number: s for s in draft.sections}
    report.sections_added = sorted(set(drafted_sections) - set(stored_sections))
    report.sections_removed = sorted(set(stored_sections) - set(drafted_sections))
    report.sections_changed = [
        number
        for number in sorted(set(stored_sections) & set(drafted_sections))
        if (stored_sections[number].label, stored_sections[number].title)
        != (drafted_sections[number].label, drafted_sections[number].title)
    ]

    stored = {m.number: m for m in plan.measures}
    drafted = {m.number: m for m in draft.measures}
    report.measures_added = sorted(set(drafted) - set(stored))
    report.measures_removed = sorted(set(stored) - set(drafted))
    for number in sorted(set(stored) & set(drafted)):
        changes = _measure_changes(stored[number], drafted[number])
        if changes:
            report.measures_changed.append(MeasureChange(number, drafted[number].title, changes))
        elif _measure_lines(stored[number]) != _draft_measure_lines(drafted[number]):
            report.relocated += 1


def _measure_changes(row: Measure, measure: DraftMeasure) -> list[FieldChange]:
    stored_section = row.section.number if row.section is not None else None
    pairs: list[tuple[str, Any, Any]] = [
        ("label", row.label, measure.label),
        ("title", row.title, measure.title),
        ("text", row.text, measure.text),
        ("section", stored_section, measure.section),
        ("clause", row.clause, measure.clause),
        ("leaders", list(row.leaders or []), measure.leaders),
        ("lead", _stored_names(row, Role.LEAD), measure.lead),
        ("supporting", _stored_names(row, Role.SUPPORTING), measure.supporting),
        (
            "targets",
            [_describe(_target_content_of_row(t)) for t in row.targets],
            [_describe(_target_content(t)) for t in measure.targets],
        ),
    ]
    changes = [FieldChange(name, old, new) for name, old, new in pairs if old != new]
    # Structured target fields may change while the description does not.
    if not any(c.field == "targets" for c in changes) and [
        _target_content_of_row(t) for t in row.targets
    ] != [_target_content(t) for t in measure.targets]:
        changes.append(
            FieldChange(
                "targets",
                [_target_dict(_target_content_of_row(t)) for t in row.targets],
                [_target_dict(_target_content(t)) for t in measure.targets],
            )
        )
    return changes


def _stored_names(row: Measure, role: Role) -> list[str]:
    chosen = [r for r in row.responsibilities if r.role == role.value]
    return [r.named_as for r in sorted(chosen, key=lambda r: r.position)]


_TargetContent = tuple[
    date | None, str | None, str | None, str | None, float | None, str | None, str, str, bool
]


_TARGET_FIELDS = (
    "due", "due_text", "indicator", "comparator", "value", "unit", "text", "source", "ongoing"
)


def _target_content(target: DraftTarget) -> _TargetContent:
    value = float(target.value) if target.value is not None else None
    return (
        target.due,
        target.due_text,
        target.indicator,
        target.comparator,
        value,
        target.unit,
        target.text,
        target.source_text,
        target.ongoing,
    )


def _target_content_of_row(row: Target) -> _TargetContent:
    return (
        row.due,
        row.due_text,
        row.indicator,
        row.comparator,
        row.value,
        row.unit,
        row.text,
        row.source_text,
        bool(row.ongoing),
    )


def _target_dict(content: _TargetContent) -> dict[str, Any]:
    return jsonable(dict(zip(_TARGET_FIELDS, content, strict=True)))


def _describe(content: _TargetContent) -> str:
    """One line for a target: its text, then due date and quantity if any."""
    due, _due_text, indicator, comparator, value, unit, text, _source, ongoing = content
    extras = []
    if due is not None:
        extras.append(f"期限 {due.isoformat()}")
    if ongoing:
        extras.append("长期任务")
    if value is not None:
        quantity = f"{comparator or ''}{format_value(value)}{unit or ''}"
        extras.append(f"{indicator} {quantity}" if indicator else quantity)
    return f"{text}({';'.join(extras)})" if extras else text


def _measure_lines(row: Measure) -> tuple[Any, ...]:
    return (
        row.source_line,
        row.source_end_line,
        row.clause_line,
        sorted((r.role, r.named_as, r.source_line) for r in row.responsibilities),
        [t.source_line for t in row.targets],
    )


def _draft_measure_lines(measure: DraftMeasure) -> tuple[Any, ...]:
    return (
        measure.line,
        measure.end_line,
        measure.clause_line,
        sorted((r.role.value, r.name, r.line) for r in measure.responsibilities),
        [t.line for t in measure.targets],
    )
