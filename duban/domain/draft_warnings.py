"""What a coordinator should look at in a plan draft under review (pure).

:func:`review_warnings` lists it, computed from the draft as it is now (unknown
names, targets without a date, measures without a lead) plus the parser's other
remarks, minus those marked as checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from duban.domain.directory import normalize_name
from duban.domain.draft_edits import measure_where
from duban.domain.plan_draft import WARNING_LABELS, ParseWarning, PlanDraft, WarningKind

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
        where = measure_where(measure)
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
