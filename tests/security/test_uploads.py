"""Promise: a file is kept only with an accepted 报结, under a safe name, and
handed out only as a download.

An attachment is written to disk only while its action is being accepted: a
refused 报结 (task already submitted, not acknowledged, another department's,
an oversized or eleventh file) leaves no file and no record, not even a
temporary ``.upload-*`` one. Names are cleaned of path parts and odd
characters and cut to the file system's 255 bytes (UTF-8) with the extension
kept. Files are downloads, not cached, for the department's link and staff
only; only images and PDFs, judged by their first bytes, are ever shown
inline (see also ``tests/web/test_actions.py``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.domain.errors import DubanError
from duban.services.tasks.attachments import NAME_BYTES, Upload, safe_name, staged_files
from models import Attachment, TaskEvent
from tests.db.conftest import World
from tests.web.conftest import csrf

PDF = ("报告.pdf", b"%PDF-1.4 evidence", "application/pdf")


def _files_on_disk(settings: Settings) -> list[Path]:
    folder = settings.data_dir / "attachments"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _attachments(session_factory: sessionmaker[Session]) -> list[Attachment]:
    with session_factory() as session:
        return list(session.scalars(select(Attachment)))


def _open_task(client: TestClient, link: Callable[..., str], task_id: int) -> tuple[str, str]:
    base = f"/d/{link(task_id)}/tasks/{task_id}"
    form = csrf(client, base)
    return base, form


def test_a_refused_submission_leaves_no_file_behind(
    client: TestClient,
    world: World,
    link: Callable[..., str],
    session_factory: sessionmaker[Session],
    web_settings: Settings,
) -> None:
    base, form = _open_task(client, link, world.lead)
    # Not acknowledged yet: refused.
    client.post(f"{base}/submit", data={"note": "完成", "csrf_token": form}, files=[("files", PDF)])
    assert _files_on_disk(web_settings) == [] and _attachments(session_factory) == []
    client.post(f"{base}/ack", data={"csrf_token": form})
    accepted = client.post(f"{base}/submit", data={"note": "完成", "csrf_token": form},
                           files=[("files", PDF)])
    assert accepted.status_code == 303
    kept = _files_on_disk(web_settings)
    assert len(kept) == 1 and len(_attachments(session_factory)) == 1
    for _ in range(3):  # already submitted: refused, again and again
        client.post(f"{base}/submit", data={"note": "再次报结", "csrf_token": form},
                    files=[("files", ("other.pdf", b"%PDF" + b"x" * 50_000, "application/pdf"))])
    assert _files_on_disk(web_settings) == kept and len(_attachments(session_factory)) == 1
    assert "未能办理" in client.get(base).text


def test_an_oversized_or_eleventh_file_is_refused_and_nothing_is_kept(
    client: TestClient,
    world: World,
    link: Callable[..., str],
    session_factory: sessionmaker[Session],
    web_settings: Settings,
) -> None:
    web_settings.upload_max_bytes = 1000
    base, form = _open_task(client, link, world.lead)
    client.post(f"{base}/ack", data={"csrf_token": form})
    big = client.post(f"{base}/submit", data={"note": "完成", "csrf_token": form},
                      files=[("files", ("small.txt", b"ok", "text/plain")),
                             ("files", ("big.bin", b"x" * 1001, "application/octet-stream"))])
    assert big.status_code == 303
    assert "超过大小上限" in client.get(base).text
    many = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(11)]
    client.post(f"{base}/submit", data={"note": "完成", "csrf_token": form}, files=many)
    assert "一次最多上传 10 个附件" in client.get(base).text
    with session_factory() as session:
        actions = list(session.scalars(select(TaskEvent.action).where(
            TaskEvent.task_id == world.lead).order_by(TaskEvent.id)))
    assert actions == ["assign", "acknowledge"]
    assert _attachments(session_factory) == [] and _files_on_disk(web_settings) == []


def test_a_very_long_chinese_file_name_is_kept_cut_to_fit(
    client: TestClient,
    world: World,
    link: Callable[..., str],
    session_factory: sessionmaker[Session],
    web_settings: Settings,
) -> None:
    long_name = "关于推进社会建设工作情况的报告" * 7 + ".docx"  # 105 characters, 320 bytes
    base, form = _open_task(client, link, world.lead)
    client.post(f"{base}/ack", data={"csrf_token": form})
    response = client.post(f"{base}/submit", data={"note": "完成", "csrf_token": form},
                           files=[("files", (long_name, b"PK docx", "application/msword"))])
    assert response.status_code == 303
    [stored] = _files_on_disk(web_settings)
    assert len(stored.name.encode()) <= 255 and stored.name.endswith(".docx")
    [row] = _attachments(session_factory)
    assert row.filename.startswith("关于推进社会建设") and row.filename.endswith(".docx")
    download = client.get(f"{base}/files/{row.id}")
    assert download.status_code == 200 and download.content == b"PK docx"
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\张三\\验收报告.pdf", "验收报告.pdf"),
        ("<img src=x onerror=alert(1)>.html", "img_src_x_onerror_alert(1)_.html"),
        ("..", "附件"),
        ("", "附件"),
        (".bashrc", "bashrc"),
    ],
    ids=["path-traversal", "windows-path", "markup", "dots", "empty", "hidden"],
)
def test_a_file_name_keeps_only_its_safe_base_name(given: str, expected: str) -> None:
    assert safe_name(given) == expected


@pytest.mark.parametrize(
    "given",
    ["报" * 300 + ".pdf", "a" * 400, "报" * 100 + "." + "x" * 40, "𠀀" * 90 + ".xlsx"],
    ids=["cjk-with-extension", "ascii", "long-extension", "four-byte-characters"],
)
def test_a_long_name_is_cut_between_characters_to_fit_255_bytes(given: str) -> None:
    name = safe_name(given)
    assert len(name.encode()) <= NAME_BYTES
    assert given.startswith(name.rsplit(".", 1)[0][:10])
    if given.endswith((".pdf", ".xlsx")):
        assert name.endswith(given[given.rindex("."):])


class FailingStream(io.RawIOBase):
    """A stream that breaks after its first chunk, as a dropped connection does."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        if self.calls > 1:
            raise OSError("connection reset")
        return b"x" * 1000


def test_no_temporary_file_outlives_a_failed_attempt(tmp_path: Path) -> None:
    uploads = [Upload("a.pdf", "application/pdf", io.BytesIO(b"first")),
               Upload("b.pdf", "application/pdf", FailingStream())]  # type: ignore[arg-type]
    with pytest.raises(OSError), staged_files(uploads, task_id=1, data_dir=tmp_path,
                                              max_bytes=10_000):
        pass
    with pytest.raises(DubanError), staged_files(
        [Upload("c.pdf", "application/pdf", io.BytesIO(b"fine"))], task_id=1,
        data_dir=tmp_path, max_bytes=10_000,
    ) as staged:
        staged.place()
        raise DubanError("the action was refused")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
