"""The corpus of real plans (tests/data/plans) and how a parse is scored against
its hand-written gold file.

Each document is ``<name>.txt`` (the plan as published, or the beginning of it
that the source page holds) with ``<name>.gold.yaml`` beside it: source URL,
region, level, year, clause style, and the expected extraction written by hand
— per measure (by printed label) the lead and supporting units in printed
order, and the targets as ``[measure, due, comparator, value, unit]``.

Scores (``score``):

* clauses: a measure is exact when the parse has a measure with the same label
  whose lead and supporting lists equal the gold ones (order included);
  ``total`` counts gold measures plus measures the parser invented;
* targets: precision, recall and F1 over the multiset of
  ``(measure, due, comparator, value, unit)``; F1 is 1.0 when both are empty.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from duban.domain.plan_draft import PlanDraft

CORPUS_DIR = Path(__file__).resolve().parent / "data" / "plans"

TargetKey = tuple[str, date | None, str | None, float | None, str | None]


@dataclass(frozen=True)
class CorpusDocument:
    name: str
    text_path: Path
    gold: dict[str, Any]

    @property
    def text(self) -> str:
        return self.text_path.read_text(encoding="utf-8")

    @property
    def has_rows(self) -> bool:
        """The plan was published with a table: its text has rows (cells joined by TAB)."""
        return any("\t" in line for line in self.text.splitlines())

    @property
    def table(self) -> bool:
        """A 分工方案 (one task per item): also tested rendered as a table."""
        return bool(self.gold.get("table"))


@dataclass(frozen=True)
class Score:
    exact: int
    total: int
    missing: list[str]
    wrong: list[str]
    extra: list[str]
    target_tp: int
    target_fp: int
    target_fn: int
    error: str | None = None  # the parser refused the document
    targets_missing: list[str] = field(default_factory=list)
    targets_extra: list[str] = field(default_factory=list)

    @property
    def clause_rate(self) -> float:
        return self.exact / self.total if self.total else 1.0

    @property
    def precision(self) -> float:
        found = self.target_tp + self.target_fp
        return self.target_tp / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.target_tp + self.target_fn
        return self.target_tp / expected if expected else 1.0

    @property
    def f1(self) -> float:
        if self.target_tp + self.target_fp + self.target_fn == 0:
            return 1.0
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def corpus_documents() -> list[CorpusDocument]:
    """Every document with a gold file, by name."""
    documents = []
    for gold_path in sorted(CORPUS_DIR.glob("*.gold.yaml")):
        name = gold_path.name.removesuffix(".gold.yaml")
        gold = yaml.safe_load(gold_path.read_text(encoding="utf-8"))
        documents.append(CorpusDocument(name, CORPUS_DIR / f"{name}.txt", gold))
    return documents


def _target_key(measure: str, raw: list[Any]) -> TargetKey:
    due, comparator, value, unit = raw
    if isinstance(due, str):
        due = date.fromisoformat(due)
    return (measure, due, comparator, float(value) if value is not None else None, unit)


def gold_targets(document: CorpusDocument) -> Counter[TargetKey]:
    return Counter(_target_key(t[0], t[1:]) for t in document.gold.get("targets") or [])


def parsed_targets(draft: PlanDraft) -> Counter[TargetKey]:
    return Counter(
        (m.label, t.due, t.comparator, t.value, t.unit) for m in draft.measures for t in m.targets
    )


def _show(key: TargetKey) -> str:
    measure, due, comparator, value, unit = key
    amount = "" if value is None else f"{value:g}"
    return f"{measure}: {due or '无期限'} {comparator or ''}{amount}{unit or ''}"


def failed(document: CorpusDocument, error: str) -> Score:
    """The score of a document the parser refused: nothing exact, no target found."""
    labels = [str(m["label"]) for m in document.gold["measures"]]
    return Score(
        exact=0, total=len(labels), missing=labels, wrong=[], extra=[],
        target_tp=0, target_fp=0, target_fn=sum(gold_targets(document).values()),
        error=error,
    )


def score(document: CorpusDocument, draft: PlanDraft) -> Score:
    parsed = {m.label: m for m in draft.measures}
    expected = {str(m["label"]): m for m in document.gold["measures"]}
    exact, missing, wrong = 0, [], []
    for label, gold in expected.items():
        measure = parsed.get(label)
        if measure is None:
            missing.append(label)
            continue
        if measure.lead == list(gold["lead"]) and measure.supporting == list(gold["supporting"]):
            exact += 1
        else:
            wrong.append(
                f"{label}: 得到 {measure.lead} / {measure.supporting},"
                f"应为 {gold['lead']} / {gold['supporting']}"
            )
    extra = [label for label in parsed if label not in expected]
    want, got = gold_targets(document), parsed_targets(draft)
    tp = sum((want & got).values())
    return Score(
        targets_missing=[_show(k) for k in (want - got).elements()],
        targets_extra=[_show(k) for k in (got - want).elements()],
        exact=exact,
        total=len(expected) + len(extra),
        missing=missing,
        wrong=wrong,
        extra=extra,
        target_tp=tp,
        target_fp=sum(got.values()) - tp,
        target_fn=sum(want.values()) - tp,
    )
