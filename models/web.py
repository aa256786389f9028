"""What the web pages need beyond the plan and its tasks: staff accounts and
their signed-in sessions, the revocation counter of department links,
attachments of 报结 and an audit log of staff actions that are not task
transitions (those go to ``task_events``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, in_values

USER_ROLES = ("coordinator", "supervisor")


class User(Base):
    """A coordinator (督办科) or supervisor (督查室) who signs in with a password.

    ``password_hash`` is an Argon2 hash (argon2-cffi); never the password.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(in_values("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]


class StaffSession(Base):
    """A signed-in browser of a staff member. The cookie carries a random
    token; only its SHA-256 is stored, so the table alone opens nothing.
    Signing out deletes the row; a new password or a disabled account deletes
    every row of the user; ``expires_at`` is fixed at sign-in (an absolute
    lifetime, however busy the session)."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DepartmentLinkEpoch(Base):
    """The current generation of a department's links; a link carries the
    generation it was made in, and revoking moves the generation on, so every
    earlier link stops working. No row means generation 0."""

    __tablename__ = "department_link_epochs"

    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True
    )
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class Attachment(Base):
    """A file a department attached to a 报结 (or progress report), stored on
    disk under the data directory at ``stored_path`` (relative to it)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("task_events.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_path: Mapped[str] = mapped_column(String(500))
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[str] = mapped_column(String(200))


class AuditEntry(Base):
    """A staff action outside a task's lifecycle (a link revoked, a contact
    address replaced, a delivery retried, a notice re-sent, a plan imported…)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
