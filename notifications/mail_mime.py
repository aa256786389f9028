"""Apprise's HTML email, written out without the email package's generic generator.

Apprise 2.0.1 builds every email in ``NotifyEmail.prepare_emails``: a
``multipart/alternative`` of the text Apprise converts from the HTML and the
HTML itself, both ``MIMEText`` in UTF-8, then ``Message.as_string()``. That
last call is the expensive part of a reminder round's mail (about 0.4 ms of a
~1 ms message here): the compat32 generator folds all 14 headers through
``email.header.Header`` (with no line limit: ``as_string`` passes
``maxheaderlen=0``), and compiles a new regular expression for every random
boundary to check that the text does not contain it.

:func:`html_emails` yields the same messages for the case duban sends — HTML,
no attachments, no PGP, no Cc, Bcc or Reply-To (:func:`plain_case`) — with the
same objects built the same way (``MIMEText`` parts, ``Header`` values, the
same calls to ``make_msgid``, ``format_datetime`` and the random boundary, in
the same order), written the way the generator writes them: headers folded by
the same policy (the fixed ones, such as the parts' ``Content-Type``,
remembered), each payload's line breaks made ``\\n``, and the boundary checked
with a substring test before the generator's regular expression. The bytes are
Apprise's, ``Date`` and ``Message-ID`` aside (they name the moment);
``tests/notifications/test_mail_mime.py`` holds them to ``prepare_emails``.
Anything else goes through ``prepare_emails`` itself.
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid
from functools import lru_cache
from typing import Any, cast

from apprise import NotifyFormat
from apprise.conversion import convert_between
from apprise.plugins.email import NotifyEmail
from apprise.plugins.email.base import PGP_MODE_DEFAULT
from apprise.plugins.email.common import EmailMessage

__all__ = ["html_emails", "plain_case"]

# What Message.as_string() folds with: compat32 without a line limit.
_POLICY = compat32.clone(max_line_length=0)
_NL = _POLICY.linesep
_NLCRE = re.compile(r"\r\n|\r|\n")  # email.generator.NLCRE
_BOUNDARY_FORMAT = f"%0{len(repr(sys.maxsize - 1))}d"  # email.generator._fmt


def plain_case(
    *,
    notify_format: Any,
    attach: Any,
    cc: Iterable[str] | None,
    bcc: Iterable[str] | None,
    reply_to: Iterable[str] | None,
    pgp_mode: Any,
) -> bool:
    """Whether :func:`html_emails` writes this email (else ``prepare_emails``)."""
    return (
        notify_format == NotifyFormat.HTML
        and not attach
        and not cc
        and not bcc
        and not reply_to
        and pgp_mode == PGP_MODE_DEFAULT
    )


def html_emails(
    *,
    subject: str,
    body: str,
    from_addr: Any,
    to: Iterable[Any],
    smtp_host: str | None,
    headers: Mapping[str, str],
    tzinfo: tzinfo | None,
) -> list[EmailMessage]:
    """``prepare_emails``'s messages for an HTML body in the :func:`plain_case`,
    one per recipient of ``to``."""
    if not smtp_host:
        smtp_host = from_addr[1].split("@")[1]
    if not tzinfo:
        tzinfo = datetime.now().astimezone().tzinfo
    if subject:
        subject = " ".join(subject.split())
    text = convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, body)
    messages = []
    for to_name, to_addr in to:
        # Their payloads are encoded (quoted-printable or base64), so never
        # hold the surrogates the generator would write differently.
        parts = [MIMEText(text, "plain", "utf-8"), MIMEText(body, "html", "utf-8")]
        base = MIMEMultipart("alternative")
        autocrypt_seen = False
        for key, value in headers.items():
            if key.strip().lower() == "autocrypt":
                if autocrypt_seen:
                    continue
                autocrypt_seen = True
            base[key] = Header(value, NotifyEmail._get_charset(value))  # type: ignore[assignment]
        base["Subject"] = Header(subject, NotifyEmail._get_charset(subject))  # type: ignore[assignment]
        base["From"] = formataddr(from_addr, charset="utf-8")
        base["To"] = formataddr((to_name, to_addr), charset="utf-8")
        base["Message-ID"] = make_msgid(domain=smtp_host)
        base["Date"] = format_datetime(datetime.now(tz=tzinfo))
        messages.append(
            EmailMessage(recipient=to_addr, to_addrs=[to_addr], body=_multipart(base, parts))
        )
    return messages


def _multipart(base: MIMEMultipart, parts: list[MIMEText]) -> str:
    """``base`` with ``parts`` attached, as ``base.as_string()`` writes it (the
    parts first, then the boundary, then the headers that name it)."""
    texts = [_headers(part) + _lines(cast(str, part.get_payload())) for part in parts]
    boundary = _boundary(_NL.join(texts))
    base.set_boundary(boundary)
    separator = f"{_NL}--{boundary}{_NL}"
    return (
        f"{_headers(base)}--{boundary}{_NL}" + separator.join(texts) + f"{_NL}--{boundary}--{_NL}"
    )


def _headers(message: Message) -> str:
    """The header block as ``Generator._write_headers`` writes it."""
    return (
        "".join(
            _fold(name, value) if isinstance(value, str) else _POLICY.fold(name, value)
            for name, value in message.raw_items()
        )
        + _NL
    )


@lru_cache(maxsize=256)
def _fold(name: str, value: str) -> str:
    # A pure function of its arguments: the parts' fixed headers (Content-Type,
    # MIME-Version, Content-Transfer-Encoding) are folded once.
    return str(_POLICY.fold(name, value))


def _lines(payload: str) -> str:
    """``Generator._write_lines``: every line break made the policy's."""
    return _NLCRE.sub(_NL, payload) if payload else ""


def _boundary(text: str) -> str:
    """``Generator._make_boundary(text)``: the same random draw and the same
    check, its regular expression compiled only when the boundary occurs in
    ``text`` at all."""
    boundary = ("=" * 15) + (_BOUNDARY_FORMAT % random.randrange(sys.maxsize)) + "=="
    candidate = boundary
    counter = 0
    while f"--{candidate}" in text and re.search(
        "^--" + re.escape(candidate) + "(--)?$", text, re.MULTILINE
    ):
        candidate = f"{boundary}.{counter}"
        counter += 1
    return candidate
