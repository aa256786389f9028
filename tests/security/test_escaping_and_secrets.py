"""Promise: data is shown as text, never as markup, and secrets never show.

Every page is rendered with autoescaping: a name or a message containing
``<script>`` shows as text; only a message's own http(s) links become links.
Contact addresses carry secrets (SMTP passwords, bot keys): pages, the API,
the command line, logs and error messages show them only in Apprise's
privacy form (``mailto://u:****@host``).

Held also by: ``tests/notifications/test_contacts.py`` (privacy forms, bad
addresses without their secret), ``tests/db/test_org_service.py`` (an invalid
address stores nothing and hides its secret; the overview),
``tests/cli/test_org_cli.py`` (``duban org show``), ``tests/cli/test_store_cli.py``
and ``tests/unit/test_cluster_config.py`` (database passwords masked),
``tests/notifications/test_render.py`` (the failure report).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from models import Delivery, Department
from tests.db.conftest import HEALTH, World
from tests.web.test_actions import _failed_delivery

Login = Callable[[TestClient, str], str]
MARKUP = '<script>alert("x")</script>'


def test_a_message_shows_its_link_as_a_link_and_nothing_else_as_markup(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    delivery_id, _channel = _failed_delivery(session_factory, world.lead)
    with session_factory.begin() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        delivery.body = f"办理入口:http://duban.test/tasks/1?k=abc {MARKUP}"
    login(client, "coordinator")
    page = client.get(f"/desk/deliveries/{delivery_id}").text
    assert '<a href="http://duban.test/tasks/1?k=abc">' in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_a_name_from_the_data_is_shown_as_text(
    client: TestClient,
    world: World,
    login: Login,
    link: Callable[..., str],
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        session.execute(update(Department).where(Department.name == HEALTH)
                        .values(name=f"{MARKUP}局"))
    pages = [client.get(f"/d/{link(world.lead)}").text]
    login(client, "coordinator")
    pages += [client.get(path).text for path in ("/dashboard", "/desk", f"/tasks/{world.lead}")]
    for page in pages:
        assert "<script>" not in page
    assert "&lt;script&gt;" in pages[0] and "&lt;script&gt;" in pages[-1]


def test_a_secret_in_an_address_reaches_no_page_and_no_api(
    client: TestClient, world: World, login: Login, session_factory: sessionmaker[Session]
) -> None:
    delivery_id, _channel = _failed_delivery(session_factory, world.lead)  # mailto://u:secret@…
    login(client, "coordinator")
    shown = [client.get(path).text for path in (
        "/desk", "/desk/deliveries", f"/desk/deliveries/{delivery_id}", "/api/deliveries",
        "/dashboard/escalations",
    )]
    assert all("secret" not in text for text in shown)
    assert any("mailto://u:****@mail.invalid" in text for text in shown)
