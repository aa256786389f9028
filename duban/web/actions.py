"""How a coordinator's form action runs on the desk's pages: the form's text,
the page to go back to, and the outcome flashed on it.

The error's own message is shown without its record reference (the page names
the record in words; internal ids stay off the pages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from duban.domain.errors import DubanError, NotFoundError
from duban.web.state import WebState, flash, state_of


@dataclass(frozen=True)
class Outcome:
    """What an action says it did, in place of the fixed message (``kind``: ok or error)."""

    text: str
    kind: str = "ok"


def form_text(form: FormData, name: str) -> str:
    """The form's field ``name`` stripped; "" when absent or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def back_to(form: FormData, default: str) -> str:
    """The form's ``back`` page when it is a path of this site, else ``default``."""
    target = form_text(form, "back")
    return target if target.startswith("/") and not target.startswith("//") else default


def run_action(
    request: Request, back: str, action: Callable[[WebState], Outcome | None], done: str
) -> Response:
    """Run ``action``; flash its :class:`Outcome`, else ``done``, or the error
    it raised; go back to ``back``."""
    try:
        outcome = action(state_of(request))
    except NotFoundError:
        flash(request, "未能办理:找不到该记录,可能已被删除,请刷新页面", "error")
    except DubanError as err:
        flash(request, f"未能办理:{err.message}", "error")
    else:
        if outcome is None:
            flash(request, done)
        else:
            flash(request, outcome.text, outcome.kind)
    return RedirectResponse(back, 303)
