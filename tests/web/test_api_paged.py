"""The JSON API's lists come a page at a time: ``limit`` items from
``offset`` with the ``total`` matching, a default and a maximum ``limit``;
the pages together are the whole list in its order (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from duban.services.calendar.data import build_work_calendar
from duban.services.tasks.queries import list_tasks, task_page
from duban.web.api import DEFAULT_LIMIT, MAX_LIMIT
from tests.db.conftest import World
from tests.reports.conftest import History
from tests.web.conftest import AS_OF
from tests.web.test_logs_paged import EXTRA, _sixty_urges


def _walk(client: TestClient, path: str, limit: int, key: str = "items") -> list[dict]:
    seen: list[dict] = []
    offset = 0
    while True:
        body = client.get(f"{path}{'&' if '?' in path else '?'}limit={limit}&offset={offset}")
        assert body.status_code == 200, body.text
        page = body.json()
        assert (page["offset"], page["limit"]) == (offset, limit)
        assert len(page[key]) == min(limit, max(0, page["total"] - offset))
        seen += page[key]
        offset += limit
        if offset >= page["total"]:
            return seen


def test_tasks_come_in_pages_that_add_up_to_the_whole_list(
    client: TestClient, world: World, login: Callable[[TestClient, str], str]
) -> None:
    login(client, "supervisor")
    whole = client.get("/api/tasks").json()
    assert whole["limit"] == DEFAULT_LIMIT and whole["offset"] == 0
    assert whole["total"] == len(whole["items"]) == 5
    ids = [t["id"] for t in whole["items"]]
    assert [t["id"] for t in _walk(client, "/api/tasks", 2)] == ids
    beyond = client.get("/api/tasks?offset=10").json()
    assert (beyond["total"], beyond["items"]) == (5, [])
    # A filter on the day's status pages what matches it, and counts it.
    red = client.get("/api/tasks?overdue=true&limit=1").json()
    assert red["total"] == len(client.get("/api/tasks?overdue=true").json()["items"])
    for wrong in ("limit=0", f"limit={MAX_LIMIT + 1}", "offset=-1"):
        assert client.get(f"/api/tasks?{wrong}").status_code == 422, wrong


def test_a_task_page_is_the_same_slice_of_the_list_and_counts_the_filter(
    session_factory: sessionmaker[Session], world: World
) -> None:
    calendar = build_work_calendar([])
    every = list_tasks(session_factory, as_of=AS_OF.date(), calendar=calendar)
    page = task_page(session_factory, as_of=AS_OF.date(), calendar=calendar, offset=1, limit=3)
    assert page.total == len(every) and [v.id for v in page.entries] == [v.id for v in every[1:4]]
    assert [v.light for v in page.entries] == [v.light for v in every[1:4]]
    only = task_page(session_factory, as_of=AS_OF.date(), calendar=calendar, offset=0, limit=9,
                     department="珠海市卫生和计划生育局")
    assert only.total == 2 and {v.id for v in only.entries} == {world.lead, world.later}
    # The count joins measures only for a filter on them: each filter's count
    # is the number of tasks it lists.
    for filters in ({"measure": 8}, {"measure": 9}, {"plan": every[0].plan},
                    {"measure": 8, "department": "珠海市卫生和计划生育局"}):
        listed = list_tasks(session_factory, as_of=AS_OF.date(), calendar=calendar,
                            **filters)  # type: ignore[arg-type]
        counted = task_page(session_factory, as_of=AS_OF.date(), calendar=calendar, offset=0,
                            limit=1, **filters)  # type: ignore[arg-type]
        assert counted.total == len(listed) > 0, filters
        assert len(listed) < len(every) or "plan" in filters, filters
        assert [v.id for v in counted.entries] == [v.id for v in listed[:1]]


def test_escalations_and_measures_come_in_pages_with_their_totals(
    history_client: tuple[TestClient, History],
    session_factory: sessionmaker[Session],
    login: Callable[[TestClient, str], str],
) -> None:
    client, history = history_client
    _sixty_urges(session_factory, history.world.district)
    login(client, "coordinator")
    first = client.get("/api/escalations").json()
    assert first["total"] > EXTRA and len(first["items"]) == min(first["total"], DEFAULT_LIMIT)
    walked = _walk(client, "/api/escalations", 25)
    assert [e["id"] for e in walked] == [e["id"] for e in first["items"]]
    assert len({e["id"] for e in walked}) == first["total"]
    at_level_one = client.get("/api/escalations?level=1&limit=1").json()
    assert at_level_one["total"] >= EXTRA and at_level_one["items"][0]["level"] == 1
    measures = client.get("/api/measures").json()
    numbers = [m["number"] for m in measures["measures"]]
    assert measures["total"] == len(numbers) >= 2
    assert [m["number"] for m in _walk(client, "/api/measures", 1, "measures")] == numbers


def test_deliveries_come_in_pages_with_their_total_newest_first(
    history_client: tuple[TestClient, History],
    session_factory: sessionmaker[Session],
    login: Callable[[TestClient, str], str],
) -> None:
    client, history = history_client
    _sixty_urges(session_factory, history.world.district)  # half sent, half failed
    login(client, "coordinator")
    first = client.get("/api/deliveries").json()
    assert (first["offset"], first["limit"]) == (0, DEFAULT_LIMIT)
    assert first["total"] >= EXTRA and len(first["items"]) == min(first["total"], DEFAULT_LIMIT)
    walked = _walk(client, "/api/deliveries", 7)
    ids = [d["id"] for d in walked]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == first["total"]
    assert ids[: len(first["items"])] == [d["id"] for d in first["items"]]
    failed = client.get("/api/deliveries?status=failed&limit=1").json()
    assert failed["total"] == EXTRA // 2 and failed["items"][0]["status"] == "failed"
    assert failed["items"][0]["step"] == "manual_urge"
    assert client.get("/api/deliveries?status=sending").json()["total"] == 0
    for wrong in ("limit=0", f"limit={MAX_LIMIT + 1}", "offset=-1", "status=lost"):
        assert client.get(f"/api/deliveries?{wrong}").status_code == 422, wrong
