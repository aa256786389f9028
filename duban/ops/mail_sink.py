"""A loopback SMTP server that keeps what it receives: the demo's mailbox.

``duban demo`` routes every contact of the default directory here, so the
whole send path (outbox → Apprise → SMTP) runs for real without a mail server.
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
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailSink:
    """``with MailSink() as sink:`` — an SMTP server on 127.0.0.1:``sink.port``."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self._collector.messages

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
