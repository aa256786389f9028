"""The reviewable draft of a plan: what the parser understood, before import.

A draft is plain data (stdlib dataclasses). The parser produces one, a
coordinator may edit it as YAML (``duban.services.plans.draft_io``), and the import
service stores it. Every element keeps the 1-based line of the source text it
came from (its provenance).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    LEAD = "lead"
    SUPPORTING = "supporting"


COMPARATORS = (">=", ">", "<=", "<", "=")


class WarningKind(StrEnum):
    UNKNOWN_DEPARTMENT = "unknown_department"
    NO_RESPONSIBILITY = "no_responsibility"
    TARGET_WITHOUT_DATE = "target_without_date"
    AMBIGUOUS_CLAUSE = "ambiguous_clause"
    VAGUE_DEPARTMENT = "vague_department"
    LEAD_ASSUMED = "lead_assumed"


WARNING_LABELS: dict[WarningKind, str] = {
    WarningKind.UNKNOWN_DEPARTMENT: "未知单位",
    WarningKind.NO_RESPONSIBILITY: "未列责任单位",
    WarningKind.TARGET_WITHOUT_DATE: "目标无时限",
    WarningKind.AMBIGUOUS_CLAUSE: "分工表述不明确",
    WarningKind.VAGUE_DEPARTMENT: "单位表述笼统",
    WarningKind.LEAD_ASSUMED: "牵头单位待确认",
}


@dataclass
class ParseWarning:
    kind: WarningKind
    line: int
    message: str
    measure: int | None = None

    @property
    def label(self) -> str:
        return WARNING_LABELS[self.kind]


@dataclass
class Target:
    """A dated and/or quantified goal of a measure.

    ``due`` is None for a quantified goal the text gives no date for;
    ``comparator``/``value``/``unit`` are None for a dated goal with no number.
    ``ongoing`` marks a standing task (长期坚持, 持续推进): no date of its own; it
    runs to the plan's horizon with periodic progress reports.
    """

    text: str
    line: int
    due: date | None = None
    due_text: str | None = None
    indicator: str | None = None
    comparator: str | None = None
    value: float | None = None
    unit: str | None = None
    source_text: str = ""
    ongoing: bool = False


@dataclass
class Responsibility:
    """One department (as the plan names it) in one role for one measure."""

    name: str
    role: Role
    line: int


@dataclass
class Measure:
    number: int
    title: str
    text: str
    line: int
    end_line: int
    section: int | None = None
    label: str = ""
    responsibilities: list[Responsibility] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    clause: str | None = None
    clause_line: int | None = None
    leaders: list[str] = field(default_factory=list)
    # Provenance labels of ``line`` and ``clause_line`` in the source document
    # ("第2页 第3段", "表1 第4行"); empty for plain text, where the line is the label.
    where: str = ""
    clause_where: str = ""

    @property
    def lead(self) -> list[str]:
        return [r.name for r in self.responsibilities if r.role is Role.LEAD]

    @property
    def supporting(self) -> list[str]:
        return [r.name for r in self.responsibilities if r.role is Role.SUPPORTING]


@dataclass
class Section:
    number: int
    label: str
    title: str
    line: int

    @property
    def heading(self) -> str:
        return f"{self.label}、{self.title}" if self.label else self.title


@dataclass
class NewDepartment:
    """A department the coordinator chose to create when the draft is imported."""

    name: str
    kind: str = "department"  # a DepartmentKind value


@dataclass
class NewAlias:
    """A printed name the coordinator chose to record as another name of an
    existing department (its official name) when the draft is imported."""

    alias: str
    department: str


@dataclass
class PlanDraft:
    title: str
    doc_number: str | None
    measures: list[Measure]
    sections: list[Section] = field(default_factory=list)
    plan_year: int | None = None
    horizon: date | None = None
    source_name: str | None = None
    source_sha256: str | None = None
    encoding: str = "utf-8"
    warnings: list[ParseWarning] = field(default_factory=list)
    # Directory changes decided in review, applied in the import's transaction.
    new_departments: list[NewDepartment] = field(default_factory=list)
    new_aliases: list[NewAlias] = field(default_factory=list)
    # Keys (:func:`warning_key`) of warnings the coordinator marked as checked.
    reviewed: list[str] = field(default_factory=list)
    # txt, docx, pdf, ofd, html, doc or wps: what the source document was.
    source_format: str = "txt"

    def section(self, number: int | None) -> Section | None:
        for section in self.sections:
            if section.number == number:
                return section
        return None

    def measure(self, number: int) -> Measure | None:
        for measure in self.measures:
            if measure.number == number:
                return measure
        return None

    def content_fingerprint(self) -> str:
        """A hash of everything an import stores, independent of warnings and
        of where the draft came from, so an unchanged plan is recognised."""
        payload = {
            "title": self.title,
            "doc_number": self.doc_number,
            "plan_year": self.plan_year,
            "horizon": self.horizon,
            "sections": [asdict(s) for s in self.sections],
            "measures": [
                {k: v for k, v in asdict(m).items() if k not in ("where", "clause_where")}
                for m in self.measures
            ],
        }
        blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def format_value(value: float | None) -> str | None:
    """Show 75.0 as "75" and 0.5 as "0.5"."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def draft_to_json(draft: PlanDraft) -> dict[str, Any]:
    """The ``plan parse --json`` shape (documented in the README)."""
    return {
        "title": draft.title,
        "doc_number": draft.doc_number,
        "plan_year": draft.plan_year,
        "horizon": draft.horizon.isoformat() if draft.horizon else None,
        "encoding": draft.encoding,
        "source_format": draft.source_format,
        "sections": [
            {"number": s.number, "label": s.label, "title": s.title, "line": s.line}
            for s in draft.sections
        ],
        "measures": [
            {
                "number": m.number,
                "label": m.label,
                "title": m.title,
                "section": (sec.heading if (sec := draft.section(m.section)) else None),
                "section_number": m.section,
                "line": m.line,
                "where": m.where or None,
                "lead": m.lead,
                "supporting": m.supporting,
                "clause": m.clause,
                "leaders": m.leaders,
                "targets": [
                    {
                        "due": t.due.isoformat() if t.due else None,
                        "due_text": t.due_text,
                        "text": t.text,
                        "indicator": t.indicator,
                        "comparator": t.comparator,
                        "value": (
                            int(t.value)
                            if t.value is not None and float(t.value).is_integer()
                            else t.value
                        ),
                        "unit": t.unit,
                        "ongoing": t.ongoing,
                        "line": t.line,
                    }
                    for t in m.targets
                ],
            }
            for m in draft.measures
        ],
        "warnings": [
            {
                "kind": str(w.kind),
                "label": w.label,
                "line": w.line,
                "measure": w.measure,
                "message": w.message,
            }
            for w in draft.warnings
        ],
    }
