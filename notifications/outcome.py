"""The result of one delivery attempt, and how our Apprise plugins report it.

Apprise's ``send()`` returns a bare bool. Our own plugins (``dubanwecom``,
``dubanwecomapp``, the email subclass) also leave a :class:`SendOutcome` in
``last_failure`` saying whether retrying can help, so the sender does not have
to guess from log lines. Stock plugins only give the bool; the sender then
classifies from what they logged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendOutcome:
    """How one send went.

    ``ok`` the channel accepted the message (every part of it). When not ok,
    ``permanent`` says retrying the same message to the same contact cannot
    succeed (bad or rejected address, key or credentials, message refused);
    otherwise the failure is transient (connection refused, timeout, 5xx, rate
    limit) and a later retry may succeed. ``error`` is a Chinese, operator-facing
    reason that never contains a password, key, token or the raw contact URL.
    ``parts_sent`` is, for a message sent in parts (WeCom), how many leading
    parts the channel has accepted by now (those skipped included).
    ``unreachable`` says the server itself could not be reached (refused,
    timed out): every other message through it would fail the same way now.
    """

    ok: bool
    permanent: bool = False
    error: str | None = None
    parts_sent: int = 0
    unreachable: bool = False


SENT = SendOutcome(ok=True)


class FailureReporting:
    """Mixin for our Apprise plugins: ``send()`` records why it returned False.

    The sender clears ``last_failure`` before each notify and reads it after;
    it serialises calls per plugin instance, so one attribute is enough.
    """

    last_failure: SendOutcome | None = None

    def _fail(self, error: str, *, permanent: bool, unreachable: bool = False) -> bool:
        """Record a failure and return False, so ``return self._fail(...)`` reads well."""
        self.last_failure = SendOutcome(
            ok=False, permanent=permanent, error=error, unreachable=unreachable
        )
        return False
