"""Files a department attaches to a 报结: size-limited, stored under the data
directory (``DATA_DIR/attachments/<task>/<random>-<name>``), recorded with
the event they belong to.

A file is kept only if its action is accepted. :func:`staged_files` writes
the uploads to temporary files beside their final place (refusing an
oversized one, or too many, before anything is recorded); the caller places
them and runs the action, whose transaction records them
(:func:`duban.services.tasks.lifecycle.submit` takes them); if anything fails on
the way — the action refused, the database gone — every file of the attempt
is removed, temporary or placed. No ``.upload-*`` file outlives the attempt.

Names on disk are :func:`safe_name`: the base name with anything but letters,
digits, CJK and ``.-_()`` replaced, cut to fit the file system's 255 bytes
(UTF-8) with its extension kept.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from models import Attachment

MAX_FILES = 10
CHUNK = 64 * 1024
# A file name on Linux file systems is at most 255 bytes; the stored name has
# a 17-byte prefix (16 hex characters and "-"), so the safe name gets the rest.
NAME_BYTES = 255 - 17
MAX_SUFFIX_BYTES = 16
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


def safe_name(filename: str, *, max_bytes: int = NAME_BYTES) -> str:
    """The file's base name with anything but letters, digits, CJK and ``.-_()``
    replaced, at most ``max_bytes`` bytes in UTF-8 (the extension kept, the
    stem cut between characters); ``附件`` when nothing is left."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._") or "附件"
    if len(cleaned.encode()) <= max_bytes:
        return cleaned
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or not stem or len(suffix.encode()) + 1 > MAX_SUFFIX_BYTES:
        stem, suffix = cleaned, ""
    tail = f".{suffix}" if suffix else ""
    room = max_bytes - len(tail.encode())
    cut = stem.encode()[:room].decode("utf-8", "ignore").rstrip("._") or "附件"
    return cut + tail


@dataclass
class StagedFiles:
    """Uploads written to temporary files in their task's folder, waiting for
    their action. :meth:`place` moves them to their final names;
    :meth:`discard` removes every file of the attempt."""

    files: list[StoredFile] = field(default_factory=list)
    data_dir: Path = Path()
    _temps: list[tuple[Path, Path]] = field(default_factory=list)  # (temporary, final)
    _placed: list[Path] = field(default_factory=list)

    def place(self) -> None:
        """Rename each temporary file to its final path (a new, unique name)."""
        while self._temps:
            temp, final = self._temps[0]
            temp.replace(final)
            self._placed.append(final)
            self._temps.pop(0)

    def discard(self) -> None:
        for temp, _final in self._temps:
            temp.unlink(missing_ok=True)
        for final in self._placed:
            final.unlink(missing_ok=True)
        self._temps.clear()
        self._placed.clear()


@contextmanager
def staged_files(
    uploads: list[Upload], *, task_id: int, data_dir: Path, max_bytes: int
) -> Iterator[StagedFiles]:
    """The non-empty uploads, staged (see :class:`StagedFiles`); every file is
    removed if the block raises.

    Raises DubanError naming the file when one exceeds ``max_bytes``, or when
    more than MAX_FILES are given; nothing of the attempt is kept then either.
    """
    uploads = [u for u in uploads if u.filename]
    if len(uploads) > MAX_FILES:
        raise DubanError(f"一次最多上传 {MAX_FILES} 个附件")
    staged = StagedFiles(data_dir=data_dir)
    try:
        for upload in uploads:
            _stage(upload, staged, folder=data_dir / "attachments" / str(task_id),
                   max_bytes=max_bytes)
        yield staged
    except BaseException:
        staged.discard()
        raise


def _stage(upload: Upload, staged: StagedFiles, *, folder: Path, max_bytes: int) -> None:
    name = safe_name(upload.filename)
    folder.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=folder, delete=False, prefix=".upload-")
    temp = Path(handle.name)
    final = folder / f"{secrets.token_hex(8)}-{name}"
    staged._temps.append((temp, final))  # from now on discard() removes it
    digest = hashlib.sha256()
    size = 0
    with handle:
        while chunk := upload.stream.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise DubanError(f"附件“{name}”超过大小上限 {max_bytes / 1024 / 1024:.0f} MB")
            digest.update(chunk)
            handle.write(chunk)
    if size == 0:
        staged._temps.pop()
        temp.unlink(missing_ok=True)
        return
    staged.files.append(
        StoredFile(
            filename=name,
            content_type=(upload.content_type or "application/octet-stream")[:200],
            size=size,
            sha256=digest.hexdigest(),
            stored_path=str(final.relative_to(staged.data_dir)),
        )
    )


def attachment_rows(
    stored: list[StoredFile], *, task_id: int, event_id: int, uploaded_by: str, now: datetime
) -> list[Attachment]:
    """The rows recording ``stored`` as attachments of the task's event."""
    return [
        Attachment(
            task_id=task_id,
            event_id=event_id,
            filename=f.filename,
            content_type=f.content_type,
            size=f.size,
            sha256=f.sha256,
            stored_path=f.stored_path,
            uploaded_at=now,
            uploaded_by=uploaded_by[:200],
        )
        for f in stored
    ]


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
