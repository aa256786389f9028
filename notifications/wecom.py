"""WeCom (企业微信) Apprise plugins that send markdown and check ``errcode``.

Why not the stock plugins: Apprise 2.0.1's ``wecombot://`` posts ``msgtype: text``
only, counts its length limit in characters where WeCom counts UTF-8 bytes, has
no way to point at another API host, and treats any HTTP 200 as delivered —
WeCom answers a bad key with ``200 {"errcode":93000,...}``. ``wechat://`` (the
application API) checks ``errcode`` but cannot tell a wrong secret from a busy
server, counts characters, and has no API host override either.

Schemes (registered with Apprise when this module is imported)

``dubanwecom://KEY[?base=URL]``
    Group bot webhook: ``POST {base}/cgi-bin/webhook/send?key=KEY`` with
    ``{"msgtype":"markdown","markdown":{"content":...}}``. KEY is the ``key=`` of
    the webhook address the group shows. Parts of at most 4096 bytes.

``dubanwecomapp://CORPID:SECRET@AGENTID/TARGET[/TARGET...][?base=URL]``
    Application message: ``GET {base}/cgi-bin/gettoken`` (token cached per
    instance until shortly before ``expires_in``), then
    ``POST {base}/cgi-bin/message/send?access_token=...``. TARGET is a user id
    (``zhangsan`` or ``@zhangsan``; ``@all`` for everyone), ``%23ID`` a department,
    ``+ID`` a tag; ``?to=a,b`` adds more. Parts of at most 2048 bytes.

``base`` defaults to https://qyapi.weixin.qq.com; government editions (政务微信,
粤政易, …) serve the same API under their own host: give it per contact with
``?base=`` or for all contacts with ``DUBAN_WECOM_API_BASE`` (the sender applies
it to contacts without ``?base=``).

Failures are classified (``last_failure``, see :mod:`notifications.outcome`):
``errcode`` 93000/93004/93008 (bad key, bot disabled, not in group), 40001/40013/
40056 (bad secret, corp id, agent id), 40003/81013 (no valid recipient),
40058 (bad request), 45002 (too long, after our split), 48001/48002/60020 (not
allowed), 4xx and redirects are permanent; -1 (busy), 45009/45033 (rate
limits), 40014/42001 (token invalid or expired even after one refresh), 5xx,
429, timeouts and refused connections are transient, as are codes we do not
know.

Pacing: a group bot takes 20 messages a minute and one member of an
application 30 (more are dropped, sometimes silently). Every part waits in
:data:`PACE` until the bot, and each user the message names, is under its
limit. The pace is kept per process: processes sending at once share the
limit only through WeCom's 45009 answer, which is retried.

What both plugins share (API base, parts, pace, errcodes) is in
:mod:`notifications.wecom_base`.
"""

# Apprise plugins declare their class attributes (names, schemes, templates) by
# overriding base attributes that Apprise types as None or (); that convention is
# the point of a plugin, so mypy's assignment/override checks do not apply here.
# mypy: disable-error-code="assignment, override"
from __future__ import annotations

import re
import time
from typing import Any

from apprise import NotificationManager, NotifyBase, PrivacyMode
from apprise.exception import AppriseImproperlyConfigured
from apprise.utils.parse import parse_list, validate_regex

from notifications import apprise_logging
from notifications.markdown import WECOM_BOT_LIMIT_BYTES
from notifications.wecom_base import DEFAULT_API_BASE, WeComPlugin, normalise_api_base

__all__ = [
    "DEFAULT_API_BASE",
    "NotifyDubanWeComApp",
    "NotifyDubanWeComBot",
    "WeComPlugin",
    "normalise_api_base",
]

WECOM_APP_LIMIT_BYTES = 2048
_TOKEN_ERRCODES = frozenset({40014, 42001})
_USER = re.compile(r"^@?(?P<user>[A-Za-z0-9][A-Za-z0-9_@.\-]*)$")
_DEPARTMENT = re.compile(r"^#(?P<id>[0-9]+)$")
_TAG = re.compile(r"^\+(?P<id>[0-9]+)$")


class NotifyDubanWeComBot(WeComPlugin):
    """WeCom group bot webhook (``dubanwecom://KEY``), markdown, errcode-checked."""

    service_name = "WeCom group bot (duban)"
    secure_protocol = "dubanwecom"
    setup_url = "https://developer.work.weixin.qq.com/document/path/91770"
    limit_bytes = WECOM_BOT_LIMIT_BYTES

    templates = ("{schema}://{key}",)
    template_tokens = dict(  # noqa: RUF012
        NotifyBase.template_tokens,
        key={
            "name": "Bot Webhook Key",
            "type": "string",
            "required": True,
            "private": True,
            "regex": (r"^[a-z0-9_-]+$", "i"),
        },
    )
    template_args = dict(WeComPlugin.template_args, key={"alias_of": "key"})  # noqa: RUF012

    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = validate_regex(key, *self.template_tokens["key"]["regex"])
        if not self.key:
            # Never echo the key: it is the bot's only credential.
            msg = "An invalid WeCom bot webhook key was specified."
            self.logger.warning(msg)
            raise AppriseImproperlyConfigured(msg)

    @property
    def url_identifier(self) -> tuple[str, ...]:
        return (self.secure_protocol, self.api_base, self.key)

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        params = self._base_params(privacy, *args, **kwargs)
        return "{schema}://{key}/?{params}".format(
            schema=self.secure_protocol,
            key=self.pprint(self.key, privacy, safe=""),
            params=self.urlencode(params),
        )

    def pace_keys(self) -> list[tuple[str, ...]]:
        return [("bot", self.api_base, self.key)]

    def _send_part(self, content: str) -> bool:
        payload = {"msgtype": "markdown", "markdown": {"content": content}}
        data = self._call(
            "POST", "/cgi-bin/webhook/send", params={"key": self.key}, payload=payload
        )
        return data is not None

    def _scrub(self, text: str) -> str:
        return text.replace(self.key, "****")

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = NotifyBase.parse_url(url, verify_host=False)
        if not results:
            return results
        results["key"] = NotifyBase.unquote(results["host"])
        if results["qsd"].get("key"):
            results["key"] = NotifyBase.unquote(results["qsd"]["key"])
        if results["qsd"].get("base"):
            results["base"] = NotifyBase.unquote(results["qsd"]["base"])
        return results


class NotifyDubanWeComApp(WeComPlugin):
    """WeCom application message (``dubanwecomapp://CORPID:SECRET@AGENTID/TARGETS``)."""

    service_name = "WeCom application (duban)"
    secure_protocol = "dubanwecomapp"
    setup_url = "https://developer.work.weixin.qq.com/document/path/90236"
    limit_bytes = WECOM_APP_LIMIT_BYTES
    # Renew a little before WeCom's expires_in (7200 s) runs out.
    token_margin_seconds = 300

    templates = ("{schema}://{corpid}:{secret}@{agentid}/{targets}",)
    template_tokens = dict(  # noqa: RUF012
        NotifyBase.template_tokens,
        corpid={"name": "Corp ID", "type": "string", "required": True, "map_to": "user"},
        secret={
            "name": "Application Secret",
            "type": "string",
            "required": True,
            "private": True,
            "map_to": "password",
        },
        agentid={
            "name": "Agent ID",
            "type": "string",
            "required": True,
            "regex": (r"^[0-9]+$", ""),
            "map_to": "host",
        },
        targets={"name": "Targets", "type": "list:string", "required": True},
    )
    template_args = dict(WeComPlugin.template_args, to={"alias_of": "targets"})  # noqa: RUF012

    def __init__(self, targets: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.corpid = validate_regex(self.user or "", r"^[A-Za-z0-9_-]+$")
        if not self.corpid:
            raise self._improper("An invalid WeCom corp id was specified.")
        if not self.password:
            raise self._improper("A WeCom application secret must be specified.")
        self.agentid = validate_regex(str(self.host or ""), r"^[0-9]+$")
        if not self.agentid:
            raise self._improper("An invalid WeCom agent id was specified.")
        self.users: list[str] = []
        self.departments: list[str] = []
        self.tag_ids: list[str] = []
        for target in parse_list(targets):
            if match := _DEPARTMENT.match(target):
                self.departments.append(match.group("id"))
            elif match := _TAG.match(target):
                self.tag_ids.append(match.group("id"))
            elif match := _USER.match(target):
                user = match.group("user")
                self.users.append("@all" if user == "all" else user)
            else:
                raise self._improper("An invalid WeCom recipient was specified.")
        if not (self.users or self.departments or self.tag_ids):
            raise self._improper("A WeCom application message needs at least one recipient.")
        self._token: str | None = None
        self._token_expires = 0.0

    def _improper(self, msg: str) -> AppriseImproperlyConfigured:
        self.logger.warning(msg)
        return AppriseImproperlyConfigured(msg)

    @property
    def url_identifier(self) -> tuple[str, ...]:
        return (self.secure_protocol, self.api_base, self.corpid, str(self.password), self.agentid)

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        params = self._base_params(privacy, *args, **kwargs)
        targets = [
            *(self.quote(user if user[0] == "@" else f"@{user}", safe="@") for user in self.users),
            *(f"%23{department}" for department in self.departments),
            *(f"+{tag}" for tag in self.tag_ids),
        ]
        return "{schema}://{corpid}:{secret}@{agentid}/{targets}/?{params}".format(
            schema=self.secure_protocol,
            corpid=self.quote(self.corpid, safe=""),
            secret=self.pprint(self.password, privacy, mode=PrivacyMode.Secret, safe=""),
            agentid=self.agentid,
            targets="/".join(targets),
            params=self.urlencode(params),
        )

    def _access_token(self) -> str | None:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        self._token = None
        data = self._call(
            "GET",
            "/cgi-bin/gettoken",
            params={"corpid": self.corpid, "corpsecret": str(self.password)},
        )
        if data is None:
            return None
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            self._fail("企业微信未返回 access_token", permanent=False)
            return None
        expires_in = data.get("expires_in", 7200)
        lifetime = expires_in if isinstance(expires_in, int) else 7200
        self._token = token
        self._token_expires = time.monotonic() + max(60, lifetime - self.token_margin_seconds)
        return token

    def pace_keys(self) -> list[tuple[str, ...]]:
        """Each user named; departments, tags and @all count as one target each."""
        base = (self.api_base, self.corpid, self.agentid)
        return [
            *(("member", *base, user) for user in self.users),
            *(("member", *base, f"#{d}") for d in self.departments),
            *(("member", *base, f"+{t}") for t in self.tag_ids),
        ]

    def _send_part(self, content: str) -> bool:
        payload: dict[str, Any] = {
            "agentid": int(self.agentid),
            "msgtype": "markdown",
            "markdown": {"content": content},
        }
        if self.users:
            payload["touser"] = "|".join(self.users)
        if self.departments:
            payload["toparty"] = "|".join(self.departments)
        if self.tag_ids:
            payload["totag"] = "|".join(self.tag_ids)
        for attempt in range(2):
            token = self._access_token()
            if token is None:
                return False
            data = self._call(
                "POST", "/cgi-bin/message/send", params={"access_token": token}, payload=payload
            )
            if data is not None:
                if data.get("invaliduser"):
                    # Delivered to the others: not a failure, but worth a line.
                    self.logger.warning("WeCom application message: some recipients are invalid.")
                return True
            if self.last_errcode in _TOKEN_ERRCODES and attempt == 0:
                self._token = None  # expired or revoked: fetch a new one once
                continue
            return False
        return False

    def _scrub(self, text: str) -> str:
        for secret in (self.password, self._token):
            if secret:
                text = text.replace(secret, "****")
        return text

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = NotifyBase.parse_url(url, verify_host=False)
        if not results:
            return results
        results["targets"] = NotifyBase.split_path(results["fullpath"])
        if results["qsd"].get("to"):
            results["targets"] += NotifyBase.parse_list(results["qsd"]["to"])
        if results["qsd"].get("base"):
            results["base"] = NotifyBase.unquote(results["qsd"]["base"])
        return results


def register() -> None:
    """Make Apprise resolve our schemes; idempotent."""
    manager = NotificationManager()
    for plugin in (NotifyDubanWeComBot, NotifyDubanWeComApp):
        schema = plugin.secure_protocol
        if schema not in manager.schemas() or manager[schema] is not plugin:
            manager.add(plugin, force=True)


apprise_logging.isolate()
register()
