"""Signing in and out, who is asking, and CSRF.

Staff sign in with a username and password through :mod:`duban.web.signin`
(the same lockout as the API's HTTP Basic). A signed-in browser holds the
token of a server-side session (:func:`duban.services.accounts.staff.open_session`)
in Starlette's signed cookie (itsdangerous), beside the CSRF token: signing
out, a new password or a disabled account ends it, and it ends anyway
``DUBAN_SESSION_HOURS`` after signing in. Every POST form carries
``csrf_token``, which must equal the session's (compared in constant time;
:mod:`duban.web.csrf`).

Permissions: :func:`require_staff` (coordinator or supervisor) for reading,
:func:`require_coordinator` for acting. A department link never creates a
staff session, so it can never pass either.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from duban.services.accounts import staff as accounts
from duban.services.accounts.staff import UserView
from duban.web.csrf import check_csrf
from duban.web.signin import LOCKED_MESSAGE, SignInResult
from duban.web.state import flash, render, state_of

router = APIRouter(include_in_schema=False)

SESSION_KEY = "sid"  # the server-side session's token in the signed cookie


class LoginRequired(Exception):
    """Raised for a page that needs a signed-in user; becomes a redirect to /login."""


async def checked_form(request: Request) -> FormData:
    """The request's form after the CSRF check (a dependency for POST routes)."""
    form = await request.form()
    check_csrf(request, form)
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def sign_in(request: Request, username: str, password: str) -> SignInResult:
    """The one sign-in check (form and HTTP Basic): lockout per name and per
    client address, failures counted, see :mod:`duban.web.signin`."""
    web = state_of(request)
    return web.sign_in.attempt(
        username,
        password,
        address=request.client.host if request.client else None,
        session_factory=web.context.session_factory,
    )


def current_user(request: Request) -> UserView | None:
    """The signed-in staff member, or None (no session, or one that was ended
    or has expired)."""
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    web = state_of(request)
    user = accounts.session_user(
        token, now=web.clock.now(), session_factory=web.context.session_factory
    )
    if user is None:
        request.session.pop(SESSION_KEY, None)
    request.state.user = user
    return user


def require_staff(request: Request) -> UserView:
    """A signed-in coordinator or supervisor; otherwise LoginRequired."""
    user = current_user(request)
    if user is None:
        raise LoginRequired()
    return user


def require_coordinator(request: Request) -> UserView:
    """A signed-in coordinator; 403 for a supervisor."""
    user = require_staff(request)
    if user.role != "coordinator":
        raise HTTPException(403, "此操作仅限督办科,督查室账号只能查看")
    return user


Staff = Annotated[UserView, Depends(require_staff)]
Coordinator = Annotated[UserView, Depends(require_coordinator)]


def home_for(user: UserView) -> str:
    return "/desk" if user.role == "coordinator" else "/dashboard"


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never an absolute URL or ``//host``."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@router.get("/")
def home(request: Request) -> Response:
    user = current_user(request)
    return RedirectResponse(home_for(user) if user else "/login", 303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", next=_safe_next(next) or "", username="")


@router.post("/login")
async def login(
    request: Request,
    form: CheckedForm,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    web = state_of(request)
    result = sign_in(request, username, password)
    shown = username[:100]  # never echo a huge name back into the page
    if result.locked:
        flash(request, LOCKED_MESSAGE, "error")
        return render(request, "login.html", status_code=429, next=_safe_next(next) or "",
                      username=shown)
    user = result.user
    if user is None:
        flash(request, "用户名或密码不正确", "error")
        return render(request, "login.html", status_code=401, next=_safe_next(next) or "",
                      username=shown)
    settings = web.context.settings
    token = accounts.open_session(
        user.id,
        now=web.clock.now(),
        lifetime=timedelta(hours=settings.session_hours),
        session_factory=web.context.session_factory,
    )
    request.session.clear()  # a fresh session (and CSRF token) at sign-in
    request.session[SESSION_KEY] = token
    request.state.user = user
    return RedirectResponse(_safe_next(next) or home_for(user), 303)


@router.post("/logout")
async def logout(request: Request, form: CheckedForm) -> Response:
    """End the server-side session: the cookie, even if kept, opens nothing."""
    token = request.session.get(SESSION_KEY)
    if isinstance(token, str):
        web = state_of(request)
        accounts.end_session(token, session_factory=web.context.session_factory)
    request.session.clear()
    return RedirectResponse("/login", 303)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", 303)
