"""Apprise's logger, detached from the application's logging.

Apprise logs under the ``apprise`` logger; at DEBUG its lines carry keys, tokens
and whole message bodies. :func:`isolate` (run when any of our Apprise modules is
imported) keeps that logger at WARNING (DEBUG lines are not even built), stops
propagation, and installs :data:`TAP` as a logger *filter* that swallows every
record: no handler sees them — not the application's, not one added to the
``apprise`` logger later, not pytest's (which attaches itself to non-propagating
loggers). The tap keeps the WARNING+ lines of the thread currently inside
:meth:`AppriseLogTap.capture`; the sender reads them to classify a stock plugin's
failure and scrubs anything it reports. To see Apprise's own output while
debugging, remove the filter: ``logging.getLogger("apprise").removeFilter(TAP)``.

The HTTP plugins send through requests/urllib3, whose ``urllib3.connectionpool``
logger prints each request line at DEBUG, query included: WeCom's ``key=``,
``access_token=`` and ``corpsecret=``. :func:`isolate` adds :data:`REDACT` to that
logger, replacing every query value with ``****`` (secrets that stock plugins put
in the URL *path*, e.g. a Telegram bot token, are not recognisable and remain).

``apprise.LogCapture`` is not used: it adds and removes a handler on the shared
logger and changes its level for the whole process, so concurrent sends in
other threads would see each other's lines.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import apprise

__all__ = ["REDACT", "TAP", "AppriseLogTap", "QueryRedactor", "isolate"]


class AppriseLogTap(logging.Filter):
    """Swallows every Apprise record; keeps WARNING+ lines for the capturing thread."""

    max_records = 20

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the line if this thread is capturing; always False: no handler runs."""
        records: list[str] | None = getattr(self._local, "records", None)
        if (
            records is not None
            and record.levelno >= logging.WARNING
            and len(records) < self.max_records
        ):
            try:
                records.append(record.getMessage()[:500])
            except Exception:  # a malformed record must not break a send
                records.append(record.msg if isinstance(record.msg, str) else "")
        return False

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        """Collect this thread's Apprise lines (at most ``max_records``) while inside."""
        previous = getattr(self._local, "records", None)
        records: list[str] = []
        self._local.records = records
        try:
            yield records
        finally:
            self._local.records = previous


TAP = AppriseLogTap()

_QUERY_VALUE = re.compile(r"([?&][^=&\s\"]+)=[^&\s\"]*")


class QueryRedactor(logging.Filter):
    """Rewrites a record's message with every URL query value replaced by ``****``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        redacted = _QUERY_VALUE.sub(r"\1=****", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


REDACT = QueryRedactor()


def isolate() -> None:
    """Apprise logs only into :data:`TAP`; idempotent."""
    apprise_logger = logging.getLogger(apprise.LOGGER_NAME)
    apprise_logger.propagate = False
    apprise_logger.setLevel(logging.WARNING)
    if TAP not in apprise_logger.filters:
        apprise_logger.addFilter(TAP)
    urllib3_logger = logging.getLogger("urllib3.connectionpool")
    if REDACT not in urllib3_logger.filters:
        urllib3_logger.addFilter(REDACT)


isolate()
