"""What every request handler shares: the app context, the clock, the link
signer and the templates; and the small helpers pages use (rendering, flash
messages, dates).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape
from starlette.templating import Jinja2Templates

from duban.domain.labels import COMPARATOR_SIGNS, DELIVERY_STATUS_LABELS, LEVEL_LABELS
from duban.domain.plan_draft import format_value
from duban.domain.status import LIGHT_LABELS, LIGHT_MEANINGS, Light
from duban.services.accounts.links import LinkSigner
from duban.timeutil import DEFAULT_ZONE, Clock
from duban.web.csrf import csrf_token
from duban.web.signin import SignIn
from duban.wiring import AppContext


@dataclass
class WebState:
    context: AppContext
    signer: LinkSigner
    templates: Jinja2Templates
    wake_delivery: Callable[[], None] = lambda: None
    sign_in: SignIn = field(default_factory=SignIn)

    @property
    def clock(self) -> Clock:
        """The one clock (the context's: the organisation's zone; started at
        ``serve --as-of`` when given, see :func:`duban.web.app.create_app`)."""
        return self.context.clock()

    @property
    def zone(self) -> ZoneInfo:
        return self.clock.zone

    def today(self) -> date:
        return self.clock.today()

    @property
    def data_dir(self) -> Path:
        return self.context.settings.ensure_data_dir()


def state_of(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def make_templates(
    templates_dir: Path, zone: Callable[[], tzinfo] = lambda: DEFAULT_ZONE
) -> Jinja2Templates:
    """Jinja2 over ``templates/web`` with autoescaping on for every template."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir / "web")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = lambda moment: _local(moment, zone())
    env.filters["day"] = lambda d: d.isoformat() if d else "—"
    env.filters["linkify"] = linkify
    env.filters["num"] = lambda v: format_value(v) or ""
    env.filters["sign"] = lambda c: COMPARATOR_SIGNS.get(c or "", c or "")
    env.globals["LEVEL_LABELS"] = LEVEL_LABELS
    env.globals["LIGHTS"] = [(x.value, LIGHT_LABELS[x], LIGHT_MEANINGS[x]) for x in Light]
    env.globals["DELIVERY_STATUS_LABELS"] = DELIVERY_STATUS_LABELS
    env.globals["page_url"] = page_url
    return Jinja2Templates(env=env)


def page_url(request: Request, number: int, param: str = "page", anchor: str = "") -> str:
    """This page's URL with its filters (and other lists' pages) kept and
    ``param`` set to ``number``; ``anchor`` the fragment to land on, if any."""
    query = {k: v for k, v in request.query_params.items() if k != param}
    query[param] = str(number)
    return f"{request.url.path}?{urlencode(query)}{'#' + anchor if anchor else ''}"


def page_number(value: str | None) -> int:
    """A 1-based page number from a query value (1 when missing or malformed)."""
    try:
        return max(int(value or 1), 1)
    except ValueError:
        return 1


_URL = re.compile(r"https?://[^\s<>\"'）)]+")


def linkify(text: str | None) -> Markup:
    """``text`` escaped, with its http(s) addresses as links (messages show
    their 办理入口 this way)."""
    escaped = str(escape(text or ""))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


def _local(moment: datetime | None, zone: tzinfo) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# Services word their errors for the command line too: a record by its number
# (任务 #203) and the command to run. A page names neither (see for_people).
_COMMAND_HINT = re.compile(r"[((][^()()]*duban [^()()]*[))]|,?请先运行 duban [^,。;]*")
_NUMBERED = re.compile(
    r"(任务|延期申请|发送记录|联系方式|措施|文书)\s*#\d+(?:[((]任务\s*#\d+[))])?"
)
_BARE_NUMBER = re.compile(r"\s*#\d+")


def for_people(message: str) -> str:
    """``message`` as a page shows it: no command names, no internal numbers
    (``找不到任务 #203(可用 duban tasks 查看任务列表)`` → ``找不到该任务``)."""
    text = _COMMAND_HINT.sub("", message)
    def named(match: re.Match[str]) -> str:
        after_de = text[max(match.start() - 1, 0) : match.start()] == "的"
        return match.group(1) if after_de else f"该{match.group(1)}"

    text = _NUMBERED.sub(named, text)
    return _BARE_NUMBER.sub("", text)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Show ``message`` (:func:`for_people`) on the next page this browser loads."""
    # Reassign, not append in place: the session notices assignments only.
    request.session["flash"] = [*request.session.get("flash", []), [kind, for_people(message)]]


def render(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``templates/web/<template>`` with the user, CSRF token, flash
    messages and today's date in its context."""
    web = state_of(request)
    messages = request.session.pop("flash", [])
    context.setdefault("user", getattr(request.state, "user", None))
    response = web.templates.TemplateResponse(
        request,
        template,
        {
            "csrf_token": csrf_token(request),
            "messages": messages,
            "today": web.today(),
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def parse_day(value: str | None) -> date | None:
    """A YYYY-MM-DD form value, or None when empty or malformed."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None
