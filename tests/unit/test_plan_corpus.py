"""The corpus of real published plans (tests/data/plans): every document parses to
its hand-written gold extraction — at least 95% of clauses exact and targets F1 ≥ 0.95."""

from __future__ import annotations

import pytest

from duban.domain.plan_draft import PlanDraft
from duban.domain.plan_parser import parse_plan
from tests.documents.render import table_layout
from tests.plan_corpus import CorpusDocument, corpus_documents, score

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


def _reading(draft: PlanDraft) -> list[tuple[object, ...]]:
    return [(m.label, m.lead, m.supporting, m.leaders,
             sorted(str((t.due, t.comparator, t.value, t.unit, t.ongoing)) for t in m.targets))
            for m in draft.measures]


def _rows(document: CorpusDocument) -> tuple[list[str], list[list[str]], list[str]]:
    """(lines before, the table's rows with its header, lines after): the published
    table of a plan with rows, or a 分工方案's items laid out as a table."""
    if document.has_rows:
        lines = document.text.splitlines()
        first = next(i for i, line in enumerate(lines) if "\t" in line)
        last = max(i for i, line in enumerate(lines) if "\t" in line)
        return lines[:first], [line.split("\t") for line in lines[first : last + 1]], \
            lines[last + 1 :]
    layout = table_layout(document.text)
    return layout.before, [layout.columns, *layout.rows], layout.after


TABLED = [d for d in DOCUMENTS if d.has_rows or d.table]


@pytest.mark.parametrize("document", TABLED, ids=[d.name for d in TABLED])
def test_a_table_given_one_cell_a_line_reads_as_its_rows(document) -> None:  # type: ignore[no-untyped-def]
    """As a Word table saved as text (one cell a line, blank lines between) and as a
    page stored as text (each cell ending in " |"), every table of the corpus reads
    as the plan does."""
    before, rows, after = _rows(document)
    expected = _reading(parse_plan(document.text))
    piped = [f"{cell} |" if len(row) > 1 else cell for row in rows for cell in row]
    assert _reading(parse_plan("\n".join([*before, *piped, *after]))) == expected
    if all(cell.strip() for row in rows for cell in row):  # an empty cell has no line
        plain = [line for row in rows for cell in row for line in (cell, "")]
        assert _reading(parse_plan("\n".join([*before, *plain, *after]))) == expected
