"""Email delivery throughput: duban's Sender vs plain smtplib on one connection.

Starts a local aiosmtpd sink on 127.0.0.1 (free port), renders one real 交办通知,
then sends it N times (default 1,000):

* ``Sender``     notifications.send.Sender -> Apprise mailto:// (our plugin: shared
                 TLS context, kept-open SMTP session), MIME built by Apprise;
* ``smtplib``    one smtplib.SMTP connection, MIME (HTML + text) built with the stdlib;
* ``stock``      (``--stock N``, default 100) Apprise 2.0.1's own email plugin,
                 throttle off: a new connection and a new SSL context per message.

Prints messages/second for each and the Sender/smtplib ratio (target: >= 0.5).

    .venv/bin/python bench/email_delivery.py [--count 1000] [--stock 100]
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import threading
import time
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from aiosmtpd.controller import Controller
from apprise.plugins.email import NotifyEmail

from notifications.render import DEFAULT_TEMPLATES_DIR, RenderedMessage, render
from notifications.send import Sender

FROM = "duban@example.gov.cn"
TO = "liaison@example.gov.cn"


class CountingHandler:
    """aiosmtpd handler that counts accepted messages and keeps nothing else."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 OK"


def free_port() -> int:
    """A port nobody listens on right now (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample_message() -> RenderedMessage:
    item = {
        "step": "assigned",
        "step_label": "交办通知",
        "task_id": 101,
        "measure_number": 5,
        "measure_title": "办好人民满意的教育，推进义务教育均衡发展",
        "role_label": "牵头",
        "due": "2015-12-31",
        "days_left": 60,
        "next_step_label": "签收提醒",
        "next_step_date": "2014-09-04",
        "link": "https://duban.example.gov.cn/tasks/101",
        "other_departments": ["珠海市财政局", "珠海市人力资源和社会保障局"],
    }
    context = {
        "recipient_name": "张三",
        "department": "珠海市教育局",
        "sender": "市委社管部",
        "base_url": "https://duban.example.gov.cn/",
        "items": [item],
    }
    return render("assigned", context, templates_dir=DEFAULT_TEMPLATES_DIR)


def timed(label: str, count: int, send_one: Any) -> float:
    start = time.perf_counter()
    for _ in range(count):
        send_one()
    elapsed = time.perf_counter() - start
    rate = count / elapsed
    print(f"{label:<34} {count:>5} messages in {elapsed:7.2f} s = {rate:8.1f} messages/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--stock", type=int, default=100, help="0 skips stock Apprise")
    args = parser.parse_args()

    handler = CountingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    url = f"mailto://127.0.0.1:{port}?from={FROM}&to={TO}&mode=insecure"
    message = sample_message()
    try:
        with Sender() as sender:

            def via_sender() -> None:
                outcome = sender.send(url, message)
                assert outcome.ok, outcome.error

            sender_rate = timed("Sender (Apprise, our mailto)", args.count, via_sender)

        with smtplib.SMTP("127.0.0.1", port) as smtp:

            def via_smtplib() -> None:
                mime = MIMEMultipart("alternative")
                mime.attach(MIMEText(message.text, "plain", "utf-8"))
                mime.attach(MIMEText(message.html, "html", "utf-8"))
                mime["Subject"] = message.title
                mime["From"] = FROM
                mime["To"] = TO
                smtp.sendmail(FROM, [TO], mime.as_string())

            smtplib_rate = timed("plain smtplib, one connection", args.count, via_smtplib)

        if args.stock:
            stock = NotifyEmail(**NotifyEmail.parse_url(url))
            stock.request_rate_per_sec = 0

            def via_stock() -> None:
                assert stock.notify(body=message.html, title=message.title, body_format="html")

            timed("stock Apprise 2.0.1 mailto", args.stock, via_stock)
    finally:
        controller.stop()

    expected = args.count * 2 + args.stock
    print(f"sink received {handler.count} of {expected} messages")
    print(f"Sender / smtplib = {sender_rate / smtplib_rate:.2f}")


if __name__ == "__main__":
    main()
