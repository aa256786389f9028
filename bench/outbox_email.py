"""Email through the outbox vs plain smtplib on one connection.

A fresh database (alembic upgrade head) gets 1,000 departments, each with one
liaison whose only channel is a ``mailto://`` URL to a loopback MailSink
(``duban.ops.mail_sink``, run in its own process as a real server would be, so its
parsing does not share this process's interpreter lock), and 1,000 tasks (200
measures of one lead and four supporting departments), each with its pending
交办通知 — what assignment leaves behind. Then, against the same sink:

* ``smtplib``  the message the outbox renders for the first recipient, sent
               1,000 times to the 1,000 addresses on one smtplib connection
               (MIME text + HTML built with the stdlib for each);
* ``outbox``   ``route`` + ``dispatch`` with the real ``Sender`` and the real
               templates (``open_context(settings).round_tools(sender=...)``),
               then ``Sender.close()``;
* ``Sender``   the same 1,000 URLs through a fresh ``Sender`` with the
               pre-rendered message: the send path without the outbox's database
               work and rendering.

Prints messages/second and the outbox/smtplib ratio (aim: >= 0.5), and the CPU
time per message this process spent in each run (the sink's and PostgreSQL's are
not counted): wall time on shared cores swings with the load, the CPU ratio
much less. Then where the outbox's time goes: SQL statements per delivery and
time inside the driver, rendering, sending (of which: new Apprise plugin per
URL, new SMTP connection), and the rest (ORM and outbox code). ``--profile``
adds cProfile's top entries.

    .venv/bin/python bench/outbox_email.py [--count 1000] [--postgres] [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import smtplib
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from benchdb import (
    DEFAULT_POSTGRES,
    migrated_engine,
    plan_of_first_select,
    postgres_database,
    revision,
    sqlite_database,
)
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from duban.db import make_session_factory
from duban.domain.escalation import DEFAULT_POLICY
from duban.ops.mail_sink import MailSink
from duban.services.ladder.policy import store_policy
from duban.services.outbox.deliver import dispatch
from duban.services.outbox.message import compose
from duban.services.outbox.route import route
from duban.services.plans.assignment import assign_step_key
from duban.services.rounds.daily import RoundTools
from duban.wiring import AppContext, open_context
from models import (
    Contact,
    ContactChannel,
    Delivery,
    Department,
    Measure,
    Notice,
    Plan,
    Section,
    Task,
)
from notifications import mail as mail_module
from notifications import send as send_module
from notifications.render import RenderedMessage
from notifications.send import Sender, privacy

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2016, 3, 1, 9, 0, tzinfo=ZONE)
FROM = "duban@demo.local"
PER_MEASURE = 5


def address(i: int) -> str:
    return f"liaison{i:04d}@example.gov.cn"


# ----------------------------------------------------------------------- sink


def _serve(port: int, control: Any) -> None:
    """Child process: a MailSink on ``port`` until told to stop; then report the count."""
    with MailSink(port) as sink:
        control.send("ready")
        control.recv()
        control.send(len(sink.messages))


class RemoteSink:
    """A MailSink in a child process: ``port``, ``url(to)`` and, on exit, ``received``."""

    def __init__(self) -> None:
        self._local = MailSink()  # never started: its free port and URL format
        self.port = self._local.port
        self.received = 0
        context = multiprocessing.get_context("spawn")
        self._control, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(self.port, child), daemon=True)

    def url(self, to: str, sender: str = FROM) -> str:
        return self._local.url(to, sender=sender)

    def __enter__(self) -> RemoteSink:
        self._process.start()
        assert self._control.recv() == "ready"
        return self

    def __exit__(self, *_exc: object) -> None:
        self._control.send("stop")
        self.received = int(self._control.recv())
        self._process.join(timeout=10)


# ----------------------------------------------------------------------- fill


def fill(session_factory: sessionmaker[Session], sink: RemoteSink, count: int) -> None:
    """``count`` departments with one email liaison each, one task and one pending
    交办通知 per department."""
    with session_factory.begin() as session:
        policy, _ = store_policy(DEFAULT_POLICY, session=session, now=NOW)
        plan = Plan(
            key="珠委办〔2016〕1号",
            title="珠海市基准测试工作方案",
            doc_number="珠委办〔2016〕1号",
            fingerprint="0" * 64,
            imported_at=NOW,
            updated_at=NOW,
        )
        section = Section(plan=plan, number=1, label="一", title="总体要求", source_line=5)
        measures = [
            Measure(
                plan=plan,
                section=section,
                number=m + 1,
                label=str(m + 1),
                title=f"推进第{m + 1}项重点工作,完善相关制度和工作机制",
                text=f"到2016年底,完成第{m + 1}项重点工作。",
                source_line=10 + m,
                source_end_line=10 + m,
            )
            for m in range(-(-count // PER_MEASURE))
        ]
        session.add_all([policy, plan, section, *measures])
        session.flush()
        for i in range(count):
            department = Department(name=f"珠海市第{i + 1:04d}局", kind="department")
            url = sink.url(address(i), sender=FROM)
            contact = Contact(
                key=f"liaison-{i}",
                department=department,
                role="liaison",
                name=f"联络员{i + 1:04d}",
                active=True,
            )
            contact.channels.append(
                ContactChannel(
                    position=1, url=url, url_privacy=privacy(url), scheme="mailto", active=True
                )
            )
            session.add_all([department, contact])
        session.flush()
        departments = list(session.scalars(select(Department.id).order_by(Department.id)))
        for i, department_id in enumerate(departments):
            lead = i % PER_MEASURE == 0
            due = date(2016, 12, 30) if lead else date(2016, 12, 16)
            task = Task(
                measure_id=measures[i // PER_MEASURE].id,
                department_id=department_id,
                named_as=f"第{i + 1:04d}局",
                role="lead" if lead else "supporting",
                deadline=date(2016, 12, 30),
                due=due,
                original_due=due,
                state="assigned",
                assigned_at=NOW,
                version=1,
                policy_id=policy.id,
                next_action_at=None,
            )
            session.add(task)
            session.flush()
            session.add(
                Notice(
                    task_id=task.id,
                    step=assign_step_key(NOW),
                    due_at=NOW,
                    status="pending",
                    created_at=NOW,
                    level=0,
                )
            )


# ----------------------------------------------------------- instrumentation


@dataclass
class Meter:
    """Time and calls per named part; SQL statements and driver time per engine."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1

        return timed

    @contextmanager
    def sql(self, engine: Engine, name: str) -> Iterator[None]:
        starts: list[float] = []

        def before(*_: Any) -> None:
            starts.append(time.perf_counter())

        def after(*_: Any) -> None:
            self.seconds[name] += time.perf_counter() - starts.pop()
            self.calls[name] += 1

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        commit = self.wrap(f"{name} commits", engine.dialect.do_commit)
        try:
            with mock.patch.object(engine.dialect, "do_commit", commit):
                yield
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)


class TimedSender:
    """The real Sender, timed."""

    def __init__(self, sender: Sender, meter: Meter) -> None:
        self.send = meter.wrap("send", sender.send)


@contextmanager
def send_internals(meter: Meter) -> Iterator[None]:
    """Time the Sender's per-URL setup: a new Apprise plugin, a new SMTP session."""
    with (
        mock.patch.object(
            send_module, "_instantiate", meter.wrap("new plugin", send_module._instantiate)
        ),
        mock.patch.object(
            mail_module.NotifyDubanEmail,
            "_connect",
            meter.wrap("smtp connect", mail_module.NotifyDubanEmail._connect),
        ),
    ):
        yield


# --------------------------------------------------------------------- runs


@dataclass
class Run:
    label: str
    count: int
    seconds: float
    cpu_seconds: float  # this process's CPU time (the sink's is not counted)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / self.count

    def line(self) -> str:
        return (
            f"  {self.label:<44} {self.count:>5} messages in {self.seconds:7.2f} s"
            f" = {self.rate:8.1f} messages/s, {self.cpu_ms:5.2f} ms CPU per message"
        )


def first_message(session_factory: sessionmaker[Session], tools: RoundTools) -> RenderedMessage:
    """What the outbox sends the first recipient (its delivery, rendered)."""
    with session_factory() as session:
        delivery = session.scalars(select(Delivery).order_by(Delivery.id)).first()
        assert delivery is not None
        template, context = compose(session, delivery, tools.context, NOW)
        message = tools.render(template, context)
        assert isinstance(message, RenderedMessage)
        return message


def via_smtplib(port: int, message: RenderedMessage, count: int) -> Run:
    started, cpu = time.perf_counter(), time.process_time()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(count):
            mime = MIMEMultipart("alternative")
            mime.attach(MIMEText(message.text, "plain", "utf-8"))
            mime.attach(MIMEText(message.html, "html", "utf-8"))
            mime["Subject"] = message.title
            mime["From"] = FROM
            mime["To"] = address(i)
            smtp.sendmail(FROM, [address(i)], mime.as_string())
    return Run(
        "plain smtplib, one connection",
        count,
        time.perf_counter() - started,
        time.process_time() - cpu,
    )


def via_sender(sink: RemoteSink, message: RenderedMessage, count: int) -> Run:
    started, cpu = time.perf_counter(), time.process_time()
    with Sender() as sender:
        for i in range(count):
            outcome = sender.send(sink.url(address(i), sender=FROM), message)
            assert outcome.ok, outcome.error
    return Run(
        "Sender alone, 1 URL per recipient",
        count,
        time.perf_counter() - started,
        time.process_time() - cpu,
    )


@dataclass
class OutboxRun:
    run: Run
    route_s: float
    dispatch_s: float
    close_s: float
    meter: Meter
    profile: pstats.Stats | None


def via_outbox(
    context: AppContext, count: int, *, profile: bool
) -> tuple[OutboxRun, RoundTools, sessionmaker[Session]]:
    session_factory = context.session_factory
    meter = Meter()
    profiler = cProfile.Profile() if profile else None
    sender = context.sender()
    tools = context.round_tools(sender=sender)
    timed = replace(
        tools, sender=TimedSender(sender, meter), render=meter.wrap("render", tools.render)
    )
    bind = session_factory.kw["bind"]
    started, cpu = time.perf_counter(), time.process_time()
    with meter.sql(bind, "route sql"):
        routed = route(session_factory, now=NOW, send_time=tools.send_time, clock=tools.clock)
    routed_at = time.perf_counter()
    assert routed.routed == count and len(routed.deliveries) == count, routed
    with meter.sql(bind, "dispatch sql"), send_internals(meter):
        if profiler:
            profiler.enable()
        sent = dispatch(
            session_factory,
            now=NOW,
            sender=timed.sender,
            render=timed.render,
            context=tools.context,
            send_time=tools.send_time,
            worker="bench",
        )
        if profiler:
            profiler.disable()
    dispatched_at = time.perf_counter()
    sender.close()
    closed_at, cpu = time.perf_counter(), time.process_time() - cpu
    assert sent.sent == count, sent
    run = Run("outbox: route + dispatch + close", count, closed_at - started, cpu)
    stats = pstats.Stats(profiler) if profiler else None
    return (
        OutboxRun(
            run,
            routed_at - started,
            dispatched_at - routed_at,
            closed_at - dispatched_at,
            meter,
            stats,
        ),
        tools,
        session_factory,
    )


# ------------------------------------------------------------------- report


def breakdown(outbox: OutboxRun, count: int) -> list[str]:
    m = outbox.meter
    per = 1000 / count  # seconds in total -> ms per delivery

    def ms(name: str) -> float:
        return m.seconds[name] * per

    database = ms("dispatch sql") + ms("dispatch sql commits")
    other = outbox.dispatch_s * per - ms("render") - ms("send") - database
    return [
        f"  route     {outbox.route_s * 1000:8.0f} ms = {outbox.route_s * per:.2f} ms per notice: "
        f"{m.calls['route sql'] / count:.1f} SQL statements ({ms('route sql'):.2f} ms in the "
        f"driver), {m.calls['route sql commits'] / count:.1f} commits "
        f"({ms('route sql commits'):.2f} ms)",
        f"  dispatch  {outbox.dispatch_s * 1000:8.0f} ms = {outbox.dispatch_s * per:.2f} ms per "
        "delivery:",
        f"    database  {database:6.2f} ms: {m.calls['dispatch sql'] / count:.1f} SQL statements "
        f"({ms('dispatch sql'):.2f} ms in the driver), "
        f"{m.calls['dispatch sql commits'] / count:.1f} commits "
        f"({ms('dispatch sql commits'):.2f} ms)",
        f"    render    {ms('render'):6.2f} ms (title, text, HTML, markdown)",
        f"    send      {ms('send'):6.2f} ms, of which new Apprise plugin {ms('new plugin'):.2f} ms"
        f" ({m.calls['new plugin']} made), new SMTP session {ms('smtp connect'):.2f} ms "
        f"({m.calls['smtp connect']} opened)",
        f"    other     {other:6.2f} ms (ORM and outbox code, message context; see --profile)",
        f"  close     {outbox.close_s * 1000:8.0f} ms (QUIT on {m.calls['smtp connect']} sessions)",
    ]


def measure(
    url: str, backend: str, count: int, *, profile: bool
) -> tuple[list[Run], OutboxRun, dict[str, str]]:
    engine = migrated_engine(url)
    try:
        with tempfile.TemporaryDirectory() as data_dir, RemoteSink() as sink:
            fill(make_session_factory(engine), sink, count)
            # Everything that reads settings (links, the context) sees this database
            # and a throw-away data directory, never the operator's.
            environment = {
                "DUBAN_DATABASE_URL": url,
                "DUBAN_DATA_DIR": data_dir,
                "DUBAN_BASE_URL": "https://duban.example.gov.cn",
            }
            with mock.patch.dict(os.environ, environment):
                context = open_context()
                outbox, tools, session_factory = via_outbox(context, count, profile=profile)
                message = first_message(session_factory, tools)
                plain = via_smtplib(sink.port, message, count)
                alone = via_sender(sink, message, count)
                bind = session_factory.kw["bind"]
                plans = {
                    "route (nothing pending)": plan_of_first_select(
                        bind,
                        lambda: route(
                            session_factory, now=NOW, send_time=tools.send_time, clock=tools.clock
                        ),
                    ),
                    "dispatch (nothing due)": plan_of_first_select(
                        bind,
                        lambda: dispatch(
                            session_factory,
                            now=NOW,
                            sender=tools.sender,
                            render=tools.render,
                            context=tools.context,
                            send_time=tools.send_time,
                        ),
                    ),
                }
                bind.dispose()
        assert sink.received == 3 * count, (sink.received, count)
        return [plain, outbox.run, alone], outbox, plans
    finally:
        engine.dispose()


def report(
    backend: str, count: int, runs: list[Run], outbox: OutboxRun, plans: Mapping[str, str]
) -> None:
    plain, through_outbox, alone = runs
    print()
    print(f"{backend}: {count} notices to {count} recipients on a loopback SMTP sink")
    for run in runs:
        print(run.line())
    print(
        f"  outbox / smtplib = {through_outbox.rate / plain.rate:.2f}   (aim: >= 0.5)"
        f"   Sender alone / smtplib = {alone.rate / plain.rate:.2f}"
    )
    print(
        f"  CPU per message in this process (steadier than wall time on a busy machine):"
        f" smtplib / outbox = {plain.cpu_ms / through_outbox.cpu_ms:.2f}"
        f"   smtplib / Sender alone = {plain.cpu_ms / alone.cpu_ms:.2f}"
    )
    print("where the outbox's time goes:")
    for line in breakdown(outbox, count):
        print(line)
    for name, plan in plans.items():
        print(f"  plan of {name}: {' | '.join(plan.splitlines())}")
    if outbox.profile is not None:
        print("cProfile of dispatch, top 25 by cumulative time:")
        outbox.profile.sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--pg-url", default=DEFAULT_POSTGRES, help="server (maintenance db) URL")
    parser.add_argument("--quick", action="store_true", help="200 messages, SQLite only")
    parser.add_argument("--profile", action="store_true", help="cProfile the dispatch")
    args = parser.parse_args()
    count = 200 if args.quick else args.count
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"duban {revision()}; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs, "
        f"load average {load}"
    )
    with sqlite_database() as url:
        report("sqlite", count, *measure(url, "sqlite", count, profile=args.profile))
    if args.postgres and not args.quick:
        with postgres_database(args.pg_url) as url:
            report("postgresql", count, *measure(url, "postgresql", count, profile=args.profile))


if __name__ == "__main__":
    main()
