"""``mailto://`` / ``mailtos://`` through Apprise, without paying for TLS setup per message.

Apprise 2.0.1's email plugin opens a new SMTP connection for every notify and,
before that, builds a fresh ``ssl.create_default_context()`` (loading the system
CA bundle: ~30-50 ms of CPU) even for plain ``mode=insecure`` SMTP
(``apprise/plugins/email/smtp.py``, ``AppriseSMTPController.__enter__``). A
reminder round of a thousand messages spends most of its time there.

:class:`NotifyDubanEmail` is a small subclass registered for the same schemes
(so every ``mailto://`` URL, its parameters and its privacy form stay Apprise's):
``send()`` keeps Apprise's message building (``prepare_emails``: MIME, HTML with
text alternative, attachments, headers, PGP), handing it a subject already
encoded (:func:`encoded_subject`: the stdlib's quoted-printable header
encoding is quadratic in the subject's length), and replaces only the transport:

* one process-wide TLS context per ``verify`` setting, built once, and only
  for a TLS mode (plain SMTP never loads the CA bundle);
* one SMTP session per mail server (host, port, security mode, login), shared
  by every contact on that server — a round to a thousand addresses on one
  government mail server uses one connection, not a thousand — checked with
  ``NOOP`` after ``idle_check_seconds`` and closed after ``max_idle_seconds``;
* failures are classified into :class:`notifications.outcome.SendOutcome`:
  authentication, TLS and 5xx SMTP replies are permanent; refused connections,
  timeouts, dropped sessions and 4xx replies are transient.

Nothing is retried inside ``send()``: a message whose outcome is unknown (the
session broke mid-``DATA``) is reported as a transient failure, never sent twice here.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import base64mime
from typing import Any

from apprise import NotificationManager, NotifyType
from apprise.plugins.email import NotifyEmail, SecureMailMode
from apprise.plugins.email.common import AppriseEmailException, EmailMessage

from notifications import apprise_logging
from notifications.outcome import FailureReporting

__all__ = ["NotifyDubanEmail", "encoded_subject", "shared_tls_context"]

_CONTEXTS: dict[bool, ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()
_SMTP_ERRORS = (OSError, smtplib.SMTPException)


@dataclass
class _ServerSession:
    """The kept session to one mail server; ``lock`` serialises its use."""

    smtp: smtplib.SMTP | None = None
    used: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)


_SESSIONS: dict[tuple[Any, ...], _ServerSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _server_session(key: tuple[Any, ...]) -> _ServerSession:
    with _SESSIONS_LOCK:
        return _SESSIONS.setdefault(key, _ServerSession())


def shared_tls_context(verify: bool) -> ssl.SSLContext:
    """The process-wide client TLS context (built on first use, then reused).

    ``verify=False`` (``?verify=no`` on the URL) skips hostname and certificate checks.
    SSLContext objects are safe to share between threads and connections.
    """
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(verify)
        if context is None:
            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            _CONTEXTS[verify] = context
        return context


# UTF-8 bytes per encoded word: base64 makes 60 characters of them, 72 with
# "=?utf-8?b?" and "?=", within RFC 2047's 75.
_WORD_BYTES = 45


def encoded_subject(title: str) -> str:
    """``title`` (whitespace runs collapsed, as Apprise does) ready for the
    ``Subject:`` header: as it is when ASCII, else as RFC 2047 base64 encoded
    words separated by spaces, which mail readers decode back to ``title``.

    Apprise hands a non-ASCII subject to ``email.header.Header`` with the
    quoted-printable UTF-8 charset it registers process-wide; the stdlib then
    measures the quoted-printable length of every prefix of the subject, which
    for a Chinese subject took more CPU than the rest of the message. An
    ASCII string goes through ``Header`` as it is."""
    title = " ".join(title.split())
    if title.isascii():
        return title
    words: list[str] = []
    word: list[str] = []
    size = 0
    for char in title:
        width = len(char.encode("utf-8"))
        if word and size + width > _WORD_BYTES:
            words.append("".join(word))
            word, size = [], 0
        word.append(char)
        size += width
    words.append("".join(word))
    return " ".join(base64mime.header_encode(w, charset="utf-8") for w in words)


def _reply_is_permanent(code: int) -> bool:
    """SMTP 5xx replies are permanent, 4xx (and anything else) transient (RFC 5321 4.2.1)."""
    return 500 <= code < 600


class NotifyDubanEmail(FailureReporting, NotifyEmail):  # type: ignore[misc]
    """Apprise's email plugin with a shared TLS context and a kept-open SMTP session.

    Not thread-safe on its own: callers serialise ``notify()`` per instance
    (:class:`notifications.send.Sender` does).
    """

    # Apprise's default of 5.5 s between two sends through one instance would
    # make a reminder round of hundreds of emails take hours.
    request_rate_per_sec = 0
    # Check a session idle this long with NOOP before reusing it.
    idle_check_seconds = 5.0
    # Close a session idle this long instead (servers drop idle clients anyway).
    max_idle_seconds = 60.0
    # The last send failed to reach the server at all (refused, timed out).
    _unreachable = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shared = _server_session(
            (
                self.smtp_host,
                self.port,
                self.secure_mode,
                self.user,
                self.password,
                self.verify_certificate,
            )
        )

    @property
    def _smtp(self) -> smtplib.SMTP | None:
        return self._shared.smtp

    @_smtp.setter
    def _smtp(self, value: smtplib.SMTP | None) -> None:
        self._shared.smtp = value

    @property
    def _smtp_used(self) -> float:
        return self._shared.used

    @_smtp_used.setter
    def _smtp_used(self, value: float) -> None:
        self._shared.used = value

    def send(
        self,
        body: str,
        title: str = "",
        notify_type: NotifyType = NotifyType.INFO,
        attach: Any = None,
        body_format: Any = None,
        **kwargs: Any,
    ) -> bool:
        """Build the messages as Apprise does, deliver them on the kept session.

        Returns True when every recipient's message was accepted; otherwise
        ``last_failure`` holds the first failure (permanent only if every failure
        was permanent).
        """
        self.last_failure = None
        if not self.targets:
            return self._fail("邮件联系方式没有收件人", permanent=True)
        self.throttle()
        headers = {"X-Application": self.app_id, **self.headers, **self._protocol_headers(body)}
        try:
            messages = list(
                self.prepare_emails(
                    subject=encoded_subject(title),
                    body=body,
                    notify_format=self.resolve_format(body_format),
                    from_addr=self.from_addr,
                    to=self.targets,
                    cc=self.cc,
                    bcc=self.bcc,
                    reply_to=self.reply_to,
                    smtp_host=self.smtp_host,
                    attach=attach,
                    headers=headers,
                    names=self.names,
                    pgp=self.pgp,
                    pgp_mode=self.pgp_mode,
                    inline=self.inline,
                    tzinfo=self.tzinfo,
                )
            )
        except AppriseEmailException:
            return self._fail("邮件无法生成（附件无法读取或 PGP 处理失败）", permanent=True)

        failures = self._deliver_each(messages)
        self.pgp.prune()
        if failures:
            return self._fail(
                failures[0][0],
                permanent=all(p for _, p in failures),
                unreachable=self._unreachable,
            )
        return True

    def _deliver_each(self, messages: list[EmailMessage]) -> list[tuple[str, bool]]:
        """Deliver the messages not yet delivered; the failures as (reason,
        permanent). A transient one stops the round (the server is the problem)."""
        failures: list[tuple[str, bool]] = []
        self._unreachable = False
        for message in messages:
            if self.is_delivered(message.recipient):
                continue
            failure = self._deliver(message.to_addrs, message.body)
            if failure is None:
                self.logger.info("Sent Email to %s", message.recipient)
                self.mark_delivered(message.recipient)
            else:
                failures.append(failure)
                if not failure[1]:
                    break  # the server or connection is the problem: stop this round
        return failures

    def server(self) -> str:
        """The mail server this contact's messages go through."""
        return f"smtp:{self.smtp_host}:{self.port}"

    def close(self) -> None:
        """Close the kept SMTP session of this contact's server, if any (QUIT,
        errors ignored); the next send on that server opens a new one."""
        with self._shared.lock:
            smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(*_SMTP_ERRORS):
                smtp.quit()
            with contextlib.suppress(*_SMTP_ERRORS):
                smtp.close()

    def _deliver(self, to_addrs: list[str], body: str) -> tuple[str, bool] | None:
        """Send one prepared message; None when accepted, else (reason, permanent).

        Holds the server session's lock: contacts on one server take turns."""
        with self._shared.lock:
            return self._deliver_locked(to_addrs, body)

    def _deliver_locked(self, to_addrs: list[str], body: str) -> tuple[str, bool] | None:
        try:
            smtp = self._session()
        except smtplib.SMTPAuthenticationError:
            return "邮件服务器拒绝登录（用户名或密码错误）", True
        except smtplib.SMTPNotSupportedError:
            return "邮件服务器不支持所需的 STARTTLS 或登录方式（请检查 mode 参数）", True
        except ssl.SSLCertVerificationError:
            return "邮件服务器证书校验失败", True
        except ssl.SSLError:
            return "与邮件服务器的 TLS 握手失败（请检查 mode 参数与端口）", True
        except smtplib.SMTPResponseException as exc:
            return f"邮件服务器拒绝连接（{exc.smtp_code}）", _reply_is_permanent(exc.smtp_code)
        except TimeoutError:
            self._unreachable = True
            return "连接邮件服务器超时", False
        except _SMTP_ERRORS as exc:
            self._unreachable = True
            return f"无法连接邮件服务器（{type(exc).__name__}）", False

        try:
            refused = smtp.sendmail(str(self.from_addr[1]), to_addrs, body)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return (
                f"邮件服务器拒绝了收件人（{', '.join(map(str, codes))}）",
                all(_reply_is_permanent(code) for code in codes),
            )
        except smtplib.SMTPResponseException as exc:
            # Sender refused, data refused, or another reply: the session stays usable.
            self._smtp_used = time.monotonic()
            return f"邮件服务器拒绝了邮件（{exc.smtp_code}）", _reply_is_permanent(exc.smtp_code)
        except _SMTP_ERRORS as exc:
            self.close()
            return f"与邮件服务器的连接中断（{type(exc).__name__}）", False
        self._smtp_used = time.monotonic()
        if refused:
            codes = [code for code, _ in refused.values()]
            return (
                f"邮件服务器拒绝了部分收件人（{', '.join(map(str, codes))}）",
                all(_reply_is_permanent(code) for code in codes),
            )
        return None

    def _session(self) -> smtplib.SMTP:
        """The kept session if it is still good, else a new connected and logged-in one."""
        if self._smtp is not None:
            idle = time.monotonic() - self._smtp_used
            if idle > self.max_idle_seconds:
                self.close()
            elif idle > self.idle_check_seconds and not self._alive(self._smtp):
                self.close()
        if self._smtp is None:
            self._smtp = self._connect()
            self._smtp_used = time.monotonic()
        return self._smtp

    @staticmethod
    def _alive(smtp: smtplib.SMTP) -> bool:
        try:
            return smtp.noop()[0] == 250
        except _SMTP_ERRORS:
            return False

    def _connect(self) -> smtplib.SMTP:
        """Connect, secure and log in as ``AppriseSMTPController.__enter__`` does.

        The TLS context is built (once per process) only for a TLS mode: plain
        SMTP (``mode=insecure``) never needs it, and loading the CA bundle costs
        30-90 ms of CPU."""
        smtp: smtplib.SMTP
        port = int(self.port or 0)
        if self.secure_mode == SecureMailMode.SSL:
            smtp = smtplib.SMTP_SSL(
                self.smtp_host,
                port,
                timeout=self.socket_connect_timeout,
                context=shared_tls_context(self.verify_certificate),
            )
        else:
            smtp = smtplib.SMTP(self.smtp_host, port, timeout=self.socket_connect_timeout)
        try:
            if self.secure_mode == SecureMailMode.STARTTLS:
                smtp.starttls(context=shared_tls_context(self.verify_certificate))
            if self.user and self.password:
                smtp.login(self.user, self.password)
        except BaseException:
            with contextlib.suppress(*_SMTP_ERRORS):
                smtp.close()
            raise
        return smtp


def register() -> None:
    """Make ``mailto://`` and ``mailtos://`` resolve to :class:`NotifyDubanEmail`; idempotent."""
    manager = NotificationManager()
    schemas = ("mailto", "mailtos")
    if any(
        schema not in manager.schemas() or manager[schema] is not NotifyDubanEmail
        for schema in schemas
    ):
        manager.add(NotifyDubanEmail, schemas=schemas, force=True)


apprise_logging.isolate()
register()
