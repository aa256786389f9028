"""notifications.mail_mime writes the bytes Apprise's prepare_emails writes."""

from __future__ import annotations

import random
import re
from email.generator import Generator
from typing import Any

import pytest
from apprise import AppriseAsset, NotifyFormat

from notifications import mail_mime
from notifications.contacts import instantiate
from notifications.mail import NotifyDubanEmail, encoded_subject
from notifications.render import DEFAULT_TEMPLATES_DIR, render
from tests.notifications.conftest import sample_context, sample_item

ASSET = AppriseAsset(app_id="duban", app_desc="duban", timezone="Asia/Shanghai")
URL = "mailto://127.0.0.1:2525?from=duban@example.gov.cn&to=liaison@example.gov.cn"
_MOMENT = re.compile(r"^(Date|Message-ID): .*$", re.MULTILINE)


def _plugin(url: str = URL) -> NotifyDubanEmail:
    plugin = instantiate(url, ASSET)
    assert isinstance(plugin, NotifyDubanEmail)
    return plugin


def _both(plugin: NotifyDubanEmail, title: str, body: str, **extra: Any) -> tuple[Any, Any]:
    """(fast, Apprise's) messages from the same random state; Date and
    Message-ID (the moment and a random id) blanked."""
    headers = {"X-Application": plugin.app_id, **plugin.headers, **extra}
    common: dict[str, Any] = dict(
        subject=encoded_subject(title),
        body=body,
        from_addr=plugin.from_addr,
        to=plugin.targets,
        smtp_host=plugin.smtp_host,
        headers=headers,
        tzinfo=plugin.tzinfo,
    )
    random.seed(2016)
    fast = mail_mime.html_emails(**common)
    random.seed(2016)
    slow = list(
        plugin.prepare_emails(
            **common,
            notify_format=NotifyFormat.HTML,
            cc=plugin.cc,
            bcc=plugin.bcc,
            reply_to=plugin.reply_to,
            attach=None,
            names=plugin.names,
            pgp=plugin.pgp,
            pgp_mode=plugin.pgp_mode,
            inline=plugin.inline,
        )
    )

    def plain(messages: list[Any]) -> list[tuple[str, list[str], str]]:
        return [(m.recipient, m.to_addrs, _MOMENT.sub(r"\1: -", m.body)) for m in messages]

    return plain(fast), plain(slow)


def _rendered() -> list[tuple[str, str]]:
    """Title and HTML of real messages: several steps, one item and many."""
    items = [sample_item(task_id=100 + i, measure_number=i) for i in range(1, 30)]
    out = []
    for step, context in [
        ("assigned", sample_context()),
        ("urge", sample_context(items=[sample_item(step="urge", step_label="催办", level=1)])),
        ("digest", sample_context(items=items)),
        ("staff_digest", sample_context(items=items, reader="coordinator", failures=[])),
    ]:
        message = render(step, context, templates_dir=DEFAULT_TEMPLATES_DIR)
        out.append((message.title, message.html))
    return out


TRICKY = [
    ("plain ASCII subject", "<p>ASCII only</p>"),
    ("", "<p>no subject</p>"),
    ("  runs   of\twhite space  ", "<p>x</p>"),
    ("督办" * 40, "<p>" + "很长的一行" * 400 + "</p>"),
    ("emoji 🚨 subject", "<p>emoji 🚨 body</p>\n"),
    ("line breaks", "a\r\nb\rc\nd\r\n\r\n"),
    ("From lines", "From here\nFrom there\n>From quoted"),
    ("boundary look-alike", "--===============1234567890123456789==\n--x--\n"),
    ("dots", ".\n..\n.leading dot"),
    ("empty body", ""),
    ("long ASCII line", "<p>" + "word " * 500 + "</p>"),
    ("trailing spaces", "line with spaces   \nand tab\t\n"),
]


@pytest.mark.parametrize(("title", "body"), _rendered() + TRICKY)
def test_html_email_is_apprises_byte_for_byte(title: str, body: str) -> None:
    fast, slow = _both(_plugin(), title, body)
    assert fast == slow


def test_boundary_is_drawn_and_checked_as_the_generator_does() -> None:
    # A text holding the first boundary the seed draws (and its first retry):
    # both move on to the same third one. (The parts are quoted-printable, so
    # a real message never holds one: "=" is written "=3D".)
    random.seed(2016)
    first = Generator._make_boundary()
    text = f"x\n--{first}\n--{first}.0--\ny"
    random.seed(2016)
    fast = mail_mime._boundary(text)
    random.seed(2016)
    assert fast == Generator._make_boundary(text) == f"{first}.1"
    for text in ("", "no boundary", f"--{first}x", f"  --{first}"):
        random.seed(2016)
        fast = mail_mime._boundary(text)
        random.seed(2016)
        assert fast == Generator._make_boundary(text) == first


@pytest.mark.parametrize(
    "url",
    [
        URL.replace("from=duban@example.gov.cn", "from=督办科<duban@example.gov.cn>"),
        URL + ",second@example.gov.cn",
        URL.replace("to=liaison@example.gov.cn", "to=张三<liaison@example.gov.cn>"),
        URL + "&+X-Custom=值&+Autocrypt=a&+X-Plain=ascii",
    ],
)
def test_names_targets_and_custom_headers(url: str) -> None:
    fast, slow = _both(_plugin(url), "【交办通知】措施5", "<p>正文</p>", autocrypt="b")
    assert fast == slow


def test_what_the_fast_path_leaves_to_apprise() -> None:
    plugin = _plugin()
    simple: dict[str, Any] = dict(
        notify_format=NotifyFormat.HTML,
        attach=None,
        cc=set(),
        bcc=set(),
        reply_to=set(),
        pgp_mode=plugin.pgp_mode,
    )
    assert mail_mime.plain_case(**simple)
    for change in [
        {"notify_format": NotifyFormat.TEXT},
        {"attach": ["file"]},
        {"cc": {"a@example.gov.cn"}},
        {"bcc": {"a@example.gov.cn"}},
        {"reply_to": {"a@example.gov.cn"}},
        {"pgp_mode": "sign"},
    ]:
        assert not mail_mime.plain_case(**{**simple, **change}), change
