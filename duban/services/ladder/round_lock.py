"""One reminder round at a time per database: the round lock.

A process that runs rounds (``duban sweep``, ``duban replay``, the scheduler
inside ``duban serve``, the sweep, replay and digest flows) holds this lock
while it does. Rounds of independent processes would otherwise interleave:
two replays with their own clocks send what the other has not reached yet, or
lose what the other has already moved on from.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a
  connection of its own, named in ``pg_stat_activity.application_name`` so a
  second process can say who holds it. The server drops it when the holder's
  connection goes, also after ``kill -9``.
- SQLite: ``flock`` on a file next to the database (``<db>.rounds.lock``),
  which also names its holder; the kernel drops it when the process dies.
  An in-memory database has no other process: no lock.

Exclusive by default. Replays run on purpose by several workers in step (the
``replay`` deployment, ``settle``) take it *shared*: they run beside each
other, but never beside an exclusive holder. In a process that already holds
it, taking it again does nothing (the CLI takes it before the flow it runs
takes it too).

A holder that cannot get it waits up to ``wait`` seconds, then raises
:class:`RoundBusyError` (``另一个督办进程正在运行(…)``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError

# Any number unlikely to be used by another application on the same database.
LOCK_KEY = 720_511_033

_HELD: dict[str, int] = {}
_HELD_LOCK = threading.Lock()


class RoundBusyError(DubanError):
    """Another process is running reminder rounds on this database."""


def _engine(session_factory: sessionmaker[Session]) -> Engine:
    bind = session_factory.kw.get("bind")
    assert isinstance(bind, Engine), "the session factory is bound to an engine"
    return bind


def _describe(holder: str) -> str:
    """ASCII: PostgreSQL keeps only ASCII in ``application_name``."""
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{holder}, pid {os.getpid()}, since {since}"


@contextlib.contextmanager
def round_lock(
    session_factory: sessionmaker[Session],
    *,
    holder: str,
    shared: bool = False,
    wait: float = 0.0,
    poll: float = 0.5,
) -> Iterator[None]:
    """Hold the round lock of ``session_factory``'s database for the block
    (see the module doc); ``holder`` says who in ASCII, e.g. ``duban replay``.

    Raises RoundBusyError when it is still held elsewhere after ``wait`` seconds."""
    engine = _engine(session_factory)
    key = engine.url.render_as_string(hide_password=True)
    with _HELD_LOCK:
        if _HELD.get(key):
            _HELD[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _HELD_LOCK:
                _HELD[key] -= 1
        return
    if engine.dialect.name == "postgresql":
        lock: _Lock = _AdvisoryLock(engine, holder, shared)
    else:
        path = _sqlite_path(engine)
        lock = _FileLock(path, holder, shared) if path else _NoLock()
    deadline = time.monotonic() + wait
    while not lock.acquire():
        if time.monotonic() >= deadline:
            who = lock.holder() or "持有者未知"
            lock.close()
            raise RoundBusyError(
                f"另一个督办进程正在运行({who}),"
                "同一数据库同时只能运行一个督办轮次(每日督办、回放、duban serve 的定时任务);"
                "请等它结束后再试"
            )
        time.sleep(poll)
    with _HELD_LOCK:
        _HELD[key] = 1
    try:
        yield
    finally:
        with _HELD_LOCK:
            _HELD.pop(key, None)
        lock.release()


def _sqlite_path(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


class _Lock:
    def acquire(self) -> bool:
        raise NotImplementedError

    def holder(self) -> str | None:
        return None

    def release(self) -> None:
        self.close()

    def close(self) -> None:
        pass


class _NoLock(_Lock):
    def acquire(self) -> bool:
        return True


class _AdvisoryLock(_Lock):
    def __init__(self, engine: Engine, holder: str, shared: bool) -> None:
        self.engine = engine
        self.name = f"duban: {_describe(holder)}"
        self.shared = shared
        self.connection: Connection | None = None

    def acquire(self) -> bool:
        if self.connection is None:
            self.connection = self.engine.connect()
            self.connection.execute(
                text("SELECT set_config('application_name', :name, false)"),
                {"name": self.name[:63]},
            )
        function = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
        got = bool(self.connection.scalar(text(f"SELECT {function}(:key)"), {"key": LOCK_KEY}))
        # Session-level: the lock outlives the transaction, which must not stay open.
        self.connection.commit()
        return got

    def holder(self) -> str | None:
        if self.connection is None:
            return None
        names = self.connection.scalars(
            text(
                "SELECT a.application_name FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid = 0 AND l.objid = :key AND l.pid <> pg_backend_pid()"
            ),
            {"key": LOCK_KEY},
        ).all()
        self.connection.commit()
        shown = [str(n).removeprefix("duban: ") for n in names if n]
        return ";".join(shown) or None

    def release(self) -> None:
        if self.connection is not None:
            function = "pg_advisory_unlock_shared" if self.shared else "pg_advisory_unlock"
            with contextlib.suppress(Exception):  # a lost connection has dropped it already
                self.connection.execute(text(f"SELECT {function}(:key)"), {"key": LOCK_KEY})
                self.connection.commit()
        self.close()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None


class _FileLock(_Lock):
    def __init__(self, database: Path, holder: str, shared: bool) -> None:
        self.path = database.with_name(database.name + ".rounds.lock")
        self.text = _describe(holder)
        self.shared = shared
        self.file: IO[Any] | None = None

    def acquire(self) -> bool:
        if self.file is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self.file = os.fdopen(fd, "r+", encoding="utf-8")
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        try:
            fcntl.flock(self.file.fileno(), mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if not self.shared:
            self.file.seek(0)
            self.file.truncate()
            self.file.write(self.text)
            self.file.flush()
        return True

    def holder(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def release(self) -> None:
        if self.file is not None and not self.shared:
            with contextlib.suppress(OSError):
                self.file.seek(0)
                self.file.truncate()
        self.close()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()  # closing the descriptor drops the flock
            self.file = None
