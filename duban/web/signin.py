"""The one way a staff member signs in, for the login form and the API's HTTP
Basic alike: the same lockout, the same counting, about the same time.

:meth:`SignIn.attempt` refuses at once (``locked``) while the name or the
client address has too many recent failures; otherwise it checks the
password (Argon2; an unknown name costs as much as a known one, see
:func:`duban.services.accounts.staff.authenticate`), counts a failure against both
the name and the address, and clears the name's count on success.

:class:`LoginThrottle` keeps the failures in memory, bounded: keys are
SHA-256 digests of the normalised name (NFKC, case-folded, at most
:data:`KEY_CHARS` characters looked at) and of the address, each key keeps at
most its limit of timestamps, keys whose failures have all aged out are
pruned, and beyond ``max_keys`` the least recently failed key is dropped.
A megabyte-long user name therefore costs the same few dozen bytes as any
other.
"""

from __future__ import annotations

import hashlib
import threading
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from duban.services.accounts import staff as accounts
from duban.services.accounts.staff import UserView

# Failures within WINDOW seconds that lock a name, and an address (an office
# behind one gateway shares its address, so that limit is higher).
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW = 15 * 60.0
MAX_KEYS = 10_000
KEY_CHARS = 256
LOCKED_MESSAGE = "登录失败次数过多,请 15 分钟后再试"


def _digest(kind: str, value: str) -> str:
    return kind + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


def name_key(username: str) -> str:
    """The throttle key of a user name: the same for ``DCS``, `` dcs `` and ``ｄｃｓ``."""
    return _digest("u:", unicodedata.normalize("NFKC", username[:KEY_CHARS]).strip().casefold())


def address_key(address: str | None) -> str:
    return _digest("a:", (address or "unknown")[:KEY_CHARS])


@dataclass
class LoginThrottle:
    """Recent sign-in failures per key (see the module docstring); thread-safe."""

    per_name: int = MAX_FAILURES_PER_NAME
    per_address: int = MAX_FAILURES_PER_ADDRESS
    window: float = WINDOW
    max_keys: int = MAX_KEYS
    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _limit(self, key: str) -> int:
        return self.per_name if key.startswith("u:") else self.per_address

    def _recent(self, key: str, now: float) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        return sum(1 for moment in times if now - moment <= self.window)

    def blocked(self, username: str, address: str | None) -> bool:
        """True while the name or the address has reached its limit."""
        now = self.clock()
        with self._lock:
            return any(
                self._recent(key, now) >= self._limit(key)
                for key in (name_key(username), address_key(address))
            )

    def record_failure(self, username: str, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            for key in (name_key(username), address_key(address)):
                times = self._failures.pop(key, None) or deque(maxlen=self._limit(key))
                times.append(now)
                self._failures[key] = times  # now the most recently failed
            self._prune(now)

    def clear_name(self, username: str) -> None:
        with self._lock:
            self._failures.pop(name_key(username), None)

    def _prune(self, now: float) -> None:
        """Drop keys whose failures have aged out (oldest first), then the
        least recently failed beyond ``max_keys``."""
        while self._failures:
            key, times = next(iter(self._failures.items()))
            if times and now - times[-1] <= self.window:
                break
            del self._failures[key]
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)

    def footprint(self) -> int:
        """Characters held in keys plus timestamps kept: bounded by
        ``max_keys`` × (key length + the larger limit)."""
        with self._lock:
            return sum(len(key) + len(times) for key, times in self._failures.items())


@dataclass(frozen=True)
class SignInResult:
    """``user`` when the name and password are right and nothing is locked."""

    user: UserView | None
    locked: bool = False


@dataclass
class SignIn:
    """Checks a name and password against the accounts, under the throttle."""

    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    def attempt(
        self,
        username: str,
        password: str,
        *,
        address: str | None,
        session_factory: sessionmaker[Session],
    ) -> SignInResult:
        if self.throttle.blocked(username, address):
            return SignInResult(None, locked=True)
        user = accounts.authenticate(username, password, session_factory=session_factory)
        if user is None:
            self.throttle.record_failure(username, address)
            return SignInResult(None)
        self.throttle.clear_name(username)
        return SignInResult(user)
