"""Contact URLs: check that one can be used, and the form of it that may be shown.

Contacts are Apprise URLs and hold passwords and keys. :func:`validate_url`
checks a URL (our own schemes registered first) and returns its privacy form;
:func:`privacy` never raises. Services use this module to check addresses; only
:mod:`notifications.send` sends. :class:`ContactError` messages name at most the
scheme, never the URL or its secret.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, unquote, urlsplit

import apprise
from apprise import Apprise, AppriseAsset, NotificationManager

from duban.domain.errors import DubanError
from duban.domain.org import DEFAULT_TIMEZONE
from notifications import apprise_logging, mail, wecom
from notifications.apprise_logging import TAP as _TAP

__all__ = ["ContactError", "instantiate", "privacy", "scrub", "secrets_of", "validate_url"]


class ContactError(DubanError):
    """A contact URL that cannot be used. The message names the scheme, never the secret."""


apprise_logging.isolate()
# Our plugins register on import; say so here, where the schemes are relied on.
mail.register()
wecom.register()


_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_WECOM_WEBHOOK = re.compile(r"^https?://[^/]+/cgi-bin/webhook/send\?(?:.*&)?key=", re.I)
_ASSET = AppriseAsset(app_id="duban", app_desc="duban", timezone=DEFAULT_TIMEZONE)


def _scheme(url: str) -> str | None:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else None


def instantiate(url: str, asset: AppriseAsset) -> apprise.NotifyBase:
    """An Apprise plugin for ``url``, or ContactError (Chinese, secret-free)."""
    if not isinstance(url, str) or not url.strip():
        raise ContactError("联系方式为空")
    if _WECOM_WEBHOOK.match(url.strip()):
        raise ContactError("这是企业微信机器人的 webhook 地址，请改写为 dubanwecom://<key> 的形式")
    scheme = _scheme(url)
    if scheme is None:
        raise ContactError(
            "联系方式格式不正确：应为“协议://…”形式的地址（如 mailto://、dubanwecom://）"
        )
    if scheme not in NotificationManager():  # its schema map, not a new list of every scheme
        raise ContactError(f"不支持的联系方式协议：{scheme}://")
    with _TAP.capture():  # Apprise's reasons may quote the secret; drop them
        plugin = Apprise.instantiate(url.strip(), asset=asset)
    if plugin is None:
        raise ContactError(f"联系方式无效：{scheme}:// 地址缺少必要部分或参数不正确")
    return plugin


def validate_url(url: str) -> str:
    """Check that Apprise can use ``url``; return its privacy form (``plugin.url(privacy=True)``).

    Raises :class:`ContactError` for an empty, unparseable or unsupported URL; the
    message names at most the scheme, never the URL or its secret.
    """
    return str(instantiate(url, _ASSET).url(privacy=True))


def privacy(url: str) -> str:
    """The form of ``url`` that is safe for logs, pages and errors. Never raises.

    A usable URL gives Apprise's privacy form (passwords ``****``, keys ``a...z``);
    an unusable one gives only ``scheme://****``.
    """
    try:
        return validate_url(url)
    except ContactError:
        scheme = _scheme(url) if isinstance(url, str) else None
        return f"{scheme}://****" if scheme else "****"


def secrets_of(url: str, plugin: apprise.NotifyBase) -> list[str]:
    """Every secret ``url`` carries, longest first, for scrubbing free text."""
    found: set[str] = {url.strip()}
    try:
        password = urlsplit(url.strip()).password
    except ValueError:
        password = None
    if password:
        found.add(unquote(password))
    tokens = {**plugin.template_tokens, **plugin.template_args}
    for name, spec in tokens.items():
        if isinstance(spec, dict) and spec.get("private"):
            for attr in (name, spec.get("map_to")):
                value = getattr(plugin, attr, None) if attr else None
                if isinstance(value, str):
                    found.add(value)
    found.add(str(getattr(plugin, "password", "") or ""))
    with _TAP.capture():
        found.add(str(plugin.url(privacy=False)))
    found = {value for value in found if len(value) >= 3}
    variants = found | {quote(value, safe="") for value in found}
    return sorted(variants, key=len, reverse=True)


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "****")
    return text
