"""Real local servers for delivery tests: an SMTP sink (aiosmtpd) and a fake WeCom API.

- ``smtp_server``: aiosmtpd on 127.0.0.1 at a free port; ``.messages`` collects
  what arrived (parsed), ``.rcpt_reply`` makes it refuse recipients, ``.peers``
  counts the connections that delivered mail, ``.restart()`` drops every session.
- ``wecom_server``: ThreadingHTTPServer speaking the WeCom webhook and application
  contracts. ``.replies`` is a queue of (status, json body) answers, used before
  the default ``{"errcode":0,"errmsg":"ok"}``; ``.requests`` records each call.
- ``free_port``: a port nobody listens on (for "server down").
- ``context``/``message``: a sample render context and its rendered message.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from notifications.render import DEFAULT_TEMPLATES_DIR, RenderedMessage, render

FROM = "duban@example.gov.cn"
TO = "liaison@example.gov.cn"


def find_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    return find_free_port()


# --- SMTP -----------------------------------------------------------------------------


class CollectingHandler:
    """aiosmtpd handler: keeps every message, optionally refuses recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.peers: set[Any] = set()
        self.rcpt_reply: str | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.peers.add(session.peer)
        return "250 OK"


@dataclass
class SMTPServer:
    port: int
    handler: CollectingHandler
    controller_options: dict[str, Any] = field(default_factory=dict)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.controller_options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def restart(self) -> None:
        """Stop and start again on the same port: every open session is gone."""
        self.stop()
        self.start()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def url(self, **params: str) -> str:
        query = {"from": FROM, "to": TO, **params}
        return f"mailto://127.0.0.1:{self.port}?" + "&".join(f"{k}={v}" for k, v in query.items())


def _smtp_server(**options: Any) -> Iterator[SMTPServer]:
    server = SMTPServer(find_free_port(), CollectingHandler(), options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    yield from _smtp_server()


@pytest.fixture
def smtp_auth_server() -> Iterator[SMTPServer]:
    """Requires AUTH (without TLS, as on a trusted LAN); only ``user``/``right-pw`` passes."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        ok = (
            isinstance(data, LoginPassword)
            and data.login == b"user"
            and data.password == b"right-pw"
        )
        return AuthResult(success=ok, handled=False)

    yield from _smtp_server(auth_required=True, auth_require_tls=False, authenticator=authenticator)


# --- WeCom ------------------------------------------------------------------------------


@dataclass
class WeComCall:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class WeComServer:
    """Answers like qyapi.weixin.qq.com; replies queued in ``replies`` are used first."""

    http: ThreadingHTTPServer
    requests: list[WeComCall] = field(default_factory=list)
    replies: list[tuple[int, Any]] = field(default_factory=list)
    token: str = "TOKEN-abc123"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def sends(self) -> list[WeComCall]:
        return [call for call in self.requests if call.path.endswith("/send")]

    def answer(self, call: WeComCall) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(call)
            if self.replies:
                return self.replies.pop(0)
        if call.path == "/cgi-bin/gettoken":
            return 200, {
                "errcode": 0,
                "errmsg": "ok",
                "access_token": self.token,
                "expires_in": 7200,
            }
        return 200, {"errcode": 0, "errmsg": "ok"}


@pytest.fixture
def wecom_server() -> Iterator[WeComServer]:
    state: dict[str, WeComServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            call = WeComCall(
                method=method,
                path=parts.path,
                query={k: v[0] for k, v in parse_qs(parts.query).items()},
                body=json.loads(raw.decode("utf-8")) if raw else None,
            )
            status, reply = state["server"].answer(call)
            data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server = WeComServer(http)
    state["server"] = server
    thread = threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        http.server_close()


# --- Messages ---------------------------------------------------------------------------


def sample_item(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "step": "assigned",
        "step_label": "交办通知",
        "level": 0,
        "task_id": 101,
        "measure_number": 5,
        "measure_title": "办好人民满意的教育",
        "role_label": "牵头",
        "due": "2015-12-31",
        "original_due": None,
        "days_left": 60,
        "days_overdue": None,
        "next_step_label": "签收提醒",
        "next_step_date": "2014-09-04",
        "link": "https://duban.example.gov.cn/tasks/101",
        "other_departments": ["珠海市财政局"],
    }
    item.update(overrides)
    return item


def sample_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "recipient_name": "张三",
        "department": "珠海市教育局",
        "sender": "市委社管部",
        "base_url": "https://duban.example.gov.cn/",
        "items": [sample_item()],
    }
    context.update(overrides)
    return context


@pytest.fixture
def context() -> dict[str, Any]:
    return sample_context()


@pytest.fixture
def message(context: dict[str, Any]) -> RenderedMessage:
    return render("assigned", context, templates_dir=DEFAULT_TEMPLATES_DIR)
