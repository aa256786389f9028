"""The plan upload on /desk/plans takes Word, PDF, OFD and web pages as well as text;
the review page shows each measure; a file over the limit is refused and nothing is
written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from duban.config import Settings
from duban.services.plans.documents import MAX_DOCUMENT_BYTES
from tests.db.conftest import World
from tests.documents.render import write_docx
from tests.plan_corpus import corpus_documents

Login = Callable[[TestClient, str], str]


def test_a_word_plan_with_a_responsibility_table_is_uploaded_and_reviewed(
    client: TestClient, world: World, login: Login, tmp_path: Path, web_settings: Settings
) -> None:
    form = login(client, "coordinator")
    document = next(d for d in corpus_documents() if d.name == "liaoning-anshan-lishan-2023")
    plan = write_docx(document.text, tmp_path / "分工方案.docx", table=True)
    response = client.post(
        "/desk/plans/upload", data={"csrf_token": form},
        files={"file": ("立山区分工方案.docx", plan.read_bytes(), "application/octet-stream")},
    )
    review_url = response.headers["location"]
    assert review_url.startswith("/desk/plans/drafts/"), client.get("/desk/plans").text[-2000:]
    page = client.get(review_url).text
    assert "已解析:6 项措施" in page
    assert 'name="m1-lead" value="区发改局"' in page
    drafts = web_settings.data_dir / "drafts"
    draft_id = review_url.rsplit("/", 1)[1]
    where = json.loads((drafts / f"{draft_id}.where.json").read_text(encoding="utf-8"))
    lines = (drafts / f"{draft_id}.txt").read_text(encoding="utf-8").splitlines()
    assert len(where) == len(lines) and "表1 第2行" in where  # provenance per text line

    written = set(drafts.iterdir())
    too_big = b"%PDF-1.4\n" + b"\0" * (MAX_DOCUMENT_BYTES + 1)
    refused = client.post("/desk/plans/upload", data={"csrf_token": form},
                          files={"file": ("巨大.pdf", too_big, "application/pdf")})
    assert refused.headers["location"] == "/desk/plans"
    assert "方案文件过大" in client.get("/desk/plans").text
    assert set(drafts.iterdir()) == written  # nothing written
