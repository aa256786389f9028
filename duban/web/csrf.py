"""The CSRF token: one per browser session, carried by every POST form.

Below :mod:`duban.web.state` (which puts the token into every page) and
:mod:`duban.web.auth` (whose ``CheckedForm`` dependency checks it), so
neither has to import the other.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request
from starlette.datastructures import FormData

CSRF_FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf(request: Request, form: FormData) -> None:
    """Raise 403 unless the form's token matches the session's."""
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "表单已失效(缺少或不匹配的安全校验码),请刷新页面后重试")
