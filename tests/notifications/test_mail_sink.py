"""The loopback mail sink (duban.ops.mail_sink): kept for the demo, counted for benchmarks."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from duban.ops.mail_sink import MailSink, text_of


def _send(sink: MailSink, body: str) -> None:
    message = EmailMessage()
    message["From"] = "duban@demo.local"
    message["To"] = "liaison@demo.local"
    message["Subject"] = "催办"
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
        smtp.send_message(message)


def test_a_sink_keeps_and_counts_what_it_receives_by_default() -> None:
    with MailSink() as sink:
        _send(sink, "请于2015-03-31前报送进展")
    [kept] = sink.messages
    assert "2015-03-31" in text_of(kept)
    assert sink.received == 1 and sink.received_bytes > 0


def test_a_sink_that_does_not_keep_counts_messages_and_holds_none() -> None:
    with MailSink(keep=False) as sink:
        _send(sink, "请于2015-03-31前报送进展")
        _send(sink, "第二封")
    assert sink.messages == []
    assert sink.received == 2 and sink.received_bytes > 0
