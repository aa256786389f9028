"""Staff accounts: coordinators (督办科) and supervisors (督查室).

Passwords are hashed with Argon2id (argon2-cffi, its maintained defaults) and
never stored or logged in clear.

Sessions live in the database (:class:`~models.StaffSession`): the browser
holds a random token, the table its SHA-256. :func:`open_session` starts one
with an absolute expiry, :func:`session_user` reads it, :func:`end_session`
ends it (signing out); a new password or a disabled account ends every
session of the user.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.labels import STAFF_ROLE_LABELS
from models import USER_ROLES, AuditEntry, StaffSession, User

MIN_PASSWORD = 8
MAX_USERNAME = 100
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,100}$")
_HASHER = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """A hash to verify for an unknown name, which keeps a failed login for it
    as slow as one for a known name, so timing does not tell which names
    exist. Made once per process when first asked (~0.18 s; not by every
    start of the CLI): the web app asks as it is made, before any login."""
    return _HASHER.hash("duban-timing-equaliser")


@dataclass(frozen=True)
class UserView:
    """A signed-in (or listed) staff member; no hash."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool

    @property
    def role_label(self) -> str:
        return STAFF_ROLE_LABELS.get(self.role, self.role)

    @property
    def actor(self) -> str:
        """How the event log names this person: ``督办科(张三)``."""
        return f"{self.role_label}({self.display_name})"


def _view(row: User) -> UserView:
    return UserView(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        active=row.active,
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
        if row.id is not None:  # a new password ends every session of the old one
            session.execute(delete(StaffSession).where(StaffSession.user_id == row.id))
        session.add(
            AuditEntry(at=now, actor="命令行", action=action, subject=f"用户 {username}",
                       data={"role": role})
        )
        session.flush()
        return _view(row)


def authenticate(
    username: str, password: str, *, session_factory: sessionmaker[Session]
) -> UserView | None:
    """The active user with this name and password, else None (no hint which was wrong).

    Takes about as long for an unknown or impossible name as for a known one
    (a dummy hash is verified), so timing does not tell which names exist.
    """
    name = username.strip()
    if len(name) > MAX_USERNAME:  # no such account can exist; don't query with it
        name = ""
    with session_factory() as session:
        row = (
            session.scalars(select(User).where(User.username == name)).one_or_none()
            if name
            else None
        )
        stored = row.password_hash if row is not None and row.active else dummy_hash()
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
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
        session.execute(delete(StaffSession).where(StaffSession.user_id == row.id))
        session.add(AuditEntry(at=now, actor="命令行", action="user_disable",
                               subject=f"用户 {username}", data=None))


# --- sessions ------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def open_session(
    user_id: int, *, now: datetime, lifetime: timedelta, session_factory: sessionmaker[Session]
) -> str:
    """Start a session of ``user_id`` ending ``lifetime`` after ``now`` (however
    it is used); returns the token for the browser. Expired sessions of anyone
    are deleted on the way, so the table holds live sessions only."""
    token = secrets.token_urlsafe(32)
    with session_factory.begin() as session:
        session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
        session.add(
            StaffSession(
                token_hash=_token_hash(token), user_id=user_id, created_at=now,
                expires_at=now + lifetime,
            )
        )
    return token


def session_user(
    token: str, *, now: datetime, session_factory: sessionmaker[Session]
) -> UserView | None:
    """The active user whose unexpired session ``token`` is, else None."""
    with session_factory() as session:
        row = session.execute(
            select(User)
            .join(StaffSession, StaffSession.user_id == User.id)
            .where(StaffSession.token_hash == _token_hash(token), StaffSession.expires_at > now)
        ).scalar_one_or_none()
        if row is None or not row.active:
            return None
        return _view(row)


def end_session(token: str, *, session_factory: sessionmaker[Session]) -> None:
    """End the session ``token`` (signing out); nothing happens for an unknown one."""
    with session_factory.begin() as session:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))
