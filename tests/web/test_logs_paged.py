"""The escalation and delivery logs as people read them: 50 a page with next
and previous, filtered in the database (department, measure, level, dates,
status), recipients by name and role, the address only in its privacy form on
a detail page, and no internal ids (the small world with 60 more 催办, each
delivered to 香洲区's liaison; SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.reports.choices import (
    MAX_SUGGESTIONS,
    MeasureQuery,
    departments_with_tasks,
    measure_matches,
    measure_suggestions,
    parse_measure_query,
)
from duban.services.reports.delivery_log import delivery_page
from duban.services.reports.escalation_log import escalation_log, escalation_page
from models import Contact, Delivery, DeliveryItem, Department, Measure, Notice, Task
from tests.db.conftest import XIANGZHOU, at
from tests.db.outbox_world import add_contacts, liaison_url
from tests.reports.conftest import History

ZONE = ZoneInfo("Asia/Shanghai")
EXTRA = 60


def _sixty_urges(session_factory: sessionmaker[Session], task_id: int) -> int:
    """60 催办 on ``task_id`` from 2016-02-01 on, every other one delivered (sent)
    to its department's liaison; returns the department's id."""
    add_contacts(session_factory)
    with session_factory.begin() as session:
        department_id = session.get_one(Task, task_id).department_id
        liaison = session.scalars(
            select(Contact).where(Contact.department_id == department_id,
                                  Contact.role == "liaison")).one()
        for n in range(EXTRA):
            day = date(2016, 2, 1) + timedelta(days=n)
            notice = Notice(task_id=task_id, step=f"manual_urge@{day}", due_at=at(str(day)),
                            status="sent" if n % 2 else "pending", created_at=at(str(day)),
                            level=1)
            session.add(notice)
            delivery = Delivery(channel_id=liaison.channels[0].id, contact_id=liaison.id,
                                day=day, status="sent" if n % 2 else "failed",
                                not_before=at(str(day)), next_attempt_at=at(str(day)),
                                created_at=at(str(day)), title=f"催办{n}")
            session.add(delivery)
            session.flush()
            session.add(DeliveryItem(delivery_id=delivery.id, notice_id=notice.id,
                                     channel_id=liaison.channels[0].id))
    return department_id


def test_logs_are_paged_and_filtered_in_the_database(
    history_client: tuple[TestClient, History], session_factory: sessionmaker[Session]
) -> None:
    _client, history = history_client
    _sixty_urges(session_factory, history.world.district)
    everything = escalation_log(session_factory, zone=ZONE)
    first = escalation_page(session_factory, zone=ZONE)
    second = escalation_page(session_factory, zone=ZONE, offset=50)
    assert first.total == len(everything) > 50 and len(first.entries) == 50
    assert [e.id for e in first.entries + second.entries] == [e.id for e in everything]
    assert (first.number, first.pages, second.number) == (1, 2, 2)
    with session_factory() as session:
        m9 = session.get_one(Task, history.world.single).measure_id
    only_m9 = escalation_page(session_factory, zone=ZONE, measure_id=m9)
    assert only_m9.total == 1 and only_m9.entries[0].department != XIANGZHOU  # 人社局's 催办
    sent = escalation_page(session_factory, zone=ZONE, status="sent", department=XIANGZHOU,
                           since=date(2016, 2, 1), until=date(2016, 2, 10))
    assert sent.total == 5 and all(e.status == "sent" for e in sent.entries)
    recipient = sent.entries[0].recipients[0]
    assert (recipient.role_label, recipient.department) == ("联络员", XIANGZHOU)
    deliveries = delivery_page(session_factory, zone=ZONE, status="failed", department=XIANGZHOU)
    assert deliveries.total == 30 and deliveries.entries[0].role_label == "联络员"
    assert deliveries.entries[0].task_labels[0][1] == f"措施8 · {XIANGZHOU}"
    assert delivery_page(session_factory, zone=ZONE, department="珠海市民政局").total == 0
    m8 = escalation_log(session_factory, zone=ZONE)[0].measure_id
    assert delivery_page(session_factory, zone=ZONE, measure_id=m8, level=1).total == EXTRA
    assert delivery_page(session_factory, zone=ZONE, measure_id=m9).total == 0
    assert delivery_page(session_factory, zone=ZONE, level=3).total == 0


def test_log_pages_show_names_and_roles_and_the_address_only_in_detail(
    history_client: tuple[TestClient, History],
    session_factory: sessionmaker[Session],
    login: Callable[[TestClient, str], str],
) -> None:
    client, history = history_client
    department_id = _sixty_urges(session_factory, history.world.district)
    address = liaison_url(department_id)
    with client:
        login(client, "coordinator")
        page = client.get("/dashboard/escalations").text
        rows = re.findall(r'<tr class="level-\d">', page)
        assert len(rows) == 50 and 'rel="next"' in page and 'rel="prev"' not in page
        assert "联络员" in page and address not in page and "mailto" not in page
        assert not re.search(r">[^<]*#\d", page)  # no internal ids as text
        second = client.get("/dashboard/escalations?page=2").text
        assert 'rel="prev"' in second and 'rel="next"' not in second
        assert len(re.findall(r'<tr class="level-\d">', second)) == len(
            escalation_log(session_factory, zone=ZONE)) - 50
        filtered = client.get("/dashboard/escalations", params={
            "department": XIANGZHOU, "status": "sent", "since": "2016-02-01",
            "until": "2016-02-10"}).text
        assert len(re.findall(r'<tr class="level-\d">', filtered)) == 5
        detail = re.search(r'href="(/dashboard/escalations/\d+)"', filtered)
        assert detail is not None
        shown = client.get(detail.group(1)).text
        assert address in shown and "联络员" in shown and XIANGZHOU in shown

        log = client.get("/desk/deliveries").text
        assert log.count("<td class=\"nowrap\">2016-") == 50 and 'rel="next"' in log
        assert address not in log and "联络员" in log and not re.search(r">[^<]*#\d", log)
        failed = client.get("/desk/deliveries", params={"status": "failed",
                                                        "department": XIANGZHOU}).text
        assert "共 30 条" in failed
        about = client.get("/desk/deliveries", params={"measure": "措施8", "level": 1}).text
        assert f"共 {EXTRA} 条" in about and "措施“措施8”:措施8 保障和改善民生" in about
        one = re.search(r'href="(/desk/deliveries/\d+)"', failed)
        assert one is not None
        delivery = client.get(one.group(1)).text
        assert address in delivery and f"措施8 · {XIANGZHOU}" in delivery
        assert not re.search(r">[^<]*#\d", delivery)


@pytest.mark.parametrize(("typed", "asked"), [
    ("12", MeasureQuery(number=12)),
    (" 措施12 ", MeasureQuery(number=12)),
    ("第12项", MeasureQuery(number=12)),
    ("措施12 推进医疗卫生改革", MeasureQuery(number=12)),  # a suggestion picked
    ("民生", MeasureQuery(words="民生")),
    ("2016年", MeasureQuery(words="2016年")),
    ("", None),
    ("   ", None),
], ids=["number", "措施N", "第N项", "suggestion", "words", "words-with-digits", "empty", "blank"])
def test_a_typed_measure_filter_reads_a_number_or_words(
    typed: str, asked: MeasureQuery | None
) -> None:
    assert parse_measure_query(typed) == asked


def test_the_escalation_log_filters_by_a_typed_measure_and_says_what_it_matched(
    history_client: tuple[TestClient, History],
    session_factory: sessionmaker[Session],
    login: Callable[[TestClient, str], str],
) -> None:
    client, history = history_client
    _sixty_urges(session_factory, history.world.district)  # on measure 8
    every = len(escalation_log(session_factory, zone=ZONE))
    login(client, "coordinator")

    def rows(html: str) -> int:
        return int(re.search(r"共 (\d+) 条", html).group(1)) if "共 " in html else 0  # type: ignore[union-attr]

    page = client.get("/dashboard/escalations").text
    # A small plan: its measures are suggested as the filter is typed (no <select>).
    assert '<datalist id="measure-suggestions">' in page and '<select name="measure"' not in page
    assert '<option value="措施8 保障和改善民生">' in page
    m8 = [e for e in escalation_log(session_factory, zone=ZONE) if e.measure == 8]
    for typed in ("8", "措施8", "措施8 保障和改善民生", "民生"):
        found = client.get("/dashboard/escalations", params={"measure": typed}).text
        assert rows(found) == len(m8) >= EXTRA, typed
        assert f"措施“{typed}”:措施8 保障和改善民生" in found
    m9 = client.get("/dashboard/escalations", params={"measure": "9"}).text
    assert rows(m9) == every - len(m8) == 1
    none = client.get("/dashboard/escalations", params={"measure": "99"}).text
    assert rows(none) == 0 and "没有匹配的措施" in none
    both = client.get("/dashboard/escalations", params={"measure": "医"}).text  # 医疗 in 9's title
    assert rows(both) == 1 and "措施9" in both
    assert escalation_page(session_factory, zone=ZONE,
                           measure=MeasureQuery(words="保障")).total == len(m8)


def test_a_large_plans_measures_are_not_listed_in_the_filter(
    session_factory: sessionmaker[Session], history_client: tuple[TestClient, History]
) -> None:
    _client, history = history_client
    assert len(measure_suggestions(session_factory)) == 2
    with session_factory.begin() as session:
        plan_id = session.get_one(Task, history.world.lead).measure.plan_id
        session.add_all([Measure(plan_id=plan_id, number=100 + n, label=str(100 + n),
                                 title=f"措施{100 + n}", text="", source_line=1,
                                 source_end_line=1)
                         for n in range(MAX_SUGGESTIONS)])
    assert measure_suggestions(session_factory) == []
    assert measure_matches(session_factory, MeasureQuery(number=105)).labels == ["措施105 措施105"]


@pytest.mark.parametrize("filters", [
    {},
    {"level": 0},
    {"level": 2},
    {"department": XIANGZHOU},
    {"department": "珠海市人力资源和社会保障局"},
    {"measure": MeasureQuery(number=8)},
    {"measure": MeasureQuery(words="医疗")},
    {"status": "sent", "since": date(2016, 2, 1), "until": date(2016, 2, 10)},
    {"status": "failed"},
    {"department": XIANGZHOU, "measure": MeasureQuery(number=9)},
], ids=["all", "level-0", "level-2", "department", "other-department", "measure-number",
        "measure-words", "status-dates", "status", "department-and-measure"])
def test_the_escalation_pages_count_is_the_number_of_steps_it_lists(
    history_client: tuple[TestClient, History],
    session_factory: sessionmaker[Session],
    filters: dict[str, object],
) -> None:
    # The count joins only the tables a filter names; it must still be the
    # number of steps listed, whichever filters are given.
    _client, history = history_client
    _sixty_urges(session_factory, history.world.district)
    whole = escalation_page(session_factory, zone=ZONE, limit=1000, **filters)  # type: ignore[arg-type]
    assert whole.total == len(whole.entries)
    with session_factory() as session:
        m9 = session.get_one(Task, history.world.single).measure_id
    by_id = escalation_page(session_factory, zone=ZONE, measure_id=m9, limit=1000)
    assert by_id.total == len(by_id.entries) == 1


def test_the_department_filter_offers_exactly_the_departments_with_tasks(
    history_client: tuple[TestClient, History], session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        with_tasks = set(session.scalars(
            select(Department.name).join(Task, Task.department_id == Department.id)))
        every = set(session.scalars(select(Department.name)))
    offered = [name for _id, name in departments_with_tasks(session_factory)]
    assert set(offered) == with_tasks and len(offered) == len(with_tasks)
    assert with_tasks < every  # the directory has departments without tasks
