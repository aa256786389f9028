"""What both WeCom plugins of :mod:`notifications.wecom` share.

:class:`WeComPlugin` holds the API base (``?base=`` or the sender's default), the
split of a message into markdown parts of the plugin's byte limit, the pace WeCom
allows (:class:`Pace`, :data:`PACE`) and one API call with its classified
failure (:data:`ERRCODES`: which ``errcode`` is permanent, and why, in Chinese).
"""

# Apprise plugins declare their class attributes by overriding base attributes
# that Apprise types as None or (); see notifications.wecom.
# mypy: disable-error-code="assignment, override"
from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from apprise import NotifyBase, NotifyFormat, NotifyType
from apprise.exception import AppriseImproperlyConfigured

from notifications.markdown import WECOM_BOT_LIMIT_BYTES, fit_markdown
from notifications.outcome import FailureReporting

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"

# errcode -> (permanent?, Chinese reason). Reference:
# https://developer.work.weixin.qq.com/document/path/90313
ERRCODES: dict[int, tuple[bool, str]] = {
    -1: (False, "企业微信系统繁忙"),
    40001: (True, "应用 Secret 无效"),
    40003: (True, "接收人账号无效"),
    40008: (True, "消息类型无效"),
    40013: (True, "企业 CorpID 无效"),
    40014: (False, "access_token 无效"),
    40056: (True, "应用 AgentID 无效"),
    40058: (True, "请求参数不合法"),
    42001: (False, "access_token 已过期"),
    44004: (True, "消息内容为空"),
    45002: (True, "消息内容超过长度限制"),
    45009: (False, "接口调用超过频率限制"),
    45033: (False, "接口并发调用超过限制"),
    48001: (True, "接口未授权"),
    48002: (True, "接口无权限调用"),
    60020: (True, "服务器 IP 不在企业微信可信 IP 列表中"),
    81013: (True, "接收人全部无效或不在应用可见范围内"),
    93000: (True, "机器人 webhook 地址无效（密钥错误或机器人已被移出群聊）"),
    93004: (True, "机器人已被停用"),
    93008: (True, "机器人不在该群聊中"),
}


class Pace:
    """Sliding-window rate limits per key: a key of kind ``k`` takes at most
    ``limits[k] = (count, seconds)`` sends in any ``seconds``. Thread-safe;
    ``clock`` and ``sleep`` are parameters so a test can run it without waiting."""

    def __init__(
        self,
        limits: dict[str, tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, keys: Sequence[tuple[str, ...]]) -> float:
        """Block until every key (``(kind, …)``) may send, then count a send
        for each; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                delay = 0.0
                for key in keys:
                    count, seconds = self.limits[key[0]]
                    sent = self._sent.setdefault(key, deque())
                    while sent and sent[0] <= now - seconds:
                        sent.popleft()
                    if len(sent) >= count:
                        delay = max(delay, sent[0] + seconds - now)
                if delay <= 0:
                    for key in keys:
                        self._sent[key].append(now)
                    return waited
            self.sleep(delay)
            waited += delay


# WeCom's documented limits: a group bot 20 messages a minute, an application
# 30 a minute to one member.
PACE = Pace({"bot": (20, 60.0), "member": (30, 60.0)})


def normalise_api_base(value: str | None) -> str | None:
    """``scheme://host[:port][/path]`` without a trailing slash, or None if ``value``
    is not an http(s) URL without credentials, query or fragment."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
    ):
        return None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


class WeComPlugin(FailureReporting, NotifyBase):  # type: ignore[misc]
    """What both WeCom plugins share: API base, markdown parts, errcode checks."""

    service_url = "https://work.weixin.qq.com/"
    notify_format = NotifyFormat.MARKDOWN
    # No title field: Apprise folds a title into the body as a "# " heading.
    title_maxlen = 0
    # Apprise counts characters; we split by bytes in send() instead.
    body_maxlen = 32768
    # A reminder round must not be throttled; WeCom's own rate limit (45009)
    # is reported as a transient failure and retried by the outbox.
    request_rate_per_sec = 0
    limit_bytes: ClassVar[int] = WECOM_BOT_LIMIT_BYTES
    # The errcode of the last failed call, for callers that can cure it.
    last_errcode: int | None = None
    # Parts of the next message already accepted (set by the sender), and the
    # parts of the last one accepted so far (skipped ones included).
    skip_parts: int = 0
    parts_accepted: int = 0

    template_args = dict(  # noqa: RUF012 - Apprise's declarative convention
        NotifyBase.template_args,
        base={"name": "API Base URL", "type": "string"},
    )

    def __init__(self, base: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = normalise_api_base(base) if base else None
        if base and not self.base:
            msg = "An invalid WeCom API base URL was specified."
            self.logger.warning(msg)
            raise AppriseImproperlyConfigured(msg)
        self.api_base = self.base or DEFAULT_API_BASE

    def use_default_base(self, base: str) -> None:
        """Use ``base`` unless the contact URL named its own ``?base=``."""
        if not self.base:
            normalised = normalise_api_base(base)
            if not normalised:
                raise ValueError("invalid WeCom API base URL")
            self.api_base = normalised

    def _base_params(self, privacy: bool, *args: Any, **kwargs: Any) -> dict[str, str]:
        params = self.url_parameters(*args, privacy=privacy, **kwargs)
        if self.base:
            params["base"] = self.base
        return params

    def send(
        self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any
    ) -> bool:
        """Post ``body`` as markdown, in as many parts as the byte limit needs,
        from part ``skip_parts`` on (the earlier ones were accepted before).

        Stops at the first part that fails (``last_failure`` says why); parts
        already delivered are not recalled: ``parts_accepted`` counts them
        (the skipped ones included). Each part waits for the pace WeCom allows
        (:data:`PACE`).
        """
        self.last_failure = None
        parts = fit_markdown(body, self.limit_bytes)
        self.parts_accepted = min(self.skip_parts, len(parts))
        for part in parts[self.parts_accepted :]:
            PACE.wait(self.pace_keys())
            if not self._send_part(part):
                return False
            self.parts_accepted += 1
        self.logger.info("Sent %s notification.", self.service_name)
        return True

    def pace_keys(self) -> list[tuple[str, ...]]:
        """Who a message counts against in WeCom's rate limits."""
        return []

    def server(self) -> str:
        """The API host this contact's messages go through."""
        return f"wecom:{self.api_base}"

    def _send_part(self, content: str) -> bool:
        raise NotImplementedError

    def _call(
        self, method: str, path: str, *, params: dict[str, str], payload: Any = None
    ) -> dict[str, Any] | None:
        """One API call; returns the JSON object when ``errcode`` is 0.

        Otherwise records the classified failure and returns None; when the
        errcode is one that a fresh access token may cure, ``last_errcode`` is set.
        The reason never contains ``params`` (they hold the key or token).
        """
        self.last_errcode = None
        self.throttle()
        try:
            response = requests.request(
                method,
                f"{self.api_base}{path}",
                params=params,
                data=None if payload is None else json.dumps(payload, ensure_ascii=False).encode(),
                headers={"User-Agent": "duban", "Content-Type": "application/json; charset=utf-8"},
                verify=self.verify_certificate,
                timeout=self.request_timeout,
                # A redirect would carry the key or token to another host.
                allow_redirects=False,
            )
        except requests.Timeout:
            self._fail("连接企业微信接口超时", permanent=False, unreachable=True)
            return None
        except requests.RequestException as exc:
            # str(exc) would contain the request URL, key included.
            self._fail(
                f"无法连接企业微信接口（{type(exc).__name__}）", permanent=False, unreachable=True
            )
            return None
        return self._reply(response)

    def _reply(self, response: requests.Response) -> dict[str, Any] | None:
        """The JSON object of an answer whose ``errcode`` is 0, else None with the
        failure recorded (HTTP status, not JSON, or the errcode's reason)."""
        status = response.status_code
        if status != 200:
            if 300 <= status < 400:
                reason = f"企业微信接口返回重定向 HTTP {status}，请检查 base 参数"
                self._fail(reason, permanent=True)
            else:
                # Timeouts, too early, too many requests: a later try may pass.
                transient = status in (408, 425, 429) or status >= 500
                self._fail(f"企业微信接口返回 HTTP {status}", permanent=not transient)
            return None
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or "errcode" not in data:
            self._fail("企业微信接口的响应不是预期的 JSON（请检查 base 参数）", permanent=False)
            return None
        errcode = data.get("errcode")
        if errcode == 0:
            return data
        code = errcode if isinstance(errcode, int) else -999
        permanent, reason = ERRCODES.get(code, (False, "企业微信返回未知错误"))
        errmsg = self._scrub(str(data.get("errmsg", "")))[:160]
        self.last_errcode = code
        self._fail(f"{reason}（errcode {errcode}：{errmsg}）", permanent=permanent)
        return None

    def _scrub(self, text: str) -> str:
        return text
