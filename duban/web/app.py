"""``create_app(settings)``: the FastAPI application behind ``duban serve``.

Pages are server-rendered (Jinja2 from ``templates/web``, autoescaped); the
JSON API and its OpenAPI description live under ``/api``. Sessions are signed
cookies (Starlette + itsdangerous); links and sessions share the
installation's secret key with distinct salts. Responses carry headers that
keep link tokens out of Referer, forbid framing and allow only our own
scripts and styles.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from duban.config import Settings
from duban.db import SchemaNotReadyError
from duban.domain.errors import DubanError, NotFoundError
from duban.services.context import AppContext
from duban.services.links import LinkSigner, signing_key
from duban.web import api, auth, dashboard, department, desk, desk_plans
from duban.web.auth import LoginRequired, login_redirect
from duban.web.scheduler import Scheduler
from duban.web.state import Clock, WebState, make_templates, render

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
    clock = Clock(start=as_of)
    web = WebState(
        context=context,
        clock=clock,
        signer=LinkSigner.from_settings(settings),
        templates=make_templates(settings.templates_dir),
    )
    runner = Scheduler(context, clock.now) if scheduler else None
    if runner is not None:
        web.wake_delivery = runner.wake

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()

    app = FastAPI(
        title="督办 duban",
        description="工作方案督查督办:任务、措施、督办记录、发送记录(只读 JSON)。",
        version="1",
        # Swagger UI would load its scripts from a CDN: not on a government intranet,
        # and not under our CSP. The description itself is served.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.web = web
    app.state.scheduler = runner
    app.add_middleware(
        SessionMiddleware,
        secret_key=signing_key(settings),
        session_cookie="duban_session",
        max_age=settings.session_hours * 3600,
        same_site="lax",
        https_only=settings.cookie_secure,
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    _install_error_pages(app)
    app.mount(
        "/static", StaticFiles(directory=settings.templates_dir / "web" / "static"), "static"
    )
    for module in (auth, dashboard, desk, desk_plans, department, api):
        app.include_router(module.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


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
        return render(request, "error.html", status_code=exc.status_code, message=exc.detail)

    @app.exception_handler(DubanError)
    async def duban_error(request: Request, exc: DubanError) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 400
        if isinstance(exc, SchemaNotReadyError):
            status = 503
        if _wants_json(request):
            return JSONResponse({"detail": str(exc)}, status)
        return render(request, "error.html", status_code=status, message=str(exc))
