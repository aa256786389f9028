"""The production profile for tests: ``duban cluster up`` as an operator runs
it (a Prefect server on PostgreSQL, two process workers, the pages), the
commands a user types against it, and a comparison of two databases' tasks,
notices and deliveries by their natural keys."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, aliased

from duban.ops.mail_sink import MailSink, free_port, text_of
from models import (
    Contact,
    ContactChannel,
    Delivery,
    DeliveryAttempt,
    DeliveryItem,
    Department,
    Measure,
    Notice,
    Task,
)
from tests.paths import ROOT

SECRET_KEY = "cluster-test-key-not-a-secret"
START_TIMEOUT = 240.0


def new_database(base_url: str, prefix: str) -> str:
    """A fresh database on the server of ``base_url``; returns its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = make_url(base_url)
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    engine = create_engine(
        parsed.set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        engine.dispose()


def as_asyncpg(url: str) -> str:
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


@dataclass
class Cluster:
    """A running ``duban cluster up`` and the environment to talk to it."""

    home: Path
    env: dict[str, str]
    api_url: str
    process: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def duban(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """``duban ARGS`` in a new process, as a user would type it."""
        result = subprocess.run(
            [sys.executable, "-m", "duban", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"duban {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.home / "cluster.json").read_text(encoding="utf-8"))
        return data

    def child(self, name: str) -> dict[str, Any]:
        return next(c for c in self.status()["children"] if c["name"] == name)

    def log_of(self, name: str) -> str:
        return Path(self.child(name)["log"]).read_text(encoding="utf-8", errors="replace")

    def supervisor_log(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}\n{self.supervisor_log()[-3000:]}"
                )
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def cluster_env(
    *, home: Path, duban_url: str, prefect_url: str, api_port: int, extra: Mapping[str, str] = ()
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DUBAN_"))}
    env.update(
        {
            "DUBAN_DATA_DIR": str(home / "data"),
            "DUBAN_DATABASE_URL": duban_url,
            "DUBAN_SECRET_KEY": SECRET_KEY,
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_url,
            "PREFECT_API_URL": f"http://127.0.0.1:{api_port}/api",
            "PREFECT_HOME": str(home / "prefect-client"),
            # Runs are created by the tests, not by the schedules (whose real
            # dates would sweep the replayed data as of today).
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
        }
    )
    env.update(dict(extra))
    return env


@contextmanager
def running_cluster(
    home: Path, *, duban_url: str, prefect_url: str, extra_env: Mapping[str, str] = ()
) -> Iterator[Cluster]:
    """``duban cluster up`` with two workers (one flow run at a time each, so
    two runs at once land on different workers), stopped with SIGINT at the end."""
    home.mkdir(parents=True, exist_ok=True)
    api_port, web_port = free_port(), free_port()
    env = cluster_env(
        home=home, duban_url=duban_url, prefect_url=prefect_url, api_port=api_port, extra=extra_env
    )
    log = home / "supervisor.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "duban",
                "cluster",
                "up",
                "--workers",
                "2",
                "--worker-limit",
                "1",
                "--api-port",
                str(api_port),
                "--web-port",
                str(web_port),
                "--home",
                str(home / "cluster"),
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    cluster = Cluster(
        home=home / "cluster", env=env, api_url=env["PREFECT_API_URL"], process=process, log=log
    )
    cluster.extra["web_port"] = web_port
    try:

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"duban cluster up exited:\n{cluster.supervisor_log()}")
            return "按 Ctrl+C 停止" in cluster.supervisor_log()

        cluster.wait_for("duban cluster up", up, timeout=START_TIMEOUT)
        cluster.wait_for(
            "both workers polling",
            lambda: all("started" in cluster.log_of(f"worker-{i}") for i in (1, 2)),
        )
        yield cluster
    finally:
        cluster.stop()


def write_org(sink: MailSink, path: Path) -> Path:
    """The demo organisation (every contact mails ``sink``), as a file."""
    from duban.cli.demo import demo_org
    from duban.config import Settings

    org = demo_org(Settings(), sink)
    org["base_url"] = "http://duban.test"
    path.write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
    return path


# ---------------------------------------------------------------- comparison

_TOKEN = re.compile(r"/d/[A-Za-z0-9_.\-]+")
_TASK_ID = re.compile(r"/tasks/\d+")


def _normal(body: str | None) -> str | None:
    """A message body without database ids: the task in a link is known by the
    delivery's items (natural keys), and ids follow the order tasks were
    created in, which differs when measures are assigned in parallel."""
    if not body:
        return body
    return _TASK_ID.sub("/tasks/ID", _TOKEN.sub("/d/TOKEN", body))


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every task, notice and delivery of the database at ``url``, by natural
    keys (measure number, department, role, deadline, step, contact, channel),
    without ids, workers or claim times."""
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            task_key: dict[int, tuple[Any, ...]] = {}
            tasks = []
            for task, number, department in session.execute(
                select(Task, Measure.number, Department.name)
                .join(Measure, Measure.id == Task.measure_id)
                .join(Department, Department.id == Task.department_id)
            ):
                key = (number, department, task.role, task.deadline)
                task_key[task.id] = key
                tasks.append(
                    (
                        *key,
                        task.due,
                        task.state,
                        task.assigned_at,
                        task.acknowledged_at,
                        task.next_action_at,
                        task.version,
                    )
                )
            notice_key: dict[int, tuple[Any, ...]] = {}
            notices = []
            for notice in session.scalars(select(Notice)):
                key = (*task_key[notice.task_id], notice.step)
                notice_key[notice.id] = key
                notices.append(
                    (
                        *key,
                        notice.status,
                        notice.level,
                        notice.due_at,
                        notice.created_at,
                        notice.reason,
                    )
                )
            items: dict[int, list[tuple[Any, ...]]] = {}
            for item in session.scalars(select(DeliveryItem)):
                items.setdefault(item.delivery_id, []).append(notice_key[item.notice_id])
            attempts: dict[int, list[tuple[Any, ...]]] = {}
            for attempt in session.scalars(select(DeliveryAttempt)):
                attempts.setdefault(attempt.delivery_id, []).append(
                    (attempt.at, attempt.ok, attempt.permanent, attempt.error)
                )
            channel = aliased(ContactChannel)
            deliveries = []
            for delivery, contact, url_ in session.execute(
                select(Delivery, Contact.name, channel.url)
                .join(Contact, Contact.id == Delivery.contact_id)
                .join(channel, channel.id == Delivery.channel_id)
            ):
                deliveries.append(
                    (
                        contact,
                        url_,
                        delivery.day,
                        delivery.batch,
                        delivery.status,
                        delivery.attempts,
                        delivery.not_before,
                        delivery.next_attempt_at,
                        delivery.sent_at,
                        delivery.title,
                        _normal(delivery.body),
                        tuple(sorted(items.get(delivery.id, []))),
                        tuple(sorted(attempts.get(delivery.id, []))),
                    )
                )
    finally:
        engine.dispose()
    return {
        "tasks": sorted(tasks, key=repr),
        "notices": sorted(notices, key=repr),
        "deliveries": sorted(deliveries, key=repr),
    }


def mail_of(sink: MailSink) -> Counter[tuple[str, str, str]]:
    """Messages the sink received: (to, subject, text), counted."""
    return Counter(
        (str(m["To"]), str(m["Subject"]), _normal(text_of(m)) or "") for m in sink.messages
    )


def _changed(x: Any, y: Any) -> Any:
    """Two differing values; for texts, only their differing lines."""
    if isinstance(x, str) and isinstance(y, str):
        import difflib

        return [
            line for line in difflib.ndiff(x.splitlines(), y.splitlines()) if line[:1] in "+-"
        ]
    return (x, y)


def differences(left: dict[str, list[Any]], right: dict[str, list[Any]]) -> dict[str, Any]:
    """Per table, rows only on one side, empty when equal; for a row whose
    first four fields (its natural key) match a row on the other side, the
    fields that differ."""
    found: dict[str, Any] = {}
    for table in left:
        a, b = Counter(map(repr, left[table])), Counter(map(repr, right[table]))
        if a == b:
            continue
        only_left = [r for r in left[table] if (a - b)[repr(r)]]
        only_right = [r for r in right[table] if (b - a)[repr(r)]]
        fields = []
        for row in only_left[:3]:
            twin = next((r for r in only_right if r[:4] == row[:4]), None)
            if twin is not None:
                fields.append(
                    {
                        i: _changed(x, y)
                        for i, (x, y) in enumerate(zip(row, twin, strict=True))
                        if x != y
                    }
                )
        found[table] = {
            "counts": (len(left[table]), len(right[table])),
            "only_left": only_left[:2],
            "only_right": only_right[:2],
            "fields": fields,
        }
    return found
