"""Limits applied before a request reaches a page: body size and numbers in
the path.

:class:`BodyLimit` (pure ASGI middleware) refuses a request whose body is
larger than its route allows, before the body is read: a declared
``Content-Length`` over the limit is answered 413 without reading a byte; a
body streamed without one is counted as it arrives and cut off with 413 as
soon as it passes the limit, so no more than the limit is ever buffered or
spooled. Routes that take files are marked with :func:`accepts_uploads` and
get ``DUBAN_UPLOAD_REQUEST_MAX_BYTES`` (25 MB); every other request gets
``DUBAN_REQUEST_MAX_BYTES`` (1 MB).

:class:`NumberGuard` answers 404 for a path with a number no database id can
be (2⁶³ or more), and 400 for such a number in the query string, instead of
letting it reach a query that would fail with a 500.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_ID = 2**63 - 1  # the largest BIGINT / SQLite INTEGER
_DIGITS = re.compile(r"^\d+$")
_UPLOADS = "_duban_accepts_uploads"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def accepts_uploads(endpoint: Endpoint) -> Endpoint:
    """Mark a route as taking files: it gets the upload body limit. Put it
    under the ``@router.post(...)`` line."""
    setattr(endpoint, _UPLOADS, True)
    return endpoint


def upload_routes(routes: Iterable[BaseRoute]) -> list[re.Pattern[str]]:
    """The path patterns of the routes marked with :func:`accepts_uploads`."""
    return [
        route.path_regex
        for route in routes
        if isinstance(route, Route) and getattr(route.endpoint, _UPLOADS, False)
    ]


def too_large_message(limit: int) -> str:
    return f"请求内容过大(上限 {_size(limit)}),未予处理。附件请压缩或分次提交。"


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / 1024 / 1024:.3g} MB"
    return f"{limit / 1024:.3g} KB" if limit >= 1024 else f"{limit} 字节"


class RequestTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes its limit. An
    HTTPException, so FastAPI's body parsing passes it on unchanged and the
    app's error page answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


async def send_error(send: Send, scope: Scope, status: int, message: str) -> None:
    """A small Chinese error response (JSON under /api), closing the connection."""
    if scope["path"].startswith("/api"):
        body = json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8")
        kind = b"application/json"
    else:
        body = (
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>督办</title>'
            '<link rel="stylesheet" href="/static/style.css">'
            f"<main><h1>无法处理此请求</h1><p>{html.escape(message)}</p>"
            '<p><a href="/">返回首页</a></p></main>'
        ).encode()
        kind = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BodyLimit:
    """See the module docstring. ``limit_for(scope)`` gives a request's limit."""

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await send_error(send, scope, 413, too_large_message(limit))
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLarge(limit)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except RequestTooLarge as err:
            if started:
                raise
            await send_error(send, scope, 413, str(err.detail))


class NumberGuard:
    """See the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if any(_huge(part) for part in scope["path"].split("/")):
                await send_error(send, scope, 404, "找不到该页面(编号超出范围)")
                return
            query = scope.get("query_string", b"").decode("latin-1")
            for name, value in parse_qsl(query, keep_blank_values=True):
                if _huge(value.strip()):
                    await send_error(send, scope, 400, f"参数 {name[:40]} 的数值超出范围")
                    return
        await self.app(scope, receive, send)


def _huge(text: str) -> bool:
    """Digits only, and more than any id can be (no int() of a huge string)."""
    if not _DIGITS.match(text):
        return False
    digits = text.lstrip("0")
    return len(digits) > 19 or (len(digits) == 19 and int(digits) > MAX_ID)
