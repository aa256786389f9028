"""WeCom through Sender -> our Apprise plugins -> a local server speaking WeCom's API."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jinja2
import pytest
from apprise import Apprise

from notifications.render import DEFAULT_TEMPLATES_DIR, RenderedMessage, render
from notifications.send import Sender
from notifications.wecom_base import Pace
from tests.notifications.conftest import (
    SMTPServer,
    WeComServer,
    sample_context,
    sample_item,
)

KEY = "693a91f6-7x0c-4bc4-97a0-0ec2sifa5aaa"


def bot_url(server: WeComServer, key: str = KEY) -> str:
    return f"dubanwecom://{key}?base={server.base}"


def test_bot_posts_markdown_and_accepts_errcode_0(
    wecom_server: WeComServer, message: RenderedMessage
) -> None:
    outcome = Sender().send(bot_url(wecom_server), message)
    assert outcome.ok, outcome.error
    [call] = wecom_server.requests
    assert (call.method, call.path, call.query) == ("POST", "/cgi-bin/webhook/send", {"key": KEY})
    assert call.body == {"msgtype": "markdown", "markdown": {"content": message.markdown}}
    assert call.body["markdown"]["content"].startswith("## 交办通知")


@pytest.mark.parametrize(
    ("status", "reply", "permanent", "in_error"),
    [
        (200, {"errcode": 93000, "errmsg": "invalid webhook url"}, True, "93000"),
        (200, {"errcode": 93004, "errmsg": "bot disabled"}, True, "停用"),
        (200, {"errcode": 40014, "errmsg": "invalid access_token"}, False, "40014"),
        (200, {"errcode": 40058, "errmsg": "invalid parameter"}, True, "40058"),
        (200, {"errcode": 45009, "errmsg": "api freq out of limit"}, False, "频率"),
        (200, {"errcode": -1, "errmsg": "system busy"}, False, "繁忙"),
        (200, {"errcode": 12345, "errmsg": "something new"}, False, "12345"),
        (500, {"error": "boom"}, False, "HTTP 500"),
        (502, b"<html>bad gateway</html>", False, "HTTP 502"),
        (429, {}, False, "HTTP 429"),
        (408, {}, False, "HTTP 408"),
        (404, b"not found", True, "HTTP 404"),
        (302, b"", True, "重定向"),
        (200, b"<html>portal</html>", False, "JSON"),
    ],
)
def test_bot_failures_are_classified(
    wecom_server: WeComServer,
    message: RenderedMessage,
    status: int,
    reply: Any,
    permanent: bool,
    in_error: str,
) -> None:
    wecom_server.replies.append((status, reply))
    outcome = Sender().send(bot_url(wecom_server), message)
    assert not outcome.ok
    assert outcome.permanent is permanent
    assert outcome.error is not None and in_error in outcome.error
    assert KEY not in outcome.error


def test_errmsg_echoing_the_key_is_scrubbed(
    wecom_server: WeComServer, message: RenderedMessage
) -> None:
    wecom_server.replies.append((200, {"errcode": 93000, "errmsg": f"invalid key {KEY}"}))
    outcome = Sender().send(bot_url(wecom_server), message)
    assert outcome.error is not None and KEY not in outcome.error and "****" in outcome.error


def test_bot_connection_refused_is_transient(free_port: int, message: RenderedMessage) -> None:
    outcome = Sender().send(f"dubanwecom://{KEY}?base=http://127.0.0.1:{free_port}", message)
    assert not outcome.ok and not outcome.permanent
    assert outcome.error is not None and "无法连接" in outcome.error and KEY not in outcome.error


def test_api_base_comes_from_settings_unless_the_url_names_one(
    wecom_server: WeComServer, message: RenderedMessage, free_port: int
) -> None:
    assert Sender(wecom_api_base=wecom_server.base).send(f"dubanwecom://{KEY}", message).ok
    # ?base= on the contact wins over the default.
    sender = Sender(wecom_api_base=f"http://127.0.0.1:{free_port}")
    assert sender.send(bot_url(wecom_server), message).ok
    assert not sender.send(f"dubanwecom://{KEY}", message).ok
    assert len(wecom_server.sends()) == 2
    with pytest.raises(ValueError):
        Sender(wecom_api_base="ftp://example")


def long_message(items: int = 40) -> RenderedMessage:
    title = "推进基本公共服务均等化，完善城乡社区服务体系建设，加快社会组织培育发展" * 2
    context = sample_context(
        items=[
            sample_item(task_id=1000 + i, measure_number=i, measure_title=title, step="urge")
            for i in range(1, items + 1)
        ]
    )
    return render("digest", context, templates_dir=DEFAULT_TEMPLATES_DIR)


def test_long_chinese_markdown_is_split_by_bytes(wecom_server: WeComServer) -> None:
    message = long_message()
    assert len(message.markdown.encode()) > 3 * 4096
    # Counting characters, as Apprise does, would make parts WeCom refuses.
    assert len(message.markdown[:4096].encode()) > 4096
    outcome = Sender().send(bot_url(wecom_server), message)
    assert outcome.ok, outcome.error
    contents = [call.body["markdown"]["content"] for call in wecom_server.sends()]
    assert len(contents) >= 4
    for index, content in enumerate(contents, start=1):
        assert len(content.encode("utf-8")) <= 4096
        label = f"（{index}/{len(contents)}）" if index == 1 else f"（续{index}/{len(contents)}）"
        assert content.startswith(f"## 督办提醒{label}")
    joined = "".join(contents)
    for i in range(1, 41):
        assert f"[任务 {1000 + i}]" in joined


def test_a_failed_part_stops_the_rest(wecom_server: WeComServer) -> None:
    wecom_server.replies.extend([(200, {"errcode": 0}), (200, {"errcode": 45009, "errmsg": "x"})])
    outcome = Sender().send(bot_url(wecom_server), long_message())
    assert not outcome.ok and not outcome.permanent
    assert len(wecom_server.sends()) == 2


def test_a_retry_of_a_split_message_sends_only_the_parts_not_accepted(
    wecom_server: WeComServer,
) -> None:
    message = long_message()
    wecom_server.replies.extend([(200, {"errcode": 0}), (200, {"errcode": -1, "errmsg": "x"})])
    sender = Sender()
    first = sender.send(bot_url(wecom_server), message)
    assert not first.ok and not first.permanent and first.parts_sent == 1
    retry = sender.send(bot_url(wecom_server), message, skip_parts=first.parts_sent)
    assert retry.ok, retry.error
    contents = [call.body["markdown"]["content"] for call in wecom_server.sends()]
    parts = len(contents) - 1  # part 2 was refused once
    assert contents[0].startswith(f"## 督办提醒（1/{parts}）")
    assert contents[1] == contents[2] and "（续2/" in contents[1]
    assert sum("（1/" in c for c in contents) == 1  # part 1 never again


@pytest.mark.parametrize(
    ("limits", "keys", "sends", "waited"),
    [
        ({"bot": (20, 60.0)}, [("bot", "k")], 20, 0.0),
        ({"bot": (20, 60.0)}, [("bot", "k")], 21, 60.0),
        ({"member": (30, 60.0)}, [("member", "a"), ("member", "b")], 31, 60.0),
    ],
    ids=["twenty-a-minute-to-a-bot", "the-21st-waits", "each-member-counts"],
)
def test_sends_are_paced_per_bot_and_per_member(
    limits: dict[str, tuple[int, float]],
    keys: list[tuple[str, ...]],
    sends: int,
    waited: float,
) -> None:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    pace = Pace(limits, clock=lambda: clock[0], sleep=sleep)
    total = sum(pace.wait(keys) for _ in range(sends))
    assert total == waited
    assert pace.wait([("bot", "another")] if "bot" in limits else [("member", "c")]) == 0.0


def test_user_text_cannot_break_the_markdown(wecom_server: WeComServer) -> None:
    item = sample_item(
        measure_title='**加急** [点此](http://evil.example) <font color="info">绿</font>'
    )
    message = render("urge", sample_context(items=[item]), templates_dir=DEFAULT_TEMPLATES_DIR)
    assert Sender().send(bot_url(wecom_server), message).ok
    content = wecom_server.sends()[0].body["markdown"]["content"]
    assert "**加急**" not in content and "＊＊加急＊＊" in content
    assert "](http://evil.example)" not in content
    assert '<font color="info">' not in content


def test_stock_wecombot_reports_success_for_a_rejected_key(
    wecom_server: WeComServer, message: RenderedMessage
) -> None:
    """Why dubanwecom:// exists. wecombot:// has no base override in its URL syntax
    (notify_url is a class constant); we point the instance's api_url at the local
    server to show that it posts text and calls errcode 93000 a success."""
    plugin = Apprise.instantiate(f"wecombot://{KEY}")
    assert plugin is not None
    plugin.api_url = f"{wecom_server.base}/cgi-bin/webhook/send?key={KEY}"  # type: ignore[attr-defined]
    plugin.request_rate_per_sec = 0
    wecom_server.replies.append((200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
    assert plugin.notify(body=message.text) is True  # the problem
    assert wecom_server.sends()[0].body["msgtype"] == "text"
    # The same answer through our plugin is a permanent failure.
    wecom_server.replies.append((200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
    outcome = Sender().send(bot_url(wecom_server), message)
    assert not outcome.ok and outcome.permanent


def test_sends_are_not_throttled(
    wecom_server: WeComServer, message: RenderedMessage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apprise waits 5.5 s between sends through one plugin instance by default;
    our sends never make it wait (its sleeps are counted, not timed)."""
    import apprise.url

    waits: list[float] = []
    monkeypatch.setattr(apprise.url.time, "sleep", waits.append)
    sender = Sender()
    ntfy = f"ntfy://127.0.0.1:{wecom_server.http.server_address[1]}/duban"
    for url in [bot_url(wecom_server)] * 3 + [ntfy] * 3:
        assert sender.send(url, message).ok
    assert [w for w in waits if w > 0] == []


# --- application messages ---------------------------------------------------------------

APP_SECRET = "Sx9-app-secret-value"


def app_url(server: WeComServer, targets: str = "zhangsan/@lisi") -> str:
    return f"dubanwecomapp://ww1234:{APP_SECRET}@1000002/{targets}?base={server.base}"


def test_app_message_fetches_a_token_once_and_posts_markdown(
    wecom_server: WeComServer, message: RenderedMessage
) -> None:
    sender = Sender()
    assert sender.send(app_url(wecom_server), message).ok
    assert sender.send(app_url(wecom_server), message).ok
    token_calls = [call for call in wecom_server.requests if call.path == "/cgi-bin/gettoken"]
    assert len(token_calls) == 1
    assert token_calls[0].query == {"corpid": "ww1234", "corpsecret": APP_SECRET}
    send = wecom_server.sends()[0]
    assert send.path == "/cgi-bin/message/send"
    assert send.query == {"access_token": wecom_server.token}
    assert send.body == {
        "agentid": 1000002,
        "msgtype": "markdown",
        "markdown": {"content": message.markdown},
        "touser": "lisi|zhangsan",
    }


def test_app_message_renews_an_expired_token(
    wecom_server: WeComServer, message: RenderedMessage
) -> None:
    sender = Sender()
    assert sender.send(app_url(wecom_server), message).ok
    wecom_server.replies.append((200, {"errcode": 42001, "errmsg": "access_token expired"}))
    assert sender.send(app_url(wecom_server), message).ok
    paths = [call.path for call in wecom_server.requests]
    assert paths == [
        "/cgi-bin/gettoken",
        "/cgi-bin/message/send",
        "/cgi-bin/message/send",
        "/cgi-bin/gettoken",
        "/cgi-bin/message/send",
    ]


def test_app_message_with_a_wrong_secret_is_permanent(
    wecom_server: WeComServer, message: RenderedMessage
) -> None:
    wecom_server.replies.append(
        (200, {"errcode": 40001, "errmsg": f"invalid credential {APP_SECRET}"})
    )
    outcome = Sender().send(app_url(wecom_server), message)
    assert not outcome.ok and outcome.permanent
    assert outcome.error is not None and "Secret" in outcome.error
    assert APP_SECRET not in outcome.error


def test_app_message_splits_at_2048_bytes(wecom_server: WeComServer) -> None:
    assert Sender().send(app_url(wecom_server, "%232/+3"), long_message(10)).ok
    sends = wecom_server.sends()
    assert len(sends) > 2
    assert all(len(call.body["markdown"]["content"].encode()) <= 2048 for call in sends)
    assert sends[0].body["toparty"] == "2" and sends[0].body["totag"] == "3"


def test_markdown_is_rendered_when_read_and_only_for_channels_that_read_it(
    tmp_path: Path, wecom_server: WeComServer, smtp_server: SMTPServer
) -> None:
    root = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, root)
    (root / "notifications" / "assigned" / "body.md").write_text(
        "{{ not_in_the_context }}", encoding="utf-8"
    )
    message = render("assigned", sample_context(), templates_dir=root)  # markdown not yet
    assert message.title and message.text and message.html
    with pytest.raises(jinja2.UndefinedError):
        _ = message.markdown
    with Sender() as sender:
        sender.prepare(smtp_server.url(), message)  # email reads title and HTML only
        with pytest.raises(jinja2.UndefinedError):
            sender.prepare(bot_url(wecom_server), message)
        outcome = sender.send(smtp_server.url(), message)
    assert outcome.ok, outcome.error
    assert wecom_server.requests == []
    # Once read, the markdown is the template's, kept (the second read renders nothing).
    good = render("assigned", sample_context(), templates_dir=DEFAULT_TEMPLATES_DIR)
    first = good.markdown
    assert first.startswith("## 交办通知") and good.markdown is first
