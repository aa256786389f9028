"""Deliver a rendered message to one contact URL through Apprise.

The one place that sends. Contacts are Apprise URLs; the ones duban is built for:

* ``mailto://[user:password@]host[:port]?from=ADDR&to=ADDR[&mode=insecure|starttls|ssl]``
  and ``mailtos://…`` (TLS) — Apprise's email syntax, sent by
  :class:`notifications.mail.NotifyDubanEmail` (shared TLS context, kept-open
  session); the message goes as HTML with a plain-text alternative.
* ``dubanwecom://KEY[?base=URL]`` — WeCom group bot, markdown (``notifications.wecom``).
* ``dubanwecomapp://CORPID:SECRET@AGENTID/USER[/USER…][?base=URL]`` — WeCom
  application message, markdown.
* any other Apprise URL — plain text with the title (``wecombot://`` included,
  but it cannot detect a rejected key: prefer ``dubanwecom://``).

Secrets: contact URLs hold passwords and keys. :func:`privacy`
(:mod:`notifications.contacts`, where URLs are checked) gives the form that
may be shown or logged; :class:`ContactError` messages and ``SendOutcome.error``
never contain a secret. Apprise's own logger is detached from the application's
logging (:mod:`notifications.apprise_logging`): its DEBUG output prints keys and
message bodies. We log one scrubbed line per failure under ``notifications.send``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

import apprise
from apprise import AppriseAsset, AppriseAttachment, NotifyFormat
from apprise.plugins.email import NotifyEmail

from duban.domain.org import DEFAULT_TIMEZONE
from notifications import wecom
from notifications.apprise_logging import TAP as _TAP
from notifications.contacts import ContactError, privacy, validate_url
from notifications.contacts import instantiate as _instantiate
from notifications.contacts import scrub as _scrub
from notifications.contacts import secrets_of as _secrets
from notifications.outcome import SENT, FailureReporting, SendOutcome
from notifications.render import RenderedMessage

__all__ = ["ContactError", "SendOutcome", "Sender", "privacy", "validate_url"]

log = logging.getLogger(__name__)


# --- Sending ---------------------------------------------------------------------------


@dataclass
class _Channel:
    url: str
    plugin: apprise.NotifyBase
    lock: threading.Lock = field(default_factory=threading.Lock)

    # Worked out on the first failure, not per new contact: a round to a
    # thousand addresses that all succeed never needs them.
    @cached_property
    def privacy(self) -> str:
        """The URL's form that may be logged (Apprise's privacy form)."""
        return str(self.plugin.url(privacy=True))

    @cached_property
    def secrets(self) -> list[str]:
        """Every secret the URL carries, for scrubbing what is reported."""
        return _secrets(self.url, self.plugin)


_HTTP_STATUS = re.compile(r"error=(\d{3})")
_TIMEOUT = re.compile(r"timed? ?out|timeout", re.I)
_CONNECTION = re.compile(r"connection|refused|unreachable|resolve|socket", re.I)


def _failed(channel: _Channel, failure: SendOutcome, *, parts_sent: int) -> SendOutcome:
    """The outcome of a failed send, its reason scrubbed of the channel's secrets
    (and logged)."""
    error = _scrub(failure.error or "发送失败", channel.secrets)
    log.warning("通知发送失败（%s）：%s", channel.privacy, error)
    return SendOutcome(
        ok=False,
        permanent=failure.permanent,
        error=error,
        parts_sent=parts_sent,
        unreachable=failure.unreachable,
    )


def _classify(lines: Sequence[str]) -> SendOutcome:
    """Guess permanent/transient for a stock plugin from the WARNING lines it logged."""
    text = "\n".join(lines)
    status = _HTTP_STATUS.search(text)
    if status:
        code = int(status.group(1))
        permanent = 400 <= code < 500 and code not in {408, 425, 429}
        return SendOutcome(ok=False, permanent=permanent, error=f"服务端返回 HTTP {code}")
    if _TIMEOUT.search(text):
        return SendOutcome(ok=False, permanent=False, error="连接服务端超时")
    if _CONNECTION.search(text):
        return SendOutcome(ok=False, permanent=False, error="无法连接服务端")
    detail = f"：{lines[-1][:200]}" if lines else ""
    return SendOutcome(ok=False, permanent=False, error=f"发送失败{detail}")


class Sender:
    """Sends :class:`RenderedMessage` objects to contact URLs.

    Keeps one Apprise plugin per URL, so an email contact keeps its SMTP session
    and a WeCom application its access token between sends; call :meth:`close`
    (or use ``with``) when done. Thread-safe: sends to one URL are serialised,
    sends to different URLs may run in parallel. Nothing is retried here; the
    outcome says whether a retry may help.
    """

    def __init__(
        self, *, wecom_api_base: str | None = None, timezone: str = DEFAULT_TIMEZONE
    ) -> None:
        """``wecom_api_base`` (``Settings.wecom_api_base``) applies to WeCom contacts
        without ``?base=``; ``timezone`` dates the email ``Date:`` header.

        Raises ``ValueError`` for a ``wecom_api_base`` that is not an http(s) URL.
        """
        self._wecom_api_base = None
        if wecom_api_base:
            self._wecom_api_base = wecom.normalise_api_base(wecom_api_base)
            if not self._wecom_api_base:
                raise ValueError(f"invalid WeCom API base URL: {wecom_api_base!r}")
        self._asset = AppriseAsset(app_id="duban", app_desc="duban", timezone=timezone)
        self._channels: dict[str, _Channel] = {}
        self._lock = threading.Lock()

    def send(
        self,
        url: str,
        message: RenderedMessage,
        *,
        attachments: Sequence[Path] = (),
        skip_parts: int = 0,
    ) -> SendOutcome:
        """Deliver ``message`` to ``url``; never raises for delivery problems.

        The format follows the channel: email gets ``title`` + ``html`` (Apprise adds
        the text alternative), WeCom gets ``markdown`` (split at 4096/2048 bytes),
        anything else ``title`` + ``text``. ``attachments`` go to channels that take
        attachments (email); a missing file is a permanent failure. An unusable URL
        is a permanent failure carrying the :class:`ContactError` message.
        ``skip_parts`` leading parts of a split (WeCom) message are not sent
        again; the outcome's ``parts_sent`` counts the parts accepted so far.
        """
        try:
            channel = self._channel(url)
        except ContactError as exc:
            return SendOutcome(ok=False, permanent=True, error=str(exc))
        for path in attachments:
            if not Path(path).is_file():
                return SendOutcome(ok=False, permanent=True, error=f"附件不存在：{Path(path).name}")
        title, body, body_format = _payload(channel.plugin, message)
        with channel.lock, _TAP.capture() as lines:
            plugin = channel.plugin
            if isinstance(plugin, FailureReporting):
                plugin.last_failure = None
            if isinstance(plugin, wecom.WeComPlugin):
                plugin.skip_parts, plugin.parts_accepted = skip_parts, skip_parts
            attach = (
                AppriseAttachment([str(path) for path in attachments], asset=self._asset)
                if attachments and plugin.attachment_support
                else None
            )
            try:
                result = plugin.notify(
                    body=body, title=title, body_format=body_format, attach=attach
                )
                ok = bool(result)
                crash = None
            except Exception as exc:  # a plugin bug must not take the caller down
                ok, crash = False, type(exc).__name__
            failure = plugin.last_failure if isinstance(plugin, FailureReporting) else None
            parts = plugin.parts_accepted if isinstance(plugin, wecom.WeComPlugin) else 0
            if isinstance(plugin, wecom.WeComPlugin):
                plugin.skip_parts = 0
        if ok:
            return SENT
        if crash is not None:
            failure = SendOutcome(ok=False, permanent=False, error=f"发送时出错（{crash}）")
        elif failure is None:
            failure = _classify(lines)
        return _failed(channel, failure, parts_sent=parts)

    def prepare(self, url: str, message: RenderedMessage) -> None:
        """Make now the parts of ``message`` the channel of ``url`` reads
        (WeCom: its markdown, rendered when first read), so a template error
        is raised here, before :meth:`send`, which never raises. Nothing for
        an unusable URL (:meth:`send` reports it)."""
        try:
            channel = self._channel(url)
        except ContactError:
            return
        _payload(channel.plugin, message)

    def server_of(self, url: str) -> str | None:
        """The server ``url``'s messages go through (mail server, WeCom API
        host), or None when unknown; never contains a secret. Once one send
        finds a server unreachable, the others through it may wait."""
        try:
            plugin = self._channel(url).plugin
        except ContactError:
            return None
        server = getattr(plugin, "server", None)
        return str(server()) if callable(server) else None

    def close(self) -> None:
        """Close kept connections (SMTP sessions); the sender stays usable."""
        with self._lock:
            channels = list(self._channels.values())
            self._channels.clear()
        for channel in channels:
            close = getattr(channel.plugin, "close", None)
            if callable(close):
                with channel.lock:
                    close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _channel(self, url: str) -> _Channel:
        with self._lock:
            channel = self._channels.get(url)
            if channel is None:
                plugin = _instantiate(url, self._asset)
                # Apprise waits request_rate_per_sec (5.5 s for most plugins)
                # between two sends through one instance: hours for a reminder round.
                plugin.request_rate_per_sec = 0
                if isinstance(plugin, wecom.WeComPlugin) and self._wecom_api_base:
                    plugin.use_default_base(self._wecom_api_base)
                channel = _Channel(url=url, plugin=plugin)
                self._channels[url] = channel
            return channel


def _payload(plugin: Any, message: RenderedMessage) -> tuple[str, str, NotifyFormat]:
    """(title, body, format) for the channel ``plugin`` speaks."""
    if isinstance(plugin, NotifyEmail):
        return message.title, message.html, NotifyFormat.HTML
    if isinstance(plugin, wecom.WeComPlugin):
        # body.md starts with the title as its heading.
        return "", message.markdown, NotifyFormat.MARKDOWN
    return message.title, message.text, NotifyFormat.TEXT
