"""A reviewed draft written over the stored plan in place: a measure keeps its
row (and its tasks) while its number stays; its responsibilities and targets
are made to match the draft, rows no longer drafted removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, object_session

from duban.domain.directory import normalize_name
from duban.domain.plan_draft import Measure as DraftMeasure
from duban.domain.plan_draft import (
    PlanDraft,
    Role,
)
from models import (
    Measure,
    Plan,
    Responsibility,
    Section,
    Target,
)


@dataclass(frozen=True)
class Resolution:
    """Where a drafted name goes: a department's id, or a collective of departments."""

    department_id: int | None
    collective: bool



def apply_draft(
    plan: Plan,
    draft: PlanDraft,
    resolutions: dict[str, Resolution],
    *,
    source_text: str | None,
) -> None:
    """Make ``plan`` and its children equal to ``draft``, updating rows in place."""
    same_source = draft.source_sha256 is not None and plan.source_sha256 == draft.source_sha256
    if source_text is not None:
        plan.source_text = source_text
    elif not same_source:
        plan.source_text = None
    plan.title = draft.title
    plan.doc_number = draft.doc_number
    plan.plan_year = draft.plan_year
    plan.horizon = draft.horizon
    plan.source_name = draft.source_name
    plan.source_sha256 = draft.source_sha256

    sections = {s.number: s for s in plan.sections}
    for drafted_section in draft.sections:
        section = sections.get(drafted_section.number)
        if section is None:
            section = Section(number=drafted_section.number)
            plan.sections.append(section)
            sections[section.number] = section
        section.label = drafted_section.label
        section.title = drafted_section.title
        section.source_line = drafted_section.line
    _remove_missing(plan.sections, {s.number for s in draft.sections}, lambda s: s.number)

    session = object_session(plan)
    if plan.id is None and session is not None:
        _insert_measures(session, plan, draft, sections, resolutions)
        return
    measures = {m.number: m for m in plan.measures}
    for drafted in draft.measures:
        row = measures.get(drafted.number)
        if row is None:
            row = Measure(number=drafted.number)
            plan.measures.append(row)
        _apply_measure(row, drafted, sections, resolutions)
    _remove_missing(plan.measures, {m.number for m in draft.measures}, lambda m: m.number)


MEASURE_CHUNK = 500  # a new plan's measures flushed and let go of together


def _insert_measures(
    session: Session,
    plan: Plan,
    draft: PlanDraft,
    sections: dict[int, Section],
    resolutions: dict[str, Resolution],
) -> None:
    """A new plan's measures (with their responsibilities and targets) in the
    caller's transaction, ``MEASURE_CHUNK`` at a time: each chunk is flushed
    and then expunged, so a plan of thousands of measures holds one chunk's
    ORM objects at a time, not the whole plan's (they are not added to
    ``plan.measures``, which would keep every one). The plan and its sections
    are flushed first, for their ids."""
    session.flush()
    for start in range(0, len(draft.measures), MEASURE_CHUNK):
        rows = []
        for drafted in draft.measures[start : start + MEASURE_CHUNK]:
            row = Measure(plan_id=plan.id, number=drafted.number)
            _apply_measure(row, drafted, sections, resolutions)
            rows.append(row)
        session.add_all(rows)
        session.flush()
        for row in rows:
            session.expunge(row)  # with its responsibilities and targets (cascade)


def _apply_measure(
    row: Measure,
    drafted: DraftMeasure,
    sections: dict[int, Section],
    resolutions: dict[str, Resolution],
) -> None:
    row.section = sections.get(drafted.section) if drafted.section is not None else None
    row.label = drafted.label
    row.title = drafted.title
    row.text = drafted.text
    row.source_line = drafted.line
    row.source_end_line = drafted.end_line
    row.clause = drafted.clause
    row.clause_line = drafted.clause_line
    row.leaders = list(drafted.leaders)
    _apply_responsibilities(row, drafted, resolutions)
    _apply_targets(row, drafted)


def _apply_responsibilities(
    row: Measure, drafted: DraftMeasure, resolutions: dict[str, Resolution]
) -> None:
    existing = {(r.role, r.named_as): r for r in row.responsibilities}
    wanted: set[tuple[str, str]] = set()
    positions = {Role.LEAD: 0, Role.SUPPORTING: 0}
    for responsibility in drafted.responsibilities:
        positions[responsibility.role] += 1
        key = (responsibility.role.value, responsibility.name)
        wanted.add(key)
        stored = existing.get(key)
        if stored is None:
            stored = Responsibility(role=key[0], named_as=key[1])
            row.responsibilities.append(stored)
        resolution = resolutions[normalize_name(responsibility.name)]
        stored.department_id = resolution.department_id
        stored.collective = resolution.collective
        stored.position = positions[responsibility.role]
        stored.source_line = responsibility.line
    _remove_missing(row.responsibilities, wanted, lambda r: (r.role, r.named_as))


def _apply_targets(row: Measure, drafted: DraftMeasure) -> None:
    for position, target in enumerate(drafted.targets, start=1):
        if position <= len(row.targets):
            stored = row.targets[position - 1]
        else:
            stored = Target(position=position)
            row.targets.append(stored)
        stored.position = position
        stored.due = target.due
        stored.due_text = target.due_text
        stored.indicator = target.indicator
        stored.comparator = target.comparator
        stored.value = float(target.value) if target.value is not None else None
        stored.unit = target.unit
        stored.text = target.text
        stored.source_text = target.source_text
        stored.source_line = target.line
        stored.ongoing = target.ongoing
    del row.targets[len(drafted.targets) :]


def _remove_missing(rows: list[Any], keep: Iterable[Any], key: Callable[[Any], Any]) -> None:
    """Remove (delete-orphan) every row whose key is not in ``keep``."""
    wanted = set(keep)
    rows[:] = [r for r in rows if key(r) in wanted]
