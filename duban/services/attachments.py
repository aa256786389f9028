"""Files a department attaches to a 报结: size-limited, stored under the data
directory (``DATA_DIR/attachments/<task>/<sha256 prefix>-<name>``), recorded
with the event they belong to.

Storing is two steps so a refused action leaves no record: :func:`store_files`
writes the files (refusing an oversized one before anything is recorded), the
lifecycle action runs, then :func:`record_attachments` ties them to its event.
A file left on disk by an action that was then refused is harmless: it is
named by its content and never listed.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from models import Attachment

MAX_FILES = 10
CHUNK = 64 * 1024
_UNSAFE = re.compile(r"[^\w.\-()\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Upload:
    """One uploaded file as received: its name, type and a readable stream."""

    filename: str
    content_type: str
    stream: BinaryIO


@dataclass(frozen=True)
class StoredFile:
    filename: str
    content_type: str
    size: int
    sha256: str
    stored_path: str  # relative to the data directory


@dataclass(frozen=True)
class AttachmentView:
    id: int
    task_id: int
    event_id: int
    filename: str
    content_type: str
    size: int
    uploaded_at: datetime
    uploaded_by: str

    @property
    def preview(self) -> str | None:
        """"image" or "pdf" when the name says it can be shown in the browser
        (:func:`preview_type` checks the content before it is)."""
        suffix = self.filename.rsplit(".", 1)[-1].lower() if "." in self.filename else ""
        if suffix in IMAGE_SUFFIXES:
            return "image"
        if suffix == "pdf":
            return "pdf"
        return None


IMAGE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "webp"})
# Leading bytes of the types shown inline; anything else is only downloaded.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def preview_type(path: Path) -> str | None:
    """The media type to show ``path`` inline as, judged by its first bytes
    (never by the uploader's name or declared type): PNG, JPEG, GIF, WebP or
    PDF; None for anything else, which is only offered as a download."""
    with path.open("rb") as handle:
        head = handle.read(16)
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def safe_name(filename: str) -> str:
    """The file's base name with anything but letters, digits, CJK and ``.-_()``
    replaced, at most 120 characters; ``附件`` when nothing is left."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._") or "附件"
    return cleaned[-120:]


def store_files(
    uploads: list[Upload], *, task_id: int, data_dir: Path, max_bytes: int
) -> list[StoredFile]:
    """Write each non-empty upload under the data directory.

    Raises DubanError naming the file when one exceeds ``max_bytes`` (nothing
    of it is kept), or when more than MAX_FILES are given.
    """
    uploads = [u for u in uploads if u.filename]
    if len(uploads) > MAX_FILES:
        raise DubanError(f"一次最多上传 {MAX_FILES} 个附件")
    folder = data_dir / "attachments" / str(task_id)
    stored: list[StoredFile] = []
    for upload in uploads:
        name = safe_name(upload.filename)
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, prefix=".upload-") as handle:
            temp = Path(handle.name)
            try:
                while chunk := upload.stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise DubanError(
                            f"附件“{name}”超过大小上限 {max_bytes / 1024 / 1024:.0f} MB"
                        )
                    digest.update(chunk)
                    handle.write(chunk)
            except BaseException:
                handle.close()
                temp.unlink(missing_ok=True)
                raise
        if size == 0:
            temp.unlink(missing_ok=True)
            continue
        target = folder / f"{digest.hexdigest()[:16]}-{name}"
        temp.replace(target)
        stored.append(
            StoredFile(
                filename=name,
                content_type=(upload.content_type or "application/octet-stream")[:200],
                size=size,
                sha256=digest.hexdigest(),
                stored_path=str(target.relative_to(data_dir)),
            )
        )
    return stored


def record_attachments(
    stored: list[StoredFile],
    *,
    task_id: int,
    event_id: int,
    uploaded_by: str,
    now: datetime,
    session_factory: sessionmaker[Session],
) -> list[int]:
    """Record stored files as attachments of the task's event; returns their ids."""
    with session_factory.begin() as session:
        rows = [
            Attachment(
                task_id=task_id,
                event_id=event_id,
                filename=f.filename,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
                stored_path=f.stored_path,
                uploaded_at=now,
                uploaded_by=uploaded_by,
            )
            for f in stored
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def _view(row: Attachment) -> AttachmentView:
    return AttachmentView(
        id=row.id,
        task_id=row.task_id,
        event_id=row.event_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        uploaded_at=row.uploaded_at,
        uploaded_by=row.uploaded_by,
    )


def list_attachments(
    task_id: int, *, session_factory: sessionmaker[Session]
) -> list[AttachmentView]:
    with session_factory() as session:
        return [
            _view(r)
            for r in session.scalars(
                select(Attachment).where(Attachment.task_id == task_id).order_by(Attachment.id)
            )
        ]


def attachment_file(
    attachment_id: int, *, task_id: int, data_dir: Path, session_factory: sessionmaker[Session]
) -> tuple[AttachmentView, Path]:
    """The attachment of ``task_id`` and its file; NotFoundError when it is not
    that task's, or the file is gone."""
    with session_factory() as session:
        row = session.get(Attachment, attachment_id)
        if row is None or row.task_id != task_id:
            raise NotFoundError("该任务没有这个附件")
        path = (data_dir / row.stored_path).resolve()
        if not path.is_file() or data_dir.resolve() not in path.parents:
            raise NotFoundError(f"附件“{row.filename}”的文件已不存在")
        return _view(row), path
