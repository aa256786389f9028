"""督办文书 from the pages: a coordinator issues a 督办单 from a task page and a
督查通报 for a period; staff download them under Chinese file names; a
supervisor may read but not issue; without LibreOffice the PDF says why."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from docx import Document
from fastapi.testclient import TestClient

from duban.config import Settings
from tests.db.conftest import World
from tests.web.test_desk_queue import LEAKS, _visible

Login = Callable[[TestClient, str], str]


@pytest.fixture
def web_settings(migrated_url: str, tmp_path: Path) -> Settings:
    """As tests/web/conftest.py's, on a machine without LibreOffice."""
    return Settings(data_dir=tmp_path / "data", database_url=migrated_url,
                    secret_key="test-secret-key", base_url="http://duban.test",
                    soffice=str(tmp_path / "no-soffice"))


def test_a_coordinator_issues_and_staff_download_documents(
    client: TestClient,
    new_client: Callable[[], TestClient],
    world: World,
    login: Login,
) -> None:
    form = login(client, "coordinator")
    task_page = client.get(f"/tasks/{world.district}").text
    assert 'id="document-form"' in task_page
    issued = client.post("/documents/notice", data={
        "csrf_token": form, "task": str(world.district), "kind": "yellow",
        "opinion": "请抓紧办理", "back": f"/tasks/{world.district}"})
    assert issued.status_code == 303 and issued.headers["location"].startswith("/documents/")
    page = client.get(issued.headers["location"]).text
    assert "黄色督办单" in page and "督〔2015〕1号" in page and "请抓紧办理" in page
    assert not LEAKS.search(_visible(page))
    document_id = issued.headers["location"].rsplit("/", 1)[1]
    assert "督〔2015〕1号" in client.get(f"/tasks/{world.district}").text  # listed on the task

    download = client.get(f"/documents/{document_id}.docx")
    assert download.status_code == 200
    disposition = unquote(download.headers["content-disposition"])
    assert "黄色督办单-督〔2015〕1号-香洲区.docx" in disposition
    text = "\n".join(c.text for t in Document(io.BytesIO(download.content)).tables
                     for r in t.rows for c in r.cells)
    assert "请抓紧办理" in text and "香洲区" in text

    bulletin = client.post("/documents/bulletin", data={"csrf_token": form, "period": "2015-Q1"})
    assert bulletin.status_code == 303
    listing = client.get("/documents").text
    assert "督通〔2015〕1号" in listing and "2015年1月1日至2015年3月31日" in listing
    first = client.post("/documents/notice", data={"csrf_token": form, "task": str(world.lead),
                                                      "back": "/documents"})
    # 2015-06-01: nothing is overdue or escalated yet, but the task is open: a 督办通知单.
    assert first.headers["location"].startswith("/documents/")

    supervisor = new_client()
    token = login(supervisor, "supervisor")
    assert supervisor.get(f"/documents/{document_id}.docx").status_code == 200
    assert 'action="/documents/notice"' not in supervisor.get("/documents").text
    assert supervisor.post("/documents/bulletin", data={"csrf_token": token}).status_code == 403
    # Without LibreOffice the PDF is refused with what to install; the .docx still works.
    pdf = supervisor.get(f"/documents/{document_id}.pdf")
    assert pdf.status_code == 503 and "未找到 LibreOffice" in pdf.text
