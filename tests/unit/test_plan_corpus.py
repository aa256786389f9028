"""The corpus of real published plans (tests/data/plans): every document parses to
its hand-written gold extraction — at least 95% of clauses exact and targets F1 ≥ 0.95."""

from __future__ import annotations

import pytest

from duban.domain.plan_parser import parse_plan
from tests.plan_corpus import corpus_documents, score

DOCUMENTS = corpus_documents()


def test_the_corpus_spans_regions_levels_years_and_styles() -> None:
    assert len(DOCUMENTS) >= 8
    assert len({d.gold["region"] for d in DOCUMENTS}) >= 8
    assert len({d.gold["level"] for d in DOCUMENTS}) >= 4
    assert len({d.gold["year"] for d in DOCUMENTS}) >= 4
    assert len({d.gold["style"] for d in DOCUMENTS}) >= 3
    assert sum(d.table for d in DOCUMENTS) >= 2
    assert sum(d.has_rows for d in DOCUMENTS) >= 3  # responsibility tables as published
    assert sum(bool(d.gold.get("complete")) for d in DOCUMENTS) >= 9
    assert all(str(d.gold["source"]).startswith("http") for d in DOCUMENTS)


@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.name for d in DOCUMENTS])
def test_document_reads_as_its_gold_file(document) -> None:  # type: ignore[no-untyped-def]
    result = score(document, parse_plan(document.text, source_name=document.text_path.name))
    assert result.clause_rate >= 0.95, "\n".join(result.wrong + result.missing + result.extra)
    assert result.f1 >= 0.95, (result.precision, result.recall)
