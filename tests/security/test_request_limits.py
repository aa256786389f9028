"""Promise: an oversized request or an impossible number costs the server
nothing and gets a plain answer.

Bodies are limited before they are read: ``DUBAN_UPLOAD_REQUEST_MAX_BYTES``
(25 MB) on the routes that take files, ``DUBAN_REQUEST_MAX_BYTES`` (1 MB)
everywhere else. A declared ``Content-Length`` over the limit is answered 413
without reading a byte; a body streamed without one is cut off with 413 as
soon as it passes the limit, so at most the limit is ever buffered. An id no
database can hold (2⁶³ or more) is a 404 or 400, never a server error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from duban.config import Settings
from duban.web.limits import BodyLimit, NumberGuard
from tests.db.conftest import World
from tests.web.conftest import csrf

MB = 1024 * 1024
HUGE_ID = str(2**63)


class Downstream:
    """An ASGI app that reads the whole body, as a form parser would."""

    def __init__(self) -> None:
        self.called = False
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        while True:
            message = await receive()
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _serve(
    app: Callable[[Scope, Receive, Send], object],
    chunks: Iterator[bytes],
    *,
    path: str = "/login",
    length: int | None = None,
) -> tuple[int, bytes, int]:
    """Run one request through ``app``; returns (status, body, chunks the client sent)."""
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers,
             "query_string": b""}
    sent: list[Message] = []
    pulled = 0

    async def receive() -> Message:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, pulled


def _megabytes(count: int) -> Iterator[bytes]:
    """A body streamed 64 KB at a time, never held whole."""
    chunk = b"x" * (64 * 1024)
    for _ in range(count * 16):
        yield chunk


def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_read() -> None:
    downstream = Downstream()
    limited = BodyLimit(downstream, limit_for=lambda scope: MB)
    status, body, pulled = _serve(limited, _megabytes(200), length=200 * MB)
    assert status == 413 and "请求内容过大(上限 1 MB)" in body.decode()
    assert pulled == 0 and not downstream.called


def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    downstream = Downstream()
    limited = BodyLimit(downstream, limit_for=lambda scope: MB)
    status, body, pulled = _serve(limited, _megabytes(200))
    assert status == 413 and "上限 1 MB" in body.decode()
    assert downstream.read <= MB and pulled == 17  # 1 MB and one chunk, of 3,200


def test_a_body_within_the_limit_reaches_the_page() -> None:
    downstream = Downstream()
    limited = BodyLimit(downstream, limit_for=lambda scope: 2 * MB)
    status, body, _ = _serve(limited, _megabytes(1), length=MB)
    assert (status, body, downstream.read) == (200, b"ok", MB)


def test_the_api_hears_about_the_limit_in_json() -> None:
    limited = BodyLimit(Downstream(), limit_for=lambda scope: 10)
    status, body, _ = _serve(limited, iter([b"x" * 11]), path="/api/tasks", length=11)
    assert status == 413 and body.decode().startswith('{"detail": "请求内容过大')


def test_an_id_no_database_can_hold_is_not_found_before_any_page_runs() -> None:
    downstream = Downstream()
    status, body, _ = _serve(NumberGuard(downstream), iter([]), path=f"/tasks/{HUGE_ID}")
    assert status == 404 and "编号超出范围" in body.decode() and not downstream.called
    status, _, _ = _serve(NumberGuard(downstream), iter([]), path=f"/tasks/{'9' * 5000}")
    assert status == 404


def test_the_login_form_takes_a_megabyte_and_no_more(client: TestClient, world: World) -> None:
    token = csrf(client)
    response = client.post("/login", data={"username": "x" * (MB + 1), "password": "p",
                                           "csrf_token": token})
    assert response.status_code == 413 and "请求内容过大" in response.text
    assert response.headers["cache-control"] == "no-store"


def test_an_upload_route_takes_more_but_not_without_end(
    client: TestClient, world: World, link: Callable[..., str], web_settings: Settings
) -> None:
    web_settings.request_max_bytes, web_settings.upload_request_max_bytes = 1000, 3000
    base = f"/d/{link(world.lead)}/tasks/{world.lead}"
    form = csrf(client, base)
    client.post(f"{base}/ack", data={"csrf_token": form})
    fits = client.post(f"{base}/submit", data={"note": "完成", "csrf_token": form},
                       files=[("files", ("a.txt", b"x" * 2000, "text/plain"))])
    assert fits.status_code == 303
    assert client.post(f"{base}/report", data={"note": "x" * 2000, "csrf_token": form}
                       ).status_code == 413
    too_big = client.post(f"{base}/submit", data={"note": "完成", "csrf_token": form},
                          files=[("files", ("b.txt", b"x" * 4000, "text/plain"))])
    assert too_big.status_code == 413 and "上限 2.93 KB" in too_big.text


def test_a_streamed_upload_without_length_is_cut_off_too(
    client: TestClient, world: World, link: Callable[..., str], web_settings: Settings
) -> None:
    web_settings.upload_request_max_bytes = 64 * 1024
    base = f"/d/{link(world.lead)}/tasks/{world.lead}"
    form = csrf(client, base)
    boundary = "duban-test-boundary"

    def body() -> Iterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
               f"{form}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
               f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        yield from _megabytes(2)  # the test client joins a streamed body: keep it small

    response = client.post(f"{base}/submit", content=body(),
                           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413 and "请求内容过大" in response.text


def test_ids_beyond_any_database_are_not_found_or_bad_requests(
    client: TestClient, world: World, login: Callable[[TestClient, str], str]
) -> None:
    login(client, "coordinator")
    for path in (f"/tasks/{HUGE_ID}", f"/desk/extensions/{HUGE_ID}/approve",
                 f"/dashboard?measure={HUGE_ID}", f"/api/tasks/{HUGE_ID}",
                 f"/api/tasks?measure={HUGE_ID}"):
        response = client.get(path)
        assert response.status_code in (400, 404), path
        assert "超出范围" in response.text, path


def test_a_number_too_large_in_a_form_is_a_bad_request(
    client: TestClient, world: World, login: Callable[[TestClient, str], str]
) -> None:
    form = login(client, "coordinator")
    response = client.post("/desk/assign", data={"measure": HUGE_ID, "csrf_token": form})
    assert response.status_code in (303, 400)
    if response.status_code == 303:
        assert "未能" in client.get(response.headers["location"]).text
