"""Staff accounts: coordinators (督办科) and supervisors (督查室).

Passwords are hashed with Argon2id (argon2-cffi, its maintained defaults) and
never stored or logged in clear. A session remembers :func:`session_stamp` of
the user's hash, so changing a password ends every other session.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from models import USER_ROLES, AuditEntry, User

ROLE_LABELS = {"coordinator": "督办科", "supervisor": "督查室"}
MIN_PASSWORD = 8
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,100}$")
_HASHER = PasswordHasher()
# Verifying against this keeps a failed login for an unknown name as slow as
# one for a known name, so timing does not tell which names exist.
_DUMMY_HASH = _HASHER.hash("duban-timing-equaliser")


@dataclass(frozen=True)
class UserView:
    """A signed-in (or listed) staff member; no hash."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool
    stamp: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def actor(self) -> str:
        """How the event log names this person: ``督办科(张三)``."""
        return f"{self.role_label}({self.display_name})"


def session_stamp(password_hash: str) -> str:
    """A short fingerprint of the hash: sessions carry it, a new password changes it."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _view(row: User) -> UserView:
    return UserView(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        active=row.active,
        stamp=session_stamp(row.password_hash),
    )


def check_password_rules(password: str) -> None:
    """Raise DubanError unless ``password`` has at least MIN_PASSWORD characters."""
    if len(password) < MIN_PASSWORD:
        raise DubanError(f"密码至少 {MIN_PASSWORD} 个字符")


def add_user(
    username: str,
    *,
    role: str,
    password: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    display_name: str | None = None,
) -> UserView:
    """Create an account, or set the password and role of an existing one.

    Raises DubanError for a bad name, role or too short a password.
    """
    username = username.strip()
    if not _USERNAME.match(username):
        raise DubanError(f"用户名“{username}”无效:2–100 个字母、数字、汉字或 _ . -")
    if role not in USER_ROLES:
        raise DubanError(f"角色“{role}”无效,应为 coordinator(督办科)或 supervisor(督查室)")
    check_password_rules(password)
    hashed = _HASHER.hash(password)
    with session_factory.begin() as session:
        row = session.scalars(select(User).where(User.username == username)).one_or_none()
        action = "user_update" if row is not None else "user_add"
        if row is None:
            row = User(username=username, created_at=now, active=True)
            session.add(row)
        row.display_name = (display_name or "").strip() or row.display_name or username
        row.role = role
        row.password_hash = hashed
        row.password_changed_at = now
        row.active = True
        session.add(
            AuditEntry(at=now, actor="命令行", action=action, subject=f"用户 {username}",
                       data={"role": role})
        )
        session.flush()
        return _view(row)


def authenticate(
    username: str, password: str, *, session_factory: sessionmaker[Session]
) -> UserView | None:
    """The active user with this name and password, else None (no hint which was wrong)."""
    with session_factory() as session:
        row = session.scalars(select(User).where(User.username == username.strip())).one_or_none()
        stored = row.password_hash if row is not None and row.active else _DUMMY_HASH
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        return _view(row)


def user_for_session(
    user_id: int, stamp: str, *, session_factory: sessionmaker[Session]
) -> UserView | None:
    """The user a session names, if still active and the password is unchanged."""
    with session_factory() as session:
        row = session.get(User, user_id)
        if row is None or not row.active or session_stamp(row.password_hash) != stamp:
            return None
        return _view(row)


def list_users(*, session_factory: sessionmaker[Session]) -> list[UserView]:
    with session_factory() as session:
        return [_view(r) for r in session.scalars(select(User).order_by(User.id))]


def deactivate_user(
    username: str, *, now: datetime, session_factory: sessionmaker[Session]
) -> None:
    """Disable an account (kept for the record); NotFoundError when unknown."""
    with session_factory.begin() as session:
        row = session.scalars(select(User).where(User.username == username)).one_or_none()
        if row is None:
            raise NotFoundError(f"没有用户“{username}”")
        row.active = False
        session.add(AuditEntry(at=now, actor="命令行", action="user_disable",
                               subject=f"用户 {username}", data=None))
