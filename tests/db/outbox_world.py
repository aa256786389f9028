"""What outbox tests share: contacts for every department, a renderer that
lists the notices a message carries, and a sender that records per URL.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.workdays import WorkCalendar
from duban.services.ladder.core import OrgClock
from duban.services.outbox.contract import DeliveryContext
from models import Contact, ContactChannel, Department

ZONE = ZoneInfo("Asia/Shanghai")
CLOCK = OrgClock(ZONE)
COORDINATOR_URL = "mailto://coordinator"
SUPERVISOR_URL = "mailto://supervisor"


def liaison_url(department_id: int) -> str:
    return f"mailto://liaison-{department_id}"


def head_url(department_id: int) -> str:
    return f"mailto://head-{department_id}"


def add_contacts(session_factory: sessionmaker[Session]) -> None:
    """A liaison and a head for every department, a coordinator and a
    supervisor; one mailto channel each (see the *_url functions)."""
    with session_factory.begin() as session:
        people: list[tuple[str, int | None, str, str]] = [
            ("co", None, "coordinator", COORDINATOR_URL),
            ("su", None, "supervisor", SUPERVISOR_URL),
        ]
        for department in session.scalars(select(Department.id).order_by(Department.id)):
            people.append((f"l{department}", department, "liaison", liaison_url(department)))
            people.append((f"h{department}", department, "head", head_url(department)))
        for key, department_id, role, url in people:
            contact = Contact(
                key=key, department_id=department_id, role=role, name=key, active=True
            )
            contact.channels.append(
                ContactChannel(position=1, url=url, url_privacy=url, scheme="mailto", active=True)
            )
            session.add(contact)


def at_once(moment: datetime) -> datetime:
    """A send_time for tests: any moment may send (no office hours)."""
    return moment


def delivery_context(calendar: WorkCalendar) -> DeliveryContext:
    return DeliveryContext(base_url=None, sender_name="督办科", calendar=calendar, clock=CLOCK)


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    carried: tuple[tuple[int, str], ...]  # (task id, step) of each notice in the message


def render_items(template: str, context: Mapping[str, Any]) -> Message:
    # A department's message may carry its supporters' tasks too (watched_items).
    items = [*context["items"], *context.get("watched_items", ())]
    carried = tuple((int(i["task_id"]), str(i["step"])) for i in items)
    return Message(f"[{template}] {context['recipient_name']}", repr(carried), carried)


@dataclass(frozen=True)
class Sent:
    ok: bool = True
    permanent: bool = False
    error: str | None = None


@dataclass
class RecordingSender:
    """Records every message by URL (thread-safe); ``delay`` seconds per send
    widen the window in which other workers run."""

    delay: float = 0.0
    sent: list[tuple[str, Message]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, url: str, message: Any, **_: Any) -> Sent:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.sent.append((url, message))
        return Sent()

    def per_url(self) -> Counter[str]:
        return Counter(url for url, _ in self.sent)

    def to(self, url: str) -> list[Message]:
        return [m for u, m in self.sent if u == url]
