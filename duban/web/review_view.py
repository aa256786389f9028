"""What the plan review page shows, and reading its form back.

The page puts each measure beside its source paragraph, with the
responsibility clause and the target phrases marked; the form holds the
measure's units and targets (:class:`~duban.domain.draft_edits.MeasureEdit`),
the decisions about names the directory does not know, and the warnings
marked as checked. :func:`read_form` turns a submitted form into those
parts; the rules that check and apply them live in
:mod:`duban.domain.draft_edits`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape
from starlette.datastructures import FormData

from duban.domain.directory import KIND_LABELS, Directory, normalize_name
from duban.domain.draft_edits import FIELD_LABELS, FieldError, MeasureEdit, TargetEdit
from duban.domain.draft_names import Resolution
from duban.domain.draft_warnings import ReviewWarning
from duban.domain.labels import COMPARATOR_NAMES
from duban.domain.plan_draft import COMPARATORS, Measure, PlanDraft

COMPARATOR_CHOICES = [("", "—"), *((c, COMPARATOR_NAMES[c]) for c in COMPARATORS)]
KIND_CHOICES = [(kind.value, label) for kind, label in KIND_LABELS.items()]
_TARGET_ROW = re.compile(r"^m(\d+)-t(\d+)-text$")


@dataclass
class NameChoice:
    """A name the directory does not know, the measures naming it, and the
    coordinator's choice as last submitted (for re-showing a refused form)."""

    index: int
    name: str
    measures: list[int]
    suggestions: list[str]
    action: str = ""
    department: str = ""
    kind: str = "department"
    error: str | None = None


@dataclass
class Pending:
    """A directory change decided in review, applied at import."""

    name: str
    what: str


@dataclass
class SubmittedForm:
    edits: list[MeasureEdit] = field(default_factory=list)
    choices: list[NameChoice] = field(default_factory=list)
    undo: list[str] = field(default_factory=list)
    reviewed: list[str] = field(default_factory=list)
    create_rest: bool = False  # every name left at 暂不处理 becomes a new unit …
    rest_kind: str = "department"  # … of this kind


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def read_form(form: FormData, draft: PlanDraft) -> SubmittedForm:
    """The review form as edits (only for measures the form carries), name
    decisions and checked warnings."""
    submitted = SubmittedForm()
    rows: dict[int, list[int]] = {}
    for key in form.keys():
        if match := _TARGET_ROW.match(key):
            rows.setdefault(int(match.group(1)), []).append(int(match.group(2)))
    for measure in draft.measures:
        n = measure.number
        if f"m{n}" not in form:
            continue
        submitted.edits.append(
            MeasureEdit(
                number=n,
                lead=[v for v in form.getlist(f"m{n}-lead") if isinstance(v, str)],
                supporting=[v for v in form.getlist(f"m{n}-supporting") if isinstance(v, str)],
                targets=[
                    _target_edit(form, f"m{n}-t{row}-") for row in sorted(set(rows.get(n, [])))
                ],
                leaders=[_text(form, f"m{n}-leaders")] if f"m{n}-leaders" in form else None,
            )
        )
    index = 0
    while f"u{index}-name" in form:
        submitted.choices.append(_name_choice(form, index))
        index += 1
    submitted.undo = [v for v in form.getlist("undo") if isinstance(v, str)]
    submitted.create_rest = _text(form, "create_rest") == "on"
    submitted.rest_kind = _text(form, "rest_kind") or "department"
    submitted.reviewed = [v for v in form.getlist("ack") if isinstance(v, str)]
    return submitted


def _target_edit(form: FormData, prefix: str) -> TargetEdit:
    """One target row of the form (fields named ``m{measure}-t{row}-…``)."""
    origin = _text(form, prefix + "origin")
    return TargetEdit(
        text=_text(form, prefix + "text"),
        due=_text(form, prefix + "due"),
        indicator=_text(form, prefix + "indicator"),
        comparator=_text(form, prefix + "comparator"),
        value=_text(form, prefix + "value"),
        unit=_text(form, prefix + "unit"),
        ongoing=_text(form, prefix + "ongoing") == "on",
        origin=int(origin) if origin.isdigit() else None,
        remove=_text(form, prefix + "remove") == "on",
    )


def _name_choice(form: FormData, index: int) -> NameChoice:
    """The decision on the ``index``-th name the directory does not know (``u{index}-…``)."""
    prefix = f"u{index}-"
    return NameChoice(
        index=index,
        name=_text(form, prefix + "name"),
        measures=[],
        suggestions=[],
        action=_text(form, prefix + "do"),
        department=_text(form, prefix + "department").strip(),
        kind=_text(form, prefix + "kind") or "department",
    )


def resolution_of(action: str) -> Resolution | None:
    try:
        return Resolution(action)
    except ValueError:
        return None


def name_choices(
    unknown: dict[str, list[int]], directory: Directory, submitted: list[NameChoice] | None = None
) -> list[NameChoice]:
    """One entry per unknown name, with up to three similar directory names."""
    before = {normalize_name(c.name): c for c in submitted or []}
    names = [n for d in directory for n in d.names()]
    choices = []
    for index, (name, measures) in enumerate(unknown.items()):
        choice = NameChoice(index, name, measures, _similar(name, names))
        if (old := before.get(normalize_name(name))) is not None:
            choice.action, choice.department, choice.kind = old.action, old.department, old.kind
            choice.error = old.error
        elif choice.suggestions and _prefill(name, choice.suggestions[0]):
            choice.department = choice.suggestions[0]
        choices.append(choice)
    return choices


def _prefill(name: str, similar: str) -> bool:
    """Whether a similar name is likely the same unit, enough to put it in the
    box: one contains the other (市卫计局 / 珠海市卫计局) or they differ only in
    the last character (市卫计委 / 市卫计局). Others are only suggested
    (市政数局 is not 市财政局)."""
    a, b = normalize_name(name), normalize_name(similar)
    if a in b or b in a:
        return True
    common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                  min(len(a), len(b)))
    return len(a) >= 3 and common >= max(len(a), len(b)) - 1


def _similar(name: str, names: list[str]) -> list[str]:
    """Directory names that look like ``name`` (市卫计委 → 市卫计局 …)."""
    by_key = {normalize_name(n): n for n in names}
    close = difflib.get_close_matches(normalize_name(name), list(by_key), n=3, cutoff=0.5)
    return [by_key[k] for k in close]


def pending_changes(draft: PlanDraft) -> list[Pending]:
    kinds = {kind.value: label for kind, label in KIND_LABELS.items()}
    return [
        *(Pending(d.name, f"新建为{kinds.get(d.kind, d.kind)}") for d in draft.new_departments),
        *(Pending(a.alias, f"记为“{a.department}”的别名") for a in draft.new_aliases),
    ]


def short_message(warning: ReviewWarning, labels: dict[int, str]) -> str:
    """The message without its leading "措施N的" (the list links the measure)."""
    if warning.measure is None:
        return warning.message
    prefix = f"措施{labels.get(warning.measure, warning.measure)}"
    if warning.message.startswith(prefix):
        return warning.message[len(prefix):].removeprefix("的").removeprefix(":")
    return warning.message


# --- the source paragraph ------------------------------------------------------


def _normalised_with_map(raw: str) -> tuple[str, list[int]]:
    """NFKC of ``raw`` character by character, and for each output character
    the index of the raw character it came from (the parser matched on NFKC
    text; the page shows the document as written)."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(raw):
        normal = unicodedata.normalize("NFKC", char)
        out.append(normal)
        origin.extend([index] * len(normal))
    return "".join(out), origin


def highlight(raw: str, phrases: list[tuple[str, str]]) -> Markup:
    """``raw`` escaped, with each phrase (NFKC text, CSS class) marked where it
    occurs; earlier phrases win where two overlap."""
    text, origin = _normalised_with_map(raw)
    spans: list[tuple[int, int, str]] = []
    for phrase, css in phrases:
        phrase = unicodedata.normalize("NFKC", phrase).strip()
        if not phrase:
            continue
        start = text.find(phrase)
        while start >= 0:
            end = start + len(phrase)
            first, last = origin[start], origin[end - 1] + 1
            if not any(first < b and a < last for a, b, _c in spans):
                spans.append((first, last, css))
            start = text.find(phrase, end)
    spans.sort()
    parts: list[str] = []
    position = 0
    for first, last, css in spans:
        parts.append(str(escape(raw[position:first])))
        parts.append(f'<mark class="{css}">{escape(raw[first:last])}</mark>')
        position = last
    parts.append(str(escape(raw[position:])))
    return Markup("".join(parts))


def _occurs(phrase: str, lines: list[str]) -> bool:
    phrase = unicodedata.normalize("NFKC", phrase).strip()
    return bool(phrase) and any(phrase in unicodedata.normalize("NFKC", t) for t in lines)


def phrases_of(measure: Measure, lines: list[str] | None = None) -> list[tuple[str, str]]:
    """What to mark in a measure's source: the clause parts, then the targets'
    phrases as the parser found them. When no clause part occurs in ``lines``
    (a table row, whose units sit in their own cells), the units' names instead."""
    phrases: list[tuple[str, str]] = []
    for part in re.split(r"[;;]", measure.clause or ""):
        if part.strip():
            phrases.append((part, "clause"))
    if lines is not None and not any(_occurs(p, lines) for p, _css in phrases):
        phrases = [(r.name, "clause") for r in measure.responsibilities]
    for target in measure.targets:
        phrases.append((target.source_text or target.text, "target"))
        if target.due_text:
            phrases.append((target.due_text, "target"))
    return phrases


@dataclass
class SourceDocument:
    """The uploaded document as the draft's lines index it: line N is
    ``lines[N-1]``, found at ``where[N-1]`` (第2页 第3段, 表1 第4行 …) when the
    reader recorded provenance (not for plain text, where the line is the label)."""

    lines: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)

    def label(self, line: int) -> str:
        if 0 < line <= len(self.where) and self.where[line - 1]:
            return self.where[line - 1]
        return f"第{line}行"


@dataclass
class SourceLine:
    number: int
    label: str
    html: Markup


def source_of(measure: Measure, document: SourceDocument) -> list[SourceLine]:
    """The measure's paragraphs as the document has them (its ``line`` to
    ``end_line``), marked, each with its provenance; the measure's own text
    when the document is gone."""
    lines = document.lines
    end = max(measure.end_line, measure.line)
    if lines and 0 < measure.line <= len(lines):
        phrases = phrases_of(measure, lines[measure.line - 1 : end])
        return [
            SourceLine(n, document.label(n), highlight(lines[n - 1], phrases))
            for n in range(measure.line, min(end, len(lines)) + 1)
            if lines[n - 1].strip()
        ]
    phrases = phrases_of(measure, measure.text.splitlines())
    return [SourceLine(measure.line + i, f"第{measure.line + i}行", highlight(t, phrases))
            for i, t in enumerate(measure.text.splitlines())]


# --- the page ----------------------------------------------------------------------


@dataclass
class MeasureRow:
    measure: Measure
    section: str
    where: str  # the measure's provenance: 第2页 第3段, 表1 第4行, 第5–7行
    edit: MeasureEdit
    source: list[SourceLine]
    warnings: list[ReviewWarning]
    errors: dict[str, list[str]]  # form field id -> messages


def field_id(error: FieldError) -> str:
    """The form control an error belongs to (anchor for the error list)."""
    if error.row is None:
        return f"m{error.measure}-{error.field}"
    return f"m{error.measure}-t{error.row}-{error.field}"


def measure_rows(
    draft: PlanDraft,
    document: SourceDocument,
    warnings: list[ReviewWarning],
    *,
    edits: dict[int, MeasureEdit] | None = None,
    errors: list[FieldError] | None = None,
) -> list[MeasureRow]:
    by_measure: dict[int | None, list[ReviewWarning]] = {}
    for warning in warnings:
        by_measure.setdefault(warning.measure, []).append(warning)
    by_field: dict[int, dict[str, list[str]]] = {}
    for error in errors or []:
        by_field.setdefault(error.measure, {}).setdefault(field_id(error), []).append(
            error.message
        )
    rows = []
    for measure in draft.measures:
        section = draft.section(measure.section)
        where = measure.where or document.label(measure.line)
        if not measure.where and measure.end_line > measure.line:
            where = f"第{measure.line}–{measure.end_line}行"
        rows.append(
            MeasureRow(
                measure=measure,
                section=section.heading if section else "",
                where=where,
                edit=(edits or {}).get(measure.number) or MeasureEdit.of(measure),
                source=source_of(measure, document),
                warnings=by_measure.get(measure.number, []),
                errors=by_field.get(measure.number, {}),
            )
        )
    return rows


def page_context(**values: Any) -> dict[str, Any]:
    """The constants every render of the review page needs, plus ``values``."""
    return {
        "comparators": COMPARATOR_CHOICES,
        "kinds": KIND_CHOICES,
        "field_labels": FIELD_LABELS,
        **values,
    }


Known = Callable[[str], bool]
