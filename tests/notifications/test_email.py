"""Email through Sender -> Apprise mailto:// -> a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from notifications import mail as mail_module
from notifications.mail import NotifyDubanEmail, encoded_subject
from notifications.render import RenderedMessage
from notifications.send import Sender
from tests.notifications.conftest import FROM, TO, SMTPServer


def test_email_arrives_with_subject_html_text_alternative_and_chinese(
    smtp_server: SMTPServer, message: RenderedMessage
) -> None:
    with Sender() as sender:
        outcome = sender.send(smtp_server.url(), message)
    assert outcome.ok, outcome.error
    [mail] = smtp_server.messages
    assert smtp_server.handler.envelopes == [(FROM, [TO])]
    assert mail["Subject"] == message.title
    assert "措施5 办好人民满意的教育" in mail["Subject"]
    assert mail["To"] == TO
    assert mail.get_content_type() == "multipart/alternative"
    html = mail.get_body(("html",))
    text = mail.get_body(("plain",))
    assert html is not None and text is not None
    html_content = html.get_content()
    text_content = text.get_content()
    assert "<strong>1. 措施5" in html_content and "张三（珠海市教育局）" in html_content
    for content in (html_content, text_content):
        assert "措施5 办好人民满意的教育" in content
        assert "2015-12-31" in content
        assert "https://duban.example.gov.cn/tasks/101" in content  # how to act, also in text


def test_one_connection_serves_many_messages(
    smtp_server: SMTPServer, message: RenderedMessage
) -> None:
    with Sender() as sender:
        outcomes = [sender.send(smtp_server.url(), message) for _ in range(5)]
    assert all(outcome.ok for outcome in outcomes)
    assert len(smtp_server.messages) == 5
    assert len(smtp_server.handler.peers) == 1


def test_plain_smtp_never_builds_a_tls_context(
    smtp_server: SMTPServer, message: RenderedMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # mode=insecure: loading the CA bundle (30-90 ms of CPU) is for TLS modes only.
    def no_tls(verify: bool) -> None:
        raise AssertionError("a TLS context built for plain SMTP")

    monkeypatch.setattr(mail_module, "shared_tls_context", no_tls)
    with Sender() as sender:
        outcome = sender.send(smtp_server.url(), message)
    assert outcome.ok, outcome.error
    assert len(smtp_server.messages) == 1


def test_a_restarted_server_gets_a_new_session(
    smtp_server: SMTPServer, message: RenderedMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NotifyDubanEmail, "idle_check_seconds", 0.0)
    with Sender() as sender:
        assert sender.send(smtp_server.url(), message).ok
        smtp_server.restart()
        outcome = sender.send(smtp_server.url(), message)
    assert outcome.ok, outcome.error
    assert len(smtp_server.messages) == 2
    assert len(smtp_server.handler.peers) == 2


def test_smtp_server_down_is_a_transient_failure(free_port: int, message: RenderedMessage) -> None:
    url = f"mailto://127.0.0.1:{free_port}?from={FROM}&to={TO}"
    with Sender() as sender:
        outcome = sender.send(url, message)
    assert not outcome.ok
    assert not outcome.permanent
    assert outcome.error is not None and "无法连接邮件服务器" in outcome.error


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        ("550 5.1.1 mailbox unavailable", True),
        ("553 5.1.3 bad address syntax", True),
        ("451 4.3.0 try again later", False),
        ("452 4.2.2 mailbox full", False),
    ],
)
def test_refused_recipient_is_classified_by_reply_code(
    smtp_server: SMTPServer, message: RenderedMessage, reply: str, permanent: bool
) -> None:
    smtp_server.handler.rcpt_reply = reply
    with Sender() as sender:
        outcome = sender.send(smtp_server.url(), message)
    assert not outcome.ok
    assert outcome.permanent is permanent
    assert outcome.error is not None and reply[:3] in outcome.error


@pytest.mark.parametrize(
    ("password", "ok", "permanent"),
    [("right-pw", True, False), ("wrong-pw", False, True)],
)
def test_smtp_login(
    smtp_auth_server: SMTPServer,
    message: RenderedMessage,
    password: str,
    ok: bool,
    permanent: bool,
) -> None:
    url = f"mailto://user:{password}@127.0.0.1:{smtp_auth_server.port}?from={FROM}&to={TO}"
    with Sender() as sender:
        outcome = sender.send(url, message)
    assert outcome.ok is ok
    assert outcome.permanent is permanent
    if not ok:
        assert outcome.error is not None and "拒绝登录" in outcome.error
        assert password not in outcome.error
    assert len(smtp_auth_server.messages) == (1 if ok else 0)


def test_login_against_a_server_without_auth_is_permanent(
    smtp_server: SMTPServer, message: RenderedMessage
) -> None:
    url = f"mailto://user:pass1234@127.0.0.1:{smtp_server.port}?from={FROM}&to={TO}"
    with Sender() as sender:
        outcome = sender.send(url, message)
    assert not outcome.ok and outcome.permanent
    assert outcome.error is not None and "pass1234" not in outcome.error


def test_attachments_arrive(
    smtp_server: SMTPServer, message: RenderedMessage, tmp_path: Path
) -> None:
    attachment = tmp_path / "督办单.txt"
    attachment.write_text("红色督办单", encoding="utf-8")
    with Sender() as sender:
        outcome = sender.send(smtp_server.url(), message, attachments=[attachment])
    assert outcome.ok, outcome.error
    [mail] = smtp_server.messages
    assert mail.get_content_type() == "multipart/mixed"
    [part] = [part for part in mail.walk() if part.get_content_disposition() == "attachment"]
    assert part.get_filename() == "督办单.txt"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes) and payload.decode("utf-8") == "红色督办单"
    html = mail.get_body(("html",))
    assert html is not None and "措施5" in html.get_content()


def test_a_missing_attachment_is_a_permanent_failure(
    smtp_server: SMTPServer, message: RenderedMessage, tmp_path: Path
) -> None:
    with Sender() as sender:
        outcome = sender.send(smtp_server.url(), message, attachments=[tmp_path / "无.pdf"])
    assert not outcome.ok and outcome.permanent
    assert smtp_server.messages == []


def test_a_chinese_subject_goes_as_base64_encoded_words_within_75_characters(
    smtp_server: SMTPServer, message: RenderedMessage
) -> None:
    with Sender() as sender:
        assert sender.send(smtp_server.url(), message).ok
    [mail] = smtp_server.messages
    raw = dict(mail.raw_items())["Subject"]
    words = raw.split()
    assert len(words) > 1
    assert all(w.startswith("=?utf-8?b?") and w.endswith("?=") and len(w) <= 75 for w in words)
    assert mail["Subject"] == message.title


@pytest.mark.parametrize(
    ("title", "encoded"),
    [
        pytest.param("Weekly  report\n", "Weekly report", id="ascii-as-is-whitespace-collapsed"),
        pytest.param("中", "=?utf-8?b?5Lit?=", id="one-word"),
        pytest.param("  督办 中 ", "=?utf-8?b?552j5YqeIOS4rQ==?=", id="whitespace-collapsed"),
    ],
)
def test_encoded_subject_table(title: str, encoded: str) -> None:
    assert encoded_subject(title) == encoded


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("【交办通知】措施1 推进第1项重点工作,完善相关制度和工作机制", id="chinese"),
        pytest.param("a" * 10 + "😀" * 30, id="four-byte-characters-never-split"),
        pytest.param("措施5 " * 40, id="long"),
    ],
)
def test_encoded_subject_decodes_back_to_the_title(title: str) -> None:
    encoded = encoded_subject(title)
    parsed = email.message_from_string(f"Subject: {encoded}\n\nx", policy=email.policy.default)
    assert parsed["Subject"] == " ".join(title.split())
    assert all(len(word) <= 75 for word in encoded.split())
