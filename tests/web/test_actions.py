"""What the pages do: each action reaches the task's event log with its actor;
attachments are stored and served to the right people only (refusals and
limits: ``tests/security/test_uploads.py``);
the desk's fixes (retry, new address, re-send, revoke) do what they say."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from models import (
    Attachment,
    AuditEntry,
    Contact,
    ContactChannel,
    Delivery,
    DeliveryItem,
    Department,
    ExtensionRequest,
    Notice,
    Task,
    TaskEvent,
)
from tests.db.conftest import HEALTH, World
from tests.web.conftest import AS_OF, csrf

Login = Callable[[TestClient, str], str]


def _events(session_factory: sessionmaker[Session], task_id: int) -> list[tuple[str, str]]:
    with session_factory() as session:
        return [
            (e.action, e.actor)
            for e in session.scalars(
                select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
            )
        ]


def test_a_department_acknowledges_reports_and_submits_then_a_coordinator_approves(
    client: TestClient,
    new_client: Callable[[], TestClient],
    world: World,
    link: Callable[..., str],
    login: Login,
    session_factory: sessionmaker[Session],
    web_settings: Settings,
) -> None:
    token = link(world.single)  # 市人社局, one numeric target (全科医生)
    base = f"/d/{token}/tasks/{world.single}"
    form = csrf(client, base)
    assert client.post(f"{base}/ack", data={"actor": "王五", "csrf_token": form}).status_code == 303
    page = client.get(base).text
    assert "已签收" in page and "城乡每万名居民有合格的全科医生" in page
    response = client.post(f"{base}/report", data={
        "note": "已招聘 120 名", "value:城乡每万名居民有合格的全科医生": "18",
        "csrf_token": form,
    })
    assert response.status_code == 303
    assert "进度已报送" in client.get(base).text
    response = client.post(
        f"{base}/submit",
        data={"note": "全部完成,见附件", "actor": "王五", "csrf_token": form},
        files=[("files", ("验收报告.pdf", b"%PDF-1.4 evidence", "application/pdf"))],
    )
    assert response.status_code == 303
    page = client.get(base).text
    assert "已报结" in page and "验收报告.pdf" in page

    staff = new_client()
    staff_form = login(staff, "coordinator")
    desk = staff.get("/desk").text
    assert f"href=\"/tasks/{world.single}\"" in desk and "全部完成,见附件" in desk
    response = staff.post(f"/desk/tasks/{world.single}/approve",
                          data={"csrf_token": staff_form, "back": "/desk"})
    assert response.status_code == 303 and response.headers["location"] == "/desk"

    assert _events(session_factory, world.single) == [
        ("assign", "系统"),
        ("acknowledge", "珠海市人力资源和社会保障局(王五)"),
        ("report", "珠海市人力资源和社会保障局(王五)"),  # the 经办人 is remembered
        ("submit", "珠海市人力资源和社会保障局(王五)"),
        ("approve", "督办科(coordinator-name)"),
    ]
    with session_factory() as session:
        attachment = session.scalars(select(Attachment)).one()
        assert attachment.filename == "验收报告.pdf" and attachment.size == 17
        assert (web_settings.data_dir / attachment.stored_path).read_bytes().startswith(b"%PDF")
    own = client.get(f"{base}/files/{attachment.id}")
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    assert "attachment" in own.headers["content-disposition"]
    assert staff.get(f"/tasks/{world.single}/files/{attachment.id}").status_code == 200
    other = link(world.lead)
    assert client.get(f"/d/{other}/tasks/{world.single}/files/{attachment.id}").status_code == 403
    assert client.get(f"/d/{other}/tasks/{world.lead}/files/{attachment.id}").status_code == 404


def test_a_refused_action_says_why(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    token = link(world.lead)
    base = f"/d/{token}/tasks/{world.lead}"
    form = csrf(client, base)
    response = client.post(f"{base}/submit", data={"note": "完成", "csrf_token": form})
    page = client.get(response.headers["location"]).text
    assert "未能办理" in page and "请先签收" in page


def test_an_extension_is_requested_by_link_and_decided_at_the_desk(
    client: TestClient,
    new_client: Callable[[], TestClient],
    world: World,
    link: Callable[..., str],
    login: Login,
    session_factory: sessionmaker[Session],
) -> None:
    token = link(world.lead)
    base = f"/d/{token}/tasks/{world.lead}"
    form = csrf(client, base)
    client.post(f"{base}/extend", data={"new_due": "2016-03-31", "reason": "工程延误",
                                        "actor": "李四", "csrf_token": form})
    with session_factory() as session:
        extension = session.scalars(select(ExtensionRequest)).one()
    staff = new_client()
    staff_form = login(staff, "coordinator")
    assert "工程延误" in staff.get("/desk").text
    staff.post(f"/desk/extensions/{extension.id}/approve",
               data={"note": "同意", "csrf_token": staff_form})
    with session_factory() as session:
        task = session.get(Task, world.lead)
        assert task is not None and task.due == date(2016, 3, 31)
    assert _events(session_factory, world.lead)[-2:] == [
        ("request_extension", "珠海市卫生和计划生育局(李四)"),
        ("approve_extension", "督办科(coordinator-name)"),
    ]


def test_a_coordinator_changes_a_due_date_with_a_reason(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    form = login(client, "coordinator")
    client.post(f"/desk/tasks/{world.lead}/due",
                data={"new_due": "2015-11-30", "reason": "市政府要求提前", "csrf_token": form})
    with session_factory() as session:
        task = session.get(Task, world.lead)
        assert task is not None and task.due == date(2015, 11, 30)
        event = session.scalars(select(TaskEvent).where(TaskEvent.action == "change_due")).one()
        assert event.note == "市政府要求提前" and event.actor == "督办科(coordinator-name)"
    assert "市政府要求提前" in client.get(f"/tasks/{world.lead}").text


def _failed_delivery(session_factory: sessionmaker[Session], task_id: int) -> tuple[int, int]:
    """A dead delivery of the task's 交办通知 to a liaison's address; (delivery, channel)."""
    with session_factory.begin() as session:
        department = session.scalars(select(Department).where(Department.name == HEALTH)).one()
        contact = Contact(key=f"{HEALTH}/liaison/张联络", department_id=department.id,
                          role="liaison", name="张联络", active=True)
        channel = ContactChannel(position=1, url="mailto://u:secret@mail.invalid",
                                 url_privacy="mailto://u:****@mail.invalid", scheme="mailto")
        contact.channels = [channel]
        session.add(contact)
        notice = Notice(task_id=task_id, step="assigned@2015-03-02", due_at=AS_OF,
                        status="failed", created_at=AS_OF, level=0, reason="发送失败")
        session.add(notice)
        session.flush()
        delivery = Delivery(channel_id=channel.id, contact_id=contact.id, day=AS_OF.date(),
                            batch=1, status="dead", attempts=6, not_before=AS_OF,
                            next_attempt_at=AS_OF, created_at=AS_OF, last_error="连接被拒绝")
        session.add(delivery)
        session.flush()
        session.add(DeliveryItem(delivery_id=delivery.id, notice_id=notice.id,
                                 channel_id=channel.id))
        return delivery.id, channel.id


def test_a_failed_delivery_is_retried_or_sent_to_a_new_address(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    delivery_id, channel_id = _failed_delivery(session_factory, world.lead)
    form = login(client, "coordinator")
    desk = client.get("/desk").text
    assert "送达受阻" in desk and "连接被拒绝" in desk and "mailto://u:****@mail.invalid" in desk
    assert "secret" not in desk
    dashboard = client.get("/dashboard").text  # shown where supervisors look, too
    assert "送达受阻" in dashboard and "连接被拒绝" in dashboard and "secret" not in dashboard
    client.post(f"/desk/deliveries/{delivery_id}/retry", data={"csrf_token": form})
    with session_factory() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.status == "failed"
        assert session.scalars(select(Notice.status)).one() == "pending"
    with session_factory.begin() as session:  # two parts of it reached the old address
        session.execute(update(Delivery).values(parts_sent=2, partial={"title": "t"}))
    response = client.post(f"/desk/channels/{channel_id}/replace",
                           data={"url": "mailto://u:newpass@mail.example.com",
                                 "csrf_token": form})
    assert response.status_code == 303
    with session_factory() as session:
        old = session.get(ContactChannel, channel_id)
        assert old is not None and not old.active
        new = session.scalars(select(ContactChannel).where(ContactChannel.active)).one()
        assert "newpass" not in new.url_privacy
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.channel_id == new.id
        assert (delivery.parts_sent, delivery.partial) == (0, None)  # all of it, anew
        assert {a.action for a in session.scalars(select(AuditEntry))} == {
            "retry_delivery", "replace_channel"}
    bad = client.post(f"/desk/channels/{new.id}/replace",
                      data={"url": "notascheme://x", "csrf_token": form})
    assert "未能办理" in client.get(bad.headers["location"]).text


def test_a_notice_is_resent_once_a_day(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    form = login(client, "coordinator")
    client.post(f"/desk/tasks/{world.lead}/resend", data={"csrf_token": form})
    again = client.post(f"/desk/tasks/{world.lead}/resend", data={"csrf_token": form})
    assert "今天已重新发送过" in client.get(again.headers["location"]).text
    with session_factory() as session:
        steps = session.scalars(select(Notice.step).where(Notice.task_id == world.lead)).all()
    assert steps == ["assigned@2015-06-01"]


def test_a_revoked_link_is_replaced_by_a_fresh_one(
    client: TestClient,
    new_client: Callable[[], TestClient],
    world: World,
    link: Callable[..., str],
    login: Login,
    session_factory: sessionmaker[Session],
) -> None:
    old = link(world.lead)
    form = login(client, "coordinator")
    with session_factory() as session:
        department_id = session.scalars(
            select(Department.id).where(Department.name == HEALTH)).one()
    client.post(f"/desk/departments/{department_id}/revoke", data={"csrf_token": form})
    liaison = new_client()
    assert liaison.get(f"/d/{old}").status_code == 403
    page = client.post(f"/desk/departments/{department_id}/link", data={"csrf_token": form}).text
    fresh = page.split('readonly value="', 1)[1].split('"', 1)[0]
    assert fresh.startswith("http://duban.test/d/")
    assert liaison.get(fresh.removeprefix("http://duban.test")).status_code == 200


def test_the_department_page_says_what_the_task_is_and_what_comes_next(
    client: TestClient, world: World, link: Callable[..., str]
) -> None:
    page = client.get(f"/d/{link(world.support)}/tasks/{world.support}").text
    assert "住院报销比例提高到75%以上" in page  # the measure's text
    assert "<b>配合</b>" in page and "须在牵头单位期限前提供材料" in page
    assert "珠海市卫生和计划生育局(牵头" in page and "香洲区(配合" in page
    assert "2015-12-17" in page  # its own due date
    assert "到期提醒" in page and "催办" in page  # the ladder ahead
    assert "每千名老人拥有养老床位:≥ 30张" in page


def test_a_blocked_delivery_is_redirected_to_another_contact(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    delivery_id, _channel = _failed_delivery(session_factory, world.lead)
    with session_factory.begin() as session:
        liaison = session.scalars(select(Contact).where(Contact.name == "张联络")).one()
        head = Contact(key=f"{HEALTH}/head/李局长", department_id=liaison.department_id,
                       role="head", name="李局长", active=True)
        head.channels = [ContactChannel(position=1, url="mailto://head@mail.example.com",
                                        url_privacy="mailto://head@mail.example.com",
                                        scheme="mailto")]
        session.add(head)
        session.flush()
        head_id = head.id
    form = login(client, "coordinator")
    assert "李局长(单位负责人)" in client.get("/desk").text
    response = client.post(f"/desk/deliveries/{delivery_id}/redirect",
                           data={"contact": str(head_id), "csrf_token": form})
    assert response.status_code == 303
    with session_factory() as session:
        old = session.get(Delivery, delivery_id)
        assert old is not None and old.status == "superseded" and old.items == []
        assert old.last_error == "已改发给李局长"
        new = session.scalars(select(Delivery).where(Delivery.contact_id == head_id)).one()
        assert new.status == "pending" and len(new.items) == 1
        assert session.scalars(select(Notice.status)).one() == "pending"
        assert "redirect_delivery" in {a.action for a in session.scalars(select(AuditEntry))}
    again = client.post(f"/desk/deliveries/{delivery_id}/redirect",
                        data={"contact": str(head_id), "csrf_token": form})
    assert "未能办理" in client.get(again.headers["location"]).text
