"""Every step renders in every format; user text cannot break HTML or markdown."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest

from notifications.render import (
    DEFAULT_TEMPLATES_DIR,
    REPORT_STEPS,
    STEPS,
    _environments,
    render,
)
from tests.notifications.conftest import sample_context, sample_item

SECRET_CONTACT = "mailto://user:S3cretPassw0rd@smtp.example.gov.cn?to=a@example.gov.cn"


def context_for(step: str) -> dict[str, Any]:
    overdue = step in {"urge", "escalate_yellow", "escalate_red"}
    item_step = "urge" if step in {"digest", "delivery_failed"} else step
    item = sample_item(
        step=item_step,
        step_label=STEPS[item_step],
        days_left=None if overdue else 10,
        days_overdue=4 if overdue else None,
        original_due="2015-11-30" if overdue else None,
        next_step_label="黄色督办单" if overdue else "催办",
        next_step_date="2016-01-08",
    )
    items = [item]
    if step == "digest":
        items.append(sample_item(task_id=102, step="due_reminder", step_label="到期提醒"))
    return sample_context(
        items=items,
        failed_step_label="交办通知",
        failed_contact=SECRET_CONTACT,
        failed_error="无法连接邮件服务器（ConnectionRefusedError）",
        failed_attempts=5,
    )


# Messages to a department; staff and failure reports have tests of their own below.
STAFF_STEPS = {"staff_digest", "lead_digest", "delivery_failed"}


@pytest.mark.parametrize("step", sorted(set(STEPS) - REPORT_STEPS - STAFF_STEPS))
def test_every_step_renders_what_who_when_next_and_how(step: str) -> None:
    message = render(step, context_for(step), templates_dir=DEFAULT_TEMPLATES_DIR)
    assert message.title.startswith("【") and "\n" not in message.title
    assert message.markdown.startswith("## ")
    assert message.html.startswith("<!DOCTYPE html>")
    for body in (message.text, message.html, message.markdown):
        assert "珠海市教育局" in body  # by whom
        assert "措施5 办好人民满意的教育" in body  # what
        assert "2015-12-31" in body  # when
        assert "2016-01-08" in body  # what happens next, and when
        assert "https://duban.example.gov.cn/tasks/101" in body  # how to act
        assert "市委社管部" in body


@pytest.mark.parametrize(
    ("step", "phrases"),
    [
        ("assigned", ["交办通知", "签收"]),
        ("ack_reminder", ["签收提醒", "尚未签收"]),
        ("due_reminder", ["到期提醒", "距截止还有 10 个工作日"]),
        ("report_reminder", ["报送提醒", "进度"]),
        ("urge", ["催办", "已逾期 4 个工作日", "原定 2015-11-30"]),
        ("escalate_yellow", ["黄色督办单", "负责人"]),
        ("escalate_red", ["红色督办单", "约谈"]),
        ("digest", ["【催办】", "【到期提醒】", "2 项督办事项"]),
        ("delivery_failed", ["未能送达", "交办通知", "5 次", "珠海市教育局"]),
    ],
)
def test_step_wording(step: str, phrases: list[str]) -> None:
    message = render(step, context_for(step), templates_dir=DEFAULT_TEMPLATES_DIR)
    for phrase in phrases:
        assert phrase in message.text, phrase
        assert phrase in message.html, phrase


def test_delivery_failed_shows_only_the_privacy_form_of_the_contact() -> None:
    message = render(
        "delivery_failed", context_for("delivery_failed"), templates_dir=DEFAULT_TEMPLATES_DIR
    )
    for body in (message.title, message.text, message.html, message.markdown):
        assert "S3cretPassw0rd" not in body
    assert "smtp.example.gov.cn" in message.text


def test_html_escapes_user_text() -> None:
    item = sample_item(measure_title='<script>alert("x")</script>教育')
    message = render(
        "urge",
        sample_context(items=[item], recipient_name="<b>张三</b>"),
        templates_dir=DEFAULT_TEMPLATES_DIR,
    )
    assert "<script>" not in message.html and "<b>张三" not in message.html
    assert "&lt;script&gt;" in message.html and "&lt;b&gt;张三" in message.html


def test_markdown_escapes_user_text() -> None:
    hostile = '**重点** [钓鱼](http://evil.example) # 标题\n> 引用 <font color="info">绿</font>'
    item = sample_item(measure_title=hostile, other_departments=["[市财政局](http://x)"])
    message = render(
        "due_reminder",
        sample_context(items=[item], recipient_name="**张三**", department="# 教育局"),
        templates_dir=DEFAULT_TEMPLATES_DIR,
    )
    md = message.markdown
    assert "**重点**" not in md and "＊＊重点＊＊" in md
    assert "](http://evil.example)" not in md and "［钓鱼］（http://evil.example）" in md
    assert "# 标题" not in md and "\n> 引用" not in md
    assert '<font color="info">' not in md
    assert "**张三**" not in md and "＃ 教育局" in md
    assert "［市财政局］" in md
    # The template's own markup is intact.
    assert md.startswith("## 到期提醒\n")
    assert "[任务 101](https://duban.example.gov.cn/tasks/101)" in md


def test_text_keeps_user_text_as_is() -> None:
    item = sample_item(measure_title="**重点** <b>")
    message = render("urge", sample_context(items=[item]), templates_dir=DEFAULT_TEMPLATES_DIR)
    assert "**重点** <b>" in message.text


def test_unsafe_links_are_not_rendered_as_links() -> None:
    item = sample_item(link="javascript:alert(1)")
    message = render("urge", sample_context(items=[item]), templates_dir=DEFAULT_TEMPLATES_DIR)
    for body in (message.text, message.html, message.markdown):
        assert "javascript:" not in body


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"step": "no_such_step"}, ValueError),
        ({"drop": "recipient_name"}, ValueError),
        ({"items": []}, ValueError),
        ({"item_drop": "link"}, ValueError),
    ],
)
def test_bad_contexts_are_refused(change: dict[str, str], error: type[Exception]) -> None:
    context = sample_context()
    step = change.get("step", "assigned")
    if "drop" in change:
        del context[change["drop"]]
    if "items" in change:
        context["items"] = []
    if "item_drop" in change:
        del context["items"][0][change["item_drop"]]
    with pytest.raises(error):
        render(step, context, templates_dir=DEFAULT_TEMPLATES_DIR)


def test_undefined_variables_are_errors(tmp_path: Path) -> None:
    """StrictUndefined: a template naming a variable the context lacks fails loudly."""
    step_dir = tmp_path / "notifications" / "urge"
    step_dir.mkdir(parents=True)
    for name in ("title.txt", "body.txt", "body.html", "body.md"):
        (step_dir / name).write_text("{{ no_such_variable }}", encoding="utf-8")
    with pytest.raises(jinja2.UndefinedError):
        render("urge", sample_context(), templates_dir=tmp_path)
    # A delivery_failed report without its fields is refused, naming what it lacks.
    with pytest.raises(ValueError, match="failed_step_label"):
        render("delivery_failed", sample_context(), templates_dir=DEFAULT_TEMPLATES_DIR)


def test_dates_may_be_date_objects() -> None:
    from datetime import date

    item = sample_item(due=date(2015, 12, 31), next_step_date=date(2016, 1, 8))
    message = render(
        "due_reminder", sample_context(items=[item]), templates_dir=DEFAULT_TEMPLATES_DIR
    )
    assert "2015-12-31" in message.markdown and "2016-01-08" in message.markdown


def test_long_titles_are_cut_so_mail_servers_accept_them(tmp_path: object) -> None:
    from notifications.render import DEFAULT_TEMPLATES_DIR, TITLE_MAX, render

    context = {
        "recipient_name": "督查室", "department": "珠海市" + "很长的单位名称" * 30,
        "sender": "督办科", "base_url": "http://duban.test",
        "items": [{"step": "urge", "step_label": "催办", "task_id": 1, "measure_number": 1,
                   "measure_title": "措施", "role_label": "牵头", "due": "2015-12-31",
                   "link": "http://duban.test/tasks/1"}],
    }
    title = render("urge", context, templates_dir=DEFAULT_TEMPLATES_DIR).title
    assert len(title) == TITLE_MAX and title.endswith("…")


# --- messages by reader -------------------------------------------------------------

def _visible(html: str) -> str:
    """The HTML's text as a mail reader shows it (tags dropped, entities kept)."""
    return re.sub(r"<[^>]+>", "", html)


def _staff_items() -> list[dict[str, Any]]:
    """A 督办科 day: two units of measure 10 and a single 督办件, one urged by hand."""
    return [
        sample_item(task_id=7, step="escalate_yellow", step_label="督办(黄色督办单)", level=2,
                    measure_number=10, measure_title="增强城乡基层群众自治活力",
                    department="香洲区", role_label="配合", days_left=None, days_overdue=5,
                    lead_departments=["珠海市民政局"], link="https://duban.example.gov.cn/tasks/7"),
        sample_item(task_id=8, step="escalate_red", step_label="督办(红色督办单,约谈)", level=3,
                    measure_number=10, measure_title="增强城乡基层群众自治活力",
                    department="斗门区", role_label="配合", days_left=None, days_overdue=10,
                    lead_departments=["珠海市民政局"], link="https://duban.example.gov.cn/tasks/8"),
        sample_item(task_id=9, step="manual_urge", step_label="督办科催办", level=1,
                    measure_number=1, measure_title="老旧小区加装电梯",
                    department="珠海市住房和城乡规划建设局", role_label="牵头",
                    source="领导批示 · 市府办批〔2027〕12号 · 张市长批示",
                    note="请本周内报送进展", days_left=None, days_overdue=2,
                    link="https://duban.example.gov.cn/tasks/9"),
    ]


def test_staff_read_each_unit_by_measure_with_rung_lateness_and_the_staff_link() -> None:
    context = sample_context(recipient_name="督办科", department="督办科", items=_staff_items())
    message = render("staff_digest", context, templates_dir=DEFAULT_TEMPLATES_DIR)
    assert message.title.startswith("【督办情况】3 项任务：红色督办 1 项、黄色督办 1 项、催办 1 项")
    for body in (message.text, _visible(message.html), message.markdown):
        # The measure with the highest rung first, its lead named; each unit its own.
        assert body.index("措施10 增强城乡基层群众自治活力") < body.index("措施1 老旧小区加装电梯")
        assert "牵头：珠海市民政局" in body
        assert body.index("斗门区") < body.index("香洲区")  # red before yellow
        assert "斗门区（配合）" in body and "香洲区（配合）" in body
        assert "珠海市住房和城乡规划建设局（牵头）" in body
        assert "已逾期 10 个工作日" in body and "已逾期 5 个工作日" in body
        assert "请本周内报送进展" in body  # the 督办科催办's note
        assert "市府办批〔2027〕12号" in body  # the 督办件's source and 文号
        assert "https://duban.example.gov.cn/tasks/7" in body and "登录后查看" in body
        assert "你单位" not in body and "珠海市教育局" not in body
    for rung in ("【红色督办】", "【黄色督办】", "【催办】"):
        assert rung in message.text
    assert '<font color="warning">【红色督办】</font>' in message.markdown
    assert "[查看任务 7](https://duban.example.gov.cn/tasks/7)" in message.markdown


def test_a_lead_department_reads_its_supporters_with_read_only_links() -> None:
    items = _staff_items()[:2]
    message = render("lead_digest", sample_context(department="珠海市民政局", items=items),
                     templates_dir=DEFAULT_TEMPLATES_DIR)
    assert "珠海市民政局牵头措施中 2 项配合任务" in message.title
    for body in (message.text, _visible(message.html), message.markdown):
        assert "你单位牵头的措施中" in body and "只读" in body
        assert "香洲区（配合）" in body and "斗门区（配合）" in body
    # Its own tasks and its supporters' in one day's digest: two parts.
    own = sample_item(department="珠海市民政局", role_label="牵头")
    mixed = render("digest", sample_context(department="珠海市民政局", items=[own],
                                            watched_items=items),
                   templates_dir=DEFAULT_TEMPLATES_DIR)
    for body in (mixed.text, _visible(mixed.html), mixed.markdown):
        assert "责任单位：珠海市民政局（牵头）" in body
        own_at, part_at = body.index("责任单位：珠海市民政局"), body.index("配合单位有 2 项任务")
        assert own_at < part_at < body.index("香洲区（配合）")


def test_a_failure_report_names_every_department_and_each_report() -> None:
    one = {"failed_step_label": "督办提醒", "failed_contact": SECRET_CONTACT,
           "failed_error": "550 unknown", "failed_attempts": 1, "failed_recipient": "民政联络员",
           "failed_departments": ["万山海洋开发试验区", "斗门区", "珠海市民政局"],
           "failed_tasks": 3, "failed_link": "https://duban.example.gov.cn/desk/deliveries/5"}
    context = sample_context(department="督办科", items=[], failures=[one, {**one,
                             "failed_recipient": "督查室", "failed_departments": ["香洲区"]}])
    message = render("delivery_failed", context, templates_dir=DEFAULT_TEMPLATES_DIR)
    assert message.title == "【送达失败】2 条通知未能送达"
    for body in (message.text, _visible(message.html), message.markdown):
        assert "万山海洋开发试验区、斗门区、珠海市民政局" in body and "共 3 项任务" in body
        assert "发给督查室的" in body and "/desk/deliveries/5" in body
        assert "S3cretPassw0rd" not in body


def test_the_way_in_is_never_empty_without_a_base_url() -> None:
    context = sample_context(base_url="", items=[sample_item(link="")])
    message = render("urge", context, templates_dir=DEFAULT_TEMPLATES_DIR)
    for body in (message.text, _visible(message.html), message.markdown):
        assert "办理入口：登录督办系统，查看任务 101" in body
        assert "办理入口：\n" not in body + "\n" and "请登录督办系统办理：" not in body


def test_a_manual_urge_of_a_single_item_names_its_unit_note_and_source() -> None:
    item = sample_item(step="manual_urge", step_label="督办科催办", level=1, task_id=9,
                       measure_number=1, measure_title="老旧小区加装电梯",
                       department="珠海市住房和城乡规划建设局", role_label="牵头",
                       source="领导批示 · 市府办批〔2027〕12号 · 张市长批示",
                       note="请本周内报送进展", link="https://duban.example.gov.cn/tasks/9?k=T")
    context = sample_context(department="珠海市住房和城乡规划建设局", items=[item])
    message = render("manual_urge", context, templates_dir=DEFAULT_TEMPLATES_DIR)
    assert message.title.startswith(
        "【督办科催办】措施1 老旧小区加装电梯（珠海市住房和城乡规划建设局牵头")
    for body in (message.text, _visible(message.html), message.markdown):
        assert "督办科现就以下任务催办" in body
        assert "来源：领导批示 · 市府办批〔2027〕12号 · 张市长批示" in body
        assert "责任单位：珠海市住房和城乡规划建设局（牵头）" in body
        assert "请本周内报送进展" in body and "tasks/9?k=T" in body


def test_a_department_is_told_its_links_need_no_sign_in_and_staff_to_sign_in() -> None:
    department = render("urge", sample_context(), templates_dir=DEFAULT_TEMPLATES_DIR)
    staff = render(
        "staff_digest",
        sample_context(recipient_name="督办科", department="督办科", reader="coordinator",
                       items=_staff_items()),
        templates_dir=DEFAULT_TEMPLATES_DIR,
    )
    for body in (department.text, _visible(department.html), department.markdown):
        assert "本单位专用链接" in body and "无需登录" in body and "请登录" not in body
    for body in (staff.text, _visible(staff.html), staff.markdown):
        assert "请登录督办系统查看" in body and "本单位专用链接" not in body


@pytest.fixture
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Jinja's per-user cache directory under ``tmp_path``; environments built afresh."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _environments.cache_clear()
    yield tmp_path
    _environments.cache_clear()


def test_a_new_process_loads_compiled_templates_instead_of_compiling(
    private_temp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = render("assigned", sample_context(), templates_dir=DEFAULT_TEMPLATES_DIR)
    assert first.markdown  # rendered, and its template compiled, when first read
    _environments.cache_clear()  # as a new process would start

    def no_compiling(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(jinja2.Environment, "compile", no_compiling)
    assert render("assigned", sample_context(), templates_dir=DEFAULT_TEMPLATES_DIR) == first


def test_a_changed_template_is_compiled_again(private_temp: Path, tmp_path: Path) -> None:
    root = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, root)
    title = root / "notifications" / "assigned" / "title.txt"
    render("assigned", sample_context(), templates_dir=root)
    title.write_text("改过的标题", encoding="utf-8")
    _environments.cache_clear()
    assert render("assigned", sample_context(), templates_dir=root).title == "改过的标题"


def test_rendering_works_when_compiled_templates_cannot_be_kept(
    private_temp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", disk_full)
    message = render("assigned", sample_context(), templates_dir=DEFAULT_TEMPLATES_DIR)
    assert message.title
