"""Department links: the password-less way a liaison reaches its tasks.

A link carries a token signed with the installation's secret key
(itsdangerous, HMAC-SHA1 over the payload, with a salt of its own so a session
cookie can never pass for a link): ``{"d": department id, "e": generation,
"t": issued at (Unix seconds)}``. It opens that department's tasks only.

- *expiring*: refused ``link_max_age_days`` after ``t``. ``t`` is the time of
  the message that carried it (the caller's ``now``), so a replayed timeline
  and the pages served with the same clock agree;
- *revocable*: revoking raises the department's generation
  (``department_link_epochs``), and a token of an older generation is refused;
- *tamper-proof*: any change to the token breaks the signature, and only the
  token exactly as issued is accepted (itsdangerous would also take one with
  base64 padding appended).

The key is ``DUBAN_SECRET_KEY`` or, when unset, a random key generated once
and kept in ``DATA_DIR/secret_key`` (mode 0600). Every process of one
installation (web, sweep, CLI) must see the same key.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from duban.config import Settings, get_settings
from duban.domain.errors import NotFoundError
from models import AuditEntry, Department, DepartmentLinkEpoch, Task

LINK_SALT = "duban.department-link.v1"
KEY_FILE = "secret_key"
_KEYS: dict[tuple[str, str | None], str] = {}


def signing_key(settings: Settings) -> str:
    """The installation's secret key (see module doc); created on first use."""
    cache_key = (str(settings.data_dir), settings.secret_key)
    if cache_key in _KEYS:
        return _KEYS[cache_key]
    if settings.secret_key:
        key = settings.secret_key
    else:
        key = _key_from_file(settings.ensure_data_dir() / KEY_FILE)
    _KEYS[cache_key] = key
    return key


def _key_from_file(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    try:  # O_EXCL: of two processes starting at once, one writes, both read it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


class LinkProblem(StrEnum):
    INVALID = "invalid"
    EXPIRED = "expired"
    REVOKED = "revoked"


LINK_PROBLEM_MESSAGES = {
    LinkProblem.INVALID: "链接无效(可能不完整或被改动),请使用通知中的完整链接",
    LinkProblem.EXPIRED: "链接已过期,请使用最近一条通知中的链接,或请督办科重新发送",
    LinkProblem.REVOKED: "链接已被督办科停用,请使用新发送的通知中的链接",
}


class LinkError(Exception):
    """A link that opens nothing; ``problem`` says why (see LINK_PROBLEM_MESSAGES)."""

    def __init__(self, problem: LinkProblem) -> None:
        self.problem = problem
        super().__init__(LINK_PROBLEM_MESSAGES[problem])


@dataclass(frozen=True)
class LinkHolder:
    """Who a valid link speaks for."""

    department_id: int
    department: str
    issued_at: datetime
    expires_at: datetime


class LinkSigner:
    """Makes and checks department link tokens with one key and expiry."""

    def __init__(self, key: str, *, max_age: timedelta) -> None:
        self._serializer = URLSafeSerializer(key, salt=LINK_SALT)
        self.max_age = max_age

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkSigner:
        return cls(signing_key(settings), max_age=timedelta(days=settings.link_max_age_days))

    def token(self, department_id: int, epoch: int, now: datetime) -> str:
        return str(
            self._serializer.dumps({"d": department_id, "e": epoch, "t": int(now.timestamp())})
        )

    def read(self, token: str, *, now: datetime, session: Session) -> LinkHolder:
        """The holder of ``token`` as of ``now``; raises LinkError (invalid,
        expired or revoked)."""
        try:
            payload: Any = self._serializer.loads(token)
            department_id, epoch, issued = int(payload["d"]), int(payload["e"]), int(payload["t"])
            canonical = str(self._serializer.dumps(payload))
        except (BadSignature, KeyError, TypeError, ValueError):
            raise LinkError(LinkProblem.INVALID) from None
        if not hmac.compare_digest(canonical.encode(), token.encode("utf-8", "replace")):
            raise LinkError(LinkProblem.INVALID)
        issued_at = datetime.fromtimestamp(issued, tz=now.tzinfo)
        if now - issued_at > self.max_age:
            raise LinkError(LinkProblem.EXPIRED)
        department = session.get(Department, department_id)
        if department is None:
            raise LinkError(LinkProblem.INVALID)
        if epoch != current_epoch(session, department_id):
            raise LinkError(LinkProblem.REVOKED)
        return LinkHolder(department_id, department.name, issued_at, issued_at + self.max_age)


_EPOCHS = "duban.link_epochs"  # session.info: department id -> epoch (see preload_epochs)


def preload_epochs(session: Session, department_ids: Iterable[int]) -> None:
    """Read the link generation of many departments with one query, for this
    session's :func:`current_epoch` calls (the outbox composing a batch of
    messages); a department without a row (never revoked) would otherwise
    cost a query on every call."""
    known: dict[int, int] = session.info.setdefault(_EPOCHS, {})
    wanted = set(department_ids) - known.keys()
    if not wanted:
        return
    rows = session.execute(
        select(DepartmentLinkEpoch.department_id, DepartmentLinkEpoch.epoch).where(
            DepartmentLinkEpoch.department_id.in_(wanted)
        )
    )
    found = {department_id: epoch for department_id, epoch in rows}
    known.update({department_id: found.get(department_id, 0) for department_id in wanted})


def remember_epochs(session: Session, epochs: Mapping[int, int | None]) -> None:
    """Keep for this session's :func:`current_epoch` calls the link generations
    read along with other rows (department id -> epoch; None: the department
    has no row, generation 0), as :func:`preload_epochs` would read them; a
    generation already known to the session is kept."""
    known: dict[int, int] = session.info.setdefault(_EPOCHS, {})
    for department_id, epoch in epochs.items():
        known.setdefault(department_id, epoch or 0)


def current_epoch(session: Session, department_id: int) -> int:
    """The department's link generation (0 until a link is first revoked)."""
    known = session.info.get(_EPOCHS)
    if known is not None and department_id in known:
        return int(known[department_id])
    row = session.get(DepartmentLinkEpoch, department_id)
    return row.epoch if row is not None else 0


def department_token(
    session: Session, department_id: int, *, now: datetime, signer: LinkSigner | None = None
) -> str:
    """A fresh token for the department's current generation."""
    signer = signer or LinkSigner.from_settings(get_settings())
    return signer.token(department_id, current_epoch(session, department_id), now)


def task_link(
    session: Session,
    task: Task,
    *,
    base_url: str | None,
    now: datetime,
    signer: LinkSigner | None = None,
) -> str:
    """The link a notice about ``task`` carries: ``BASE/tasks/ID?k=TOKEN``,
    which the web turns into the department's page of that task; "" without a
    base URL. ``signer`` defaults to one from the current settings."""
    if not base_url:
        return ""
    token = department_token(session, task.department_id, now=now, signer=signer)
    return f"{base_url.rstrip('/')}/tasks/{task.id}?k={token}"


def staff_task_link(task_id: int, *, base_url: str | None) -> str:
    """``BASE/tasks/ID``: the staff page of a task (it asks staff to sign in);
    "" without a base URL. Staff messages carry this, never a department token."""
    if not base_url:
        return ""
    return f"{base_url.rstrip('/')}/tasks/{task_id}"


def reader_task_link(
    session: Session,
    task: Task,
    *,
    reader_department_id: int,
    base_url: str | None,
    now: datetime,
    signer: LinkSigner | None = None,
) -> str:
    """``BASE/tasks/ID?k=TOKEN`` signed for the *reader's* department: for a
    lead department told about a supporting unit's task, it opens a read-only
    view of that task (see :func:`may_watch`), never the supporter's forms.
    "" without a base URL."""
    if not base_url:
        return ""
    token = department_token(session, reader_department_id, now=now, signer=signer)
    return f"{base_url.rstrip('/')}/tasks/{task.id}?k={token}"


def watched_by(department_id: int) -> ColumnElement[bool]:
    """The condition on ``Task`` of a supporting task whose measure (same
    deadline) ``department_id`` leads: such a department may read the task,
    not act on it. The same rule routes a 督办 to the lead department."""
    lead = aliased(Task)
    return and_(
        Task.role == "supporting",
        Task.department_id != department_id,
        exists().where(
            lead.measure_id == Task.measure_id,
            lead.deadline == Task.deadline,
            lead.role == "lead",
            lead.department_id == department_id,
        ),
    )


def may_watch(session: Session, department_id: int, task: Task) -> bool:
    """Whether ``department_id`` may read ``task`` as the lead of its measure
    (see :func:`watched_by`)."""
    found = session.scalar(select(Task.id).where(Task.id == task.id, watched_by(department_id)))
    return found is not None


def department_link(
    department_id: int,
    *,
    base_url: str,
    now: datetime,
    session_factory: sessionmaker[Session],
    signer: LinkSigner,
) -> str:
    """``BASE/d/TOKEN``: the department's list of tasks, for a coordinator to hand over."""
    with session_factory() as session:
        if session.get(Department, department_id) is None:
            raise NotFoundError(f"找不到单位 #{department_id}")
        token = department_token(session, department_id, now=now, signer=signer)
    return f"{base_url.rstrip('/')}/d/{token}"


def revoke_links(
    department_id: int, *, actor: str, now: datetime, session_factory: sessionmaker[Session]
) -> int:
    """Stop every link of the department issued so far; returns the new
    generation. Recorded in the audit log. NotFoundError for an unknown id."""
    with session_factory.begin() as session:
        department = session.get(Department, department_id)
        if department is None:
            raise NotFoundError(f"找不到单位 #{department_id}")
        row = session.get(DepartmentLinkEpoch, department_id)
        if row is None:
            row = DepartmentLinkEpoch(department_id=department_id, epoch=0)
            session.add(row)
        row.epoch = (row.epoch or 0) + 1
        row.revoked_at, row.revoked_by = now, actor
        session.add(
            AuditEntry(at=now, actor=actor, action="revoke_links", subject=department.name,
                       data={"epoch": row.epoch})
        )
        return row.epoch


def department_ids_with_tasks(session: Session) -> list[tuple[int, str]]:
    """(id, name) of departments that have tasks, by name."""
    # EXISTS, one index probe per department: SQLite made ``IN (SELECT
    # department_id FROM tasks)`` a list of every task's department first.
    has_tasks = select(Task.id).where(Task.department_id == Department.id).exists()
    return [
        (row[0], row[1])
        for row in session.execute(
            select(Department.id, Department.name).where(has_tasks).order_by(Department.name)
        )
    ]
