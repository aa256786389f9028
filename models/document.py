"""Printable documents issued under a document number (文号): the 督办通知单,
黄色督办单 and 红色督办单 about one task or one department's tasks, and the
periodic 督查通报.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, in_values

DOCUMENT_KINDS = ("notice", "yellow", "red", "bulletin")


class IssuedDocument(Base):
    """One issued document and its number.

    Numbers run per ``series`` (the 督办单 share one, the 通报 another) and
    ``year``: ``seq`` counts from 1 and is unique within them, so two people
    issuing at once never share a number. ``number`` is the 文号 as printed
    (from the office's pattern at the time). ``content`` is what was printed,
    so a document downloaded again, as .docx or PDF, is the same document.
    """

    __tablename__ = "issued_documents"
    __table_args__ = (
        UniqueConstraint("series", "year", "seq"),
        CheckConstraint(in_values("kind", DOCUMENT_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    series: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(100))
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_at: Mapped[datetime]
    issued_by: Mapped[str] = mapped_column(String(200))
