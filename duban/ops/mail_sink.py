"""A loopback SMTP server that keeps what it receives: the demo's mailbox.

``duban demo`` routes every contact of the default directory here, so the
whole send path (outbox → Apprise → SMTP) runs for real without a mail server.
A benchmark that only needs the mail to arrive counts it instead
(``MailSink(keep=False)``): kept and parsed, a large plan's digests would be
the biggest thing in the benchmark's own memory.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class _Collector:
    keep: bool = True
    messages: list[EmailMessage] = field(default_factory=list)
    received: int = 0
    received_bytes: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        self.received_bytes += len(envelope.content)
        if self.keep:
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
        return "250 OK"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailSink:
    """``with MailSink() as sink:`` — an SMTP server on 127.0.0.1:``sink.port``.

    Every message accepted is counted (``received``, ``received_bytes``);
    with ``keep`` (the default) it is also parsed and kept in ``messages``."""

    def __init__(self, port: int | None = None, *, keep: bool = True) -> None:
        self.port = port or free_port()
        self._collector = _Collector(keep=keep)
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self._collector.messages

    @property
    def received(self) -> int:
        return self._collector.received

    @property
    def received_bytes(self) -> int:
        return self._collector.received_bytes

    def url(self, to: str, sender: str = "duban@demo.local") -> str:
        """An Apprise mailto:// URL that delivers to this sink."""
        return f"mailto://127.0.0.1:{self.port}?from={sender}&to={to}"

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()


def text_of(message: EmailMessage) -> str:
    """The plain-text body (or the HTML one when there is no text part)."""
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""
