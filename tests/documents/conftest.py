"""The corpus printed once per test session as Word, PDF, OFD and web pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.documents.render import write_docx, write_html, write_ofd, write_pdf
from tests.plan_corpus import CorpusDocument, corpus_documents

Writer = Callable[..., Path]
WRITERS: dict[str, Writer] = {"docx": write_docx, "pdf": write_pdf, "ofd": write_ofd,
                              "html": write_html}
# (document, format, as a table): OFD pages carry text only (no table rendering), so a
# plan published with a table (rows in its text) is not printed as OFD.
CASES = [
    (d, fmt, table)
    for d in corpus_documents()
    for fmt in WRITERS
    if not (fmt == "ofd" and d.has_rows) and fmt in d.gold.get("printed", WRITERS)
    for table in ([False, True] if d.table and fmt != "ofd" else [False])
]


def case_id(case: tuple[CorpusDocument, str, bool]) -> str:
    document, fmt, table = case
    return f"{document.name}-{fmt}{'-table' if table else ''}"


@pytest.fixture(scope="session")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """case id → the printed file, for every case of CASES (made once)."""
    folder = tmp_path_factory.mktemp("printed")
    files: dict[str, Path] = {}
    for case in CASES:
        document, fmt, table = case
        options = {"table": table} if fmt != "ofd" else {}
        files[case_id(case)] = WRITERS[fmt](
            document.text, folder / f"{case_id(case)}.{fmt}", **options
        )
    return files
