"""Every corpus plan printed as Word, PDF, OFD and a web page (tasks in a
responsibility table for the 分工方案) reads exactly as its text: the same measures,
lead and supporting units and targets; PDF/OFD paragraphs re-joined across lines and
pages without running headers or page numbers; every measure knows where it came from."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from duban.domain.plan_draft import PlanDraft
from duban.domain.plan_parser import parse_plan
from duban.services.plans.documents import read_plan_document
from duban.services.plans.files import parse_plan_document
from tests.documents.conftest import CASES, case_id
from tests.documents.render import HEADER, paragraphs
from tests.plan_corpus import CorpusDocument


def reading(draft: PlanDraft) -> list[tuple[object, ...]]:
    return [
        (m.label, m.lead, m.supporting, m.leaders,
         sorted(str((t.due, t.comparator, t.value, t.unit, t.ongoing)) for t in m.targets))
        for m in draft.measures
    ]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_printed_plan_reads_as_its_text(
    case: tuple[CorpusDocument, str, bool], printed: dict[str, Path]
) -> None:
    document, fmt, table = case
    table = table or document.has_rows
    read = read_plan_document(printed[case_id(case)])
    draft = parse_plan_document(read)
    assert reading(draft) == reading(parse_plan(document.text))
    assert draft.source_format == fmt
    assert HEADER not in read.text  # running headers and page numbers are gone
    assert not any(re.fullmatch(r"-\s*\d+\s*-", b.text) for b in read.blocks)
    for measure in draft.measures:
        assert measure.where == read.where(measure.line)
        if table:
            assert re.fullmatch(r"(第\d+页 )?表\d+ 第\d+行", measure.where), measure.where
        elif fmt in ("pdf", "ofd"):
            assert re.fullmatch(r"第\d+页 第\d+段", measure.where), measure.where
        else:
            assert re.fullmatch(r"第\d+段", measure.where), measure.where
    if fmt in ("pdf", "ofd", "docx") and not table:
        # every paragraph whole again, whatever the lines and pages did to it
        assert [squeeze(b.text) for b in read.blocks] == [
            squeeze(p) for p in paragraphs(document.text)
        ]
