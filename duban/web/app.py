"""``create_app(settings)``: the FastAPI application behind ``duban serve``.

Pages are server-rendered (Jinja2 from ``templates/web``, autoescaped); the
JSON API and its OpenAPI description live under ``/api``. The session cookie
is signed (Starlette + itsdangerous) and names a server-side session (see
:mod:`duban.web.auth`); links and sessions share the installation's secret
key with distinct salts. Bodies are limited before they are read and
impossible ids refused (:mod:`duban.web.limits`). Responses carry headers
that keep link tokens out of Referer, forbid framing, allow only our own
scripts and styles, and keep everything but the stylesheet out of caches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Scope

from duban.config import Settings
from duban.db import SchemaNotReadyError
from duban.domain.errors import DubanError, NotFoundError
from duban.services.accounts.links import LinkSigner, signing_key
from duban.services.accounts.staff import dummy_hash
from duban.timeutil import running_from
from duban.web import (
    api,
    auth,
    dashboard,
    department,
    desk,
    desk_deliveries,
    desk_items,
    desk_plans,
    issued_documents,
)
from duban.web.auth import LoginRequired, login_redirect
from duban.web.limits import BodyLimit, NumberGuard, upload_routes
from duban.web.scheduler import Scheduler
from duban.web.state import WebState, for_people, make_templates, render
from duban.wiring import AppContext

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Department links carry their token in the URL: never send it onwards.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}
ROUTERS = (
    auth, dashboard, desk, desk_deliveries, desk_plans, desk_items, issued_documents, department,
    api,
)
# Pages, feeds, downloads and redirects carrying link tokens are private:
# no browser or proxy cache keeps them. Only the stylesheet may be cached.
NO_STORE = "no-store"


def create_app(
    settings: Settings,
    *,
    as_of: datetime | None = None,
    scheduler: bool = False,
    context: AppContext | None = None,
) -> FastAPI:
    """The web application on ``settings``' database.

    ``as_of`` starts the app's clock at that moment (it then runs in real
    time); ``scheduler`` runs the daily reminder round in a background thread
    for the app's lifetime (see :mod:`duban.web.scheduler`).
    """
    context = context or AppContext(settings)
    dummy_hash()  # before the first login, whose time it must not add to
    if as_of is not None:
        context.read_clock = running_from(as_of)
    web = WebState(
        context=context,
        signer=LinkSigner.from_settings(settings),
        templates=make_templates(settings.templates_dir, lambda: context.clock().zone),
    )
    runner = Scheduler(context, context.now) if scheduler else None
    if runner is not None:
        web.wake_delivery = runner.wake
    app = FastAPI(
        title="督办 duban",
        description="工作方案督查督办:任务、措施、督办记录、发送记录(只读 JSON)。",
        version="1",
        # Swagger UI would load its scripts from a CDN: not on a government intranet,
        # and not under our CSP. The description itself is served.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan(runner),
    )
    app.state.web = web
    app.state.scheduler = runner
    _install_middleware(app, settings)
    _install_error_pages(app)
    app.mount(
        "/static", StaticFiles(directory=settings.templates_dir / "web" / "static"), "static"
    )
    for module in ROUTERS:
        app.include_router(module.router)  # as they are: no prefix added

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _lifespan(runner: Scheduler | None) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the scheduler (if any) runs while the app does."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()

    return lifespan


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    """Sessions, then (outside them) the request limits, then (outermost) the
    security and cache headers on every response."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=signing_key(settings),
        session_cookie="duban_session",
        max_age=settings.session_hours * 3600,
        same_site="lax",
        https_only=settings.cookie_secure,
    )

    uploads = upload_routes(route for module in ROUTERS for route in module.router.routes)

    def body_limit(scope: Scope) -> int:
        if any(pattern.match(scope["path"]) for pattern in uploads):
            return settings.upload_request_max_bytes
        return settings.request_max_bytes

    # Outside the session and every route (no middleware reads bodies): no
    # body is read and no id looked up before these checks.
    app.add_middleware(NumberGuard)
    app.add_middleware(BodyLimit, limit_for=body_limit)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = NO_STORE
        return response


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "请先登录"}, 401)
        return login_redirect(request)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        message = for_people(str(exc.detail))
        return render(request, "error.html", status_code=exc.status_code, message=message)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, _exc: Exception) -> Response:
        # A number no column can hold (SQLite raises OverflowError binding it,
        # PostgreSQL a DataError): the request is wrong, not the server.
        message = "请求中的数值超出范围"
        if _wants_json(request):
            return JSONResponse({"detail": message}, 400)
        return render(request, "error.html", status_code=400, message=message)

    @app.exception_handler(DubanError)
    async def duban_error(request: Request, exc: DubanError) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 400
        if isinstance(exc, SchemaNotReadyError):
            status = 503
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status)
        return render(request, "error.html", status_code=status, message=for_people(str(exc)))
