"""The department's pages, phone first: actions at the top of a task, the
经办人 asked once per link, each light's reason in words, tabs that keep a
submitted or approved task in view, the 退回 reason on top, attachments shown
in the browser when they are images or PDFs (judged by their bytes)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Task, TaskEvent
from tests.db.conftest import World
from tests.web.conftest import csrf
from tests.web.test_desk_queue import LEAKS, _visible

Login = Callable[[TestClient, str], str]
# The smallest valid PNG: 1x1, one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _actors(session_factory: sessionmaker[Session], task_id: int) -> list[str]:
    with session_factory() as session:
        return list(session.scalars(
            select(TaskEvent.actor).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)))


def test_a_department_is_asked_its_name_once_and_finds_its_task_under_each_tab(
    client: TestClient,
    new_client: Callable[[], TestClient],
    world: World,
    link: Callable[..., str],
    login: Login,
    session_factory: sessionmaker[Session],
) -> None:
    token = link(world.single)
    home, base = f"/d/{token}", f"/d/{token}/tasks/{world.single}"
    page = client.get(base).text
    # The action comes before the measure's text; the name is asked in the form.
    assert page.index('id="ack-form"') < page.index("措施原文")
    assert 'name="actor"' in page
    # 接下来: each step once, with whom it reaches (not 催办(催办(…)) as it once read).
    ahead = page[page.index("<h2>接下来</h2>"):]
    ahead = ahead[: ahead.index("</ul>")]
    assert "催办(发给联络员、负责人)" in ahead and "督办(红色督办单,约谈)(发给督查室)" in ahead
    assert "催办(催办" not in ahead
    form = csrf(client, base)
    client.post(f"{base}/ack", data={"actor": "王五", "csrf_token": form})
    page = client.get(base).text
    assert "经办人:<b>王五</b>" in page and 'name="actor"' not in page
    assert "缺报进度1次" in page  # the yellow light's reason, in words (as of 2015-06-01)
    client.post(f"{base}/report", data={"note": "已招聘", "csrf_token": form})
    assert 'value="王五"' in client.get(f"{base}?who=change").text  # 更换 asks again
    response = client.post(f"{base}/submit", data={"note": "已完成", "csrf_token": form})
    assert response.status_code == 303
    assert _actors(session_factory, world.single)[1:] == [
        "珠海市人力资源和社会保障局(王五)", "珠海市人力资源和社会保障局(王五)",
        "珠海市人力资源和社会保障局(王五)"]

    # Submitted: gone from 待办理, shown under 已报结 with what happens next.
    assert f"tasks/{world.single}" not in client.get(home).text
    submitted = client.get(f"{home}?tab=submitted").text
    assert f"tasks/{world.single}" in submitted and "已报结 <b>1</b>" in submitted
    assert "等待督办科审核" in client.get(base).text

    # Returned: the reason is the first thing on the task page, and in the list.
    staff = new_client()
    token_staff = login(staff, "coordinator")
    staff.post(f"/desk/tasks/{world.single}/return",
               data={"csrf_token": token_staff, "reason": "缺少验收报告,请补充"})
    page = client.get(base).text
    assert page.index("缺少验收报告,请补充") < page.index('id="actions"')
    assert "已退回,请修改后重新报结" in client.get(home).text
    client.post(f"{base}/submit", data={"note": "已补充验收报告", "csrf_token": form})
    staff.post(f"/desk/tasks/{world.single}/approve", data={"csrf_token": token_staff})
    approved = client.get(f"{home}?tab=approved").text
    assert f"tasks/{world.single}" in approved and "已办结 <b>1</b>" in approved
    for html in (client.get(home).text, approved, client.get(base).text):
        assert not LEAKS.search(_visible(html)), LEAKS.search(_visible(html))

    # The name is this link's: another department's link on the same phone asks again.
    other = link(world.lead)
    assert 'name="actor"' in client.get(f"/d/{other}/tasks/{world.lead}").text


def test_images_and_pdfs_are_shown_inline_everything_else_downloads(
    client: TestClient, new_client: Callable[[], TestClient], world: World,
    link: Callable[..., str], login: Login,
) -> None:
    token = link(world.lead)
    base = f"/d/{token}/tasks/{world.lead}"
    form = csrf(client, base)
    client.post(f"{base}/ack", data={"csrf_token": form})
    client.post(f"{base}/submit", data={"note": "见附件", "csrf_token": form}, files=[
        ("files", ("现场照片.png", PNG, "image/png")),
        ("files", ("验收报告.pdf", b"%PDF-1.4 report", "application/pdf")),
        ("files", ("说明.txt", "说明".encode(), "text/plain")),
        ("files", ("伪装.png", b"<script>alert(1)</script>", "image/png")),
    ])
    page = client.get(base).text
    found = re.findall(r"附件:(\S+) .*?/files/(\d+)\">下载", page, re.S)
    ids = {name: number for name, number in found}
    assert set(ids) == {"现场照片.png", "验收报告.pdf", "说明.txt", "伪装.png"}
    assert f'<img src="{base}/files/{ids["现场照片.png"]}/view"' in page

    image = client.get(f"{base}/files/{ids['现场照片.png']}/view")
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith("inline")
    pdf = client.get(f"{base}/files/{ids['验收报告.pdf']}/view")
    assert pdf.headers["content-type"] == "application/pdf"
    for name in ("说明.txt", "伪装.png"):  # not an image or PDF by its bytes: a download
        response = client.get(f"{base}/files/{ids[name]}/view")
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment")
    staff = new_client()
    login(staff, "supervisor")
    shown = staff.get(f"/tasks/{world.lead}/files/{ids['现场照片.png']}/view")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
    other = link(world.single)
    assert client.get(
        f"/d/{other}/tasks/{world.lead}/files/{ids['现场照片.png']}/view").status_code == 403


def test_a_lead_department_reads_a_supporting_task_but_cannot_act_on_it(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    lead = link(world.lead)  # 市卫计局 leads measure 8; 市民政局 supports it
    opened = client.get(f"/tasks/{world.support}?k={lead}")
    assert opened.status_code == 303
    page = client.get(opened.headers["location"])
    assert page.status_code == 200
    text = _visible(page.text)
    assert "珠海市民政局" in text and "只读" in text and "办理记录" in text
    assert "<form" not in page.text and 'id="actions"' not in page.text
    token = csrf(client, f"/d/{lead}/tasks/{world.lead}")  # its own task has forms
    for action in ("ack", "report", "extend"):
        refused = client.post(f"/d/{lead}/tasks/{world.support}/{action}",
                              data={"csrf_token": token, "note": "代办", "actor": "王五"})
        assert refused.status_code == 403, action
    # Only the lead: a supporter cannot read the lead's task, nor another unit's.
    supporter = link(world.support)
    assert client.get(f"/d/{supporter}/tasks/{world.lead}").status_code == 403
    assert client.get(f"/d/{link(world.single)}/tasks/{world.support}").status_code == 403
    # Its own task still has its forms.
    assert 'id="ack-form"' in client.get(f"/d/{lead}/tasks/{world.lead}").text
    # Its list shows its supporters' open tasks apart from its own; a supporter's does not.
    home = client.get(f"/d/{lead}").text
    part = home[home.index('id="supporters"'):]
    assert f"/d/{lead}/tasks/{world.support}" in part and "珠海市民政局" in part
    assert f"/d/{lead}/tasks/{world.district}" in part and f"tasks/{world.lead}" not in part
    assert 'id="supporters"' not in client.get(f"/d/{supporter}").text


def test_a_cancelled_task_stays_in_view_under_its_tab_without_actions(
    client: TestClient,
    world: World,
    link: Callable[..., str],
    login: Login,
    session_factory: sessionmaker[Session],
) -> None:
    from duban.services.plans.withdrawal import cancel_withdrawn
    from models import Task
    from tests.web.conftest import AS_OF

    with session_factory() as session:
        measure_id = session.scalar(select(Task.measure_id).where(Task.id == world.single))
    assert measure_id is not None
    # The plan no longer yields the task (measure 9 withdrawn from this unit).
    done = cancel_withdrawn(session_factory, measure_id=measure_id, measure_number=9,
                            yielded=[], task_ids={}, now=AS_OF)
    assert [c.task_id for c in done] == [world.single]
    token = link(world.single)
    home = client.get(f"/d/{token}?tab=cancelled").text
    assert "已撤销 <b>1</b></a>" in home and "待办理 <b>0</b>" in home
    assert f"/d/{token}/tasks/{world.single}" in home
    page = client.get(f"/d/{token}/tasks/{world.single}").text
    assert "工作方案修订后已撤销,不再提醒或督办" in page
    assert 'id="ack-form"' not in page and "已撤销,不再提醒或督办。" in page
    assert "<dd>已撤销 " in page and "绿灯" not in page  # no light of its own
    login(client, "coordinator")
    desk = client.get(f"/tasks/{world.single}").text
    assert "工作方案修订后已撤销" in desk and "撤销" in desk


def _sixty_more_pairs(session_factory: sessionmaker[Session], world: World) -> None:
    """60 more deadlines of measure 8, each a lead task of 市卫计局 and a
    supporting task of 市民政局 due a day apart (the first 30 past due on the
    app's day, 2015-06-01)."""
    with session_factory.begin() as session:
        lead = session.get_one(Task, world.lead)
        support = session.get_one(Task, world.support)
        for n in range(60):
            due = date(2015, 5, 2) + timedelta(days=n)
            for model in (lead, support):
                session.add(Task(
                    measure_id=model.measure_id, department_id=model.department_id,
                    named_as=model.named_as, role=model.role, deadline=due, due=due,
                    original_due=due, state="assigned", assigned_at=model.assigned_at,
                    version=1))


def _listed(html: str, token: str, start: str, end: str | None = None) -> list[int]:
    part = html[html.index(start):html.index(end) if end else None]
    return [int(i) for i in re.findall(rf'href="/d/{re.escape(token)}/tasks/(\d+)"', part)]


def test_both_lists_of_a_lead_department_come_50_a_page_each_keeping_the_others_page(
    client: TestClient, world: World, link: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    _sixty_more_pairs(session_factory, world)
    token = link(world.lead)
    home = client.get(f"/d/{token}").text
    # Its own open tasks: 62, overdue first; its supporters': 62 (2 of the world + 60).
    assert "待办理 <b>62</b>" in home and '牵头措施的配合单位任务 <b>62</b>' in home
    own = _listed(home, token, '<ul class="tasks">', 'id="supporters"')
    watched = _listed(home, token, 'id="supporters"')
    assert len(own) == 50 and len(watched) == 50
    assert "第 1–50 条,共 62 条(第 1/2 页)" in home
    with session_factory() as session:
        dues = dict(session.execute(select(Task.id, Task.due).where(Task.id.in_(watched))).all())
    shown = [dues[i] for i in watched]
    overdue = [d for d in shown if d < date(2015, 6, 1)]
    assert shown[:len(overdue)] == sorted(overdue) and shown == overdue + sorted(
        shown[len(overdue):])
    # Each pager moves its own list and keeps the other's page.
    nexts = re.findall(r'rel="next" href="([^"]+)"', home)
    assert len(nexts) == 2
    second_own = next(u for u in nexts if "watch_page" not in u).replace("&amp;", "&")
    second_watched = next(u for u in nexts if "watch_page" in u).replace("&amp;", "&")
    assert second_watched.endswith("#supporters")
    both = client.get(second_own.replace("?", "?watch_page=2&")).text
    assert len(_listed(both, token, '<ul class="tasks">', 'id="supporters"')) == 12
    assert len(_listed(both, token, 'id="supporters"')) == 12
    links = [parse_qs(urlsplit(u.replace("&amp;", "&")).query)
             for u in re.findall(r'rel="prev" href="([^"]+)"', both)]
    assert sorted((q["page"], q["watch_page"]) for q in links) == [(["1"], ["2"]), (["2"], ["1"])]
    later = client.get(second_watched.split("#")[0]).text
    assert _listed(later, token, '<ul class="tasks">', 'id="supporters"') == own
    rest = _listed(later, token, 'id="supporters"')
    assert len(rest) == 12 and not set(rest) & set(watched)
    # Under another tab its supporters' list is not shown.
    assert 'id="supporters"' not in client.get(f"/d/{token}?tab=submitted").text
