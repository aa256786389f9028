"""Contact URLs: validation, privacy forms, and no secret in errors or logs."""

from __future__ import annotations

import logging

import pytest

from duban.domain.errors import DubanError
from notifications.render import RenderedMessage
from notifications.send import ContactError, Sender, privacy, validate_url
from tests.notifications.conftest import FROM, TO, WeComServer

KEY = "9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b"
PASSWORD = "S3cretPassw0rd"
APP_SECRET = "AppSecret-0123456789"


@pytest.mark.parametrize(
    ("url", "secret", "shown"),
    [
        (
            f"mailto://user:{PASSWORD}@smtp.example.gov.cn?from={FROM}&to={TO}",
            PASSWORD,
            "mailto://user:****@smtp.example.gov.cn",
        ),
        (
            f"mailtos://user:{PASSWORD}@smtp.example.gov.cn:465?mode=ssl&from={FROM}&to={TO}",
            PASSWORD,
            "mailtos://user:****@smtp.example.gov.cn/",
        ),
        (f"mailto://127.0.0.1:2525?from={FROM}&to={TO}", None, "mailto://127.0.0.1:2525"),
        (f"dubanwecom://{KEY}", KEY, "dubanwecom://9...b/"),
        (
            f"dubanwecom://{KEY}?base=https://zwwx.example.gov.cn",
            KEY,
            "base=https%3A%2F%2Fzwwx.example.gov.cn",
        ),
        (
            f"dubanwecomapp://ww1234:{APP_SECRET}@1000002/zhangsan",
            APP_SECRET,
            "dubanwecomapp://ww1234:****@1000002/@zhangsan/",
        ),
        (f"wecombot://{KEY}", KEY, "wecombot://9...b/"),
    ],
)
def test_valid_urls_give_a_privacy_form_without_the_secret(
    url: str, secret: str | None, shown: str
) -> None:
    form = validate_url(url)
    assert shown in form
    assert privacy(url) == form
    if secret:
        assert secret not in form


@pytest.mark.parametrize(
    ("url", "secret", "message"),
    [
        ("", None, "联系方式为空"),
        ("   ", None, "联系方式为空"),
        ("张三的邮箱", None, "格式不正确"),
        (f"nosuch://user:{PASSWORD}@host", PASSWORD, "不支持的联系方式协议：nosuch://"),
        (f"dubanwecom://{PASSWORD}!!{KEY}", KEY, "dubanwecom:// 地址缺少必要部分或参数不正确"),
        (f"dubanwecom://{KEY}?base=ftp://files.example", KEY, "dubanwecom://"),
        (f"dubanwecomapp://ww1234:{APP_SECRET}@1000002", APP_SECRET, "dubanwecomapp://"),
        (
            f"dubanwecomapp://ww1234:{APP_SECRET}@notanumber/zhangsan",
            APP_SECRET,
            "dubanwecomapp://",
        ),
        (f"mailto://user:{PASSWORD}@?to={TO}", PASSWORD, "mailto://"),
        (f"mailto://user:{PASSWORD}@smtp.example.gov.cn?mode=bogus", PASSWORD, "mailto://"),
        (f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}", KEY, "dubanwecom://<key>"),
    ],
)
def test_bad_urls_raise_contact_error_without_the_secret(
    url: str, secret: str | None, message: str
) -> None:
    with pytest.raises(ContactError) as caught:
        validate_url(url)
    assert isinstance(caught.value, DubanError)
    assert message in str(caught.value)
    if secret:
        assert secret not in str(caught.value)
        assert secret not in privacy(url)
    assert "://" not in privacy(url) or privacy(url).endswith("://****")


def test_sending_to_a_bad_url_is_a_permanent_failure(message: RenderedMessage) -> None:
    outcome = Sender().send(f"nosuch://user:{PASSWORD}@host", message)
    assert not outcome.ok and outcome.permanent
    assert outcome.error is not None and PASSWORD not in outcome.error


def test_apprise_debug_output_never_reaches_our_handlers(
    caplog: pytest.LogCaptureFixture,
    wecom_server: WeComServer,
    free_port: int,
    message: RenderedMessage,
) -> None:
    # Even with everything at DEBUG, the apprise logger included (as an operator
    # troubleshooting might set it), nothing of Apprise's reaches the root handlers.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="apprise")
    sender = Sender()
    wecom_server.replies.append((200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
    urls = [
        f"dubanwecom://{KEY}?base={wecom_server.base}",  # rejected key
        f"dubanwecom://{KEY}?base={wecom_server.base}",  # delivered
        f"mailto://user:{PASSWORD}@127.0.0.1:{free_port}?from={FROM}&to={TO}",  # server down
        f"ntfy://user:{PASSWORD}@127.0.0.1:{free_port}/duban",  # stock plugin, server down
        f"dubanwecomapp://ww1234:{APP_SECRET}@1000002/zhangsan?base={wecom_server.base}",
        f"dubanwecom://{PASSWORD}!!{KEY}",  # invalid
    ]
    for url in urls:
        sender.send(url, message)
    sender.close()
    assert not [record for record in caplog.records if record.name.startswith("apprise")]
    for secret in (KEY, PASSWORD, APP_SECRET, wecom_server.token):
        assert secret not in caplog.text
    assert "corpsecret=****" in caplog.text  # urllib3's request line, redacted
    # Our own failure lines are there, with privacy forms.
    ours = [record.getMessage() for record in caplog.records if record.name == "notifications.send"]
    assert any("dubanwecom://9...b/" in line and "93000" in line for line in ours)
    assert any("mailto://user:****@127.0.0.1" in line for line in ours)
    assert any(line.startswith("通知发送失败（ntfy://") and "无法连接" in line for line in ours)
