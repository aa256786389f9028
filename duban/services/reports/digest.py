"""The weekly digest, through the same outbox as every other message.

Two messages a week, each a *scheduled report*: a delivery that carries no
notice. :func:`queue_weekly_digest` records one delivery per channel of

- every supervisor (督查室) and coordinator (督办科): ``weekly_digest`` — red
  and yellow measures, escalations of the past seven days, departments with
  missing progress reports, with the ledger (.xlsx) attached, and an SVG
  indicator chart for each measure whose numbers are behind their line;
- the liaison of every department that still has unfinished tasks:
  ``weekly_summary`` — its own open tasks, with status and light.

Identity without a schema change: a scheduled report is a delivery in batch
:data:`WEEKLY_BATCH` (0; the day's notice digests use batches 1, 2, …) whose
``day`` is the Monday of the ISO week, so the unique (channel, day, batch)
makes it at most one per channel and week, also when two runs race. The
delivery is recorded before it is sent and the outbox's dispatch sends it
like any other: claimed by compare-and-set, retried with back-off, given up
after permanent errors (there is no notice to mark failed, so no failure
report is queued; the delivery log shows it). Its content is built when it is
sent (:func:`report_message`, called by the outbox) as of the local day it
was queued (``created_at``). Queued and sent together by
:func:`duban.services.rounds.weekly.send_weekly_digest`.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.db import insert_for
from duban.domain.errors import DubanError
from duban.domain.lifecycle import TaskState
from duban.domain.outbox import DeliveryStatus
from duban.domain.scorecard import Period
from duban.domain.status import LIGHT_LABELS, Light, worst_light
from duban.services.accounts.links import department_token
from duban.services.accounts.org import ContactWithChannels, contacts_for
from duban.services.ladder.core import OrgClock
from duban.services.outbox.contract import DeliveryContext, OutgoingMessage, SendTimeFn
from duban.services.reports.charts import trajectory_svg
from duban.services.reports.ledger import load_ledger
from duban.services.reports.ledger_files import write_ledger_xlsx
from duban.services.reports.ledger_model import Ledger, LedgerRow
from duban.services.reports.scorecard import scorecard_from_ledger
from duban.services.reports.trajectories import load_trajectories
from models import Contact, Delivery, Task

WEEKLY_BATCH = 0
DIGEST_STEP = "weekly_digest"
SUMMARY_STEP = "weekly_summary"
WINDOW_DAYS = 7
BEHIND = "指标进度落后"


@dataclass
class DigestQueueReport:
    """What :func:`queue_weekly_digest` recorded for the week starting ``week``."""

    week: date
    digests: int = 0  # new deliveries to supervisors and coordinators
    summaries: int = 0  # new deliveries to liaisons
    existing: int = 0  # already queued this week
    deliveries: list[int] = field(default_factory=list)


def week_of(day: date) -> date:
    """The Monday of ``day``'s ISO week: the identity of a weekly delivery."""
    return day - timedelta(days=day.weekday())


# --- queueing ------------------------------------------------------------------


def queue_weekly_digest(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    send_time: SendTimeFn,
    clock: OrgClock | None = None,
) -> DigestQueueReport:
    """Record this week's digest and summaries (see the module docstring).

    Each goes out at ``send_time(now)`` (inside office hours on a working day).
    Running again in the same week records nothing new (``existing`` counts
    what was there). Returns the ids of the deliveries it created.
    """
    clock = clock or OrgClock()
    week = week_of(clock.today(now))
    send_at = send_time(now)
    report = DigestQueueReport(week=week)
    with session_factory.begin() as session:
        readers = [
            *contacts_for(session, department_id=None, role="supervisor"),
            *contacts_for(session, department_id=None, role="coordinator"),
        ]
        busy = session.scalars(
            select(Task.department_id)
            .where(Task.state.not_in((TaskState.APPROVED.value, TaskState.CANCELLED.value)))
            .distinct()
            .order_by(Task.department_id)
        )
        liaisons = [
            contact
            for department_id in busy
            for contact in contacts_for(session, department_id=department_id, role="liaison")
        ]
        for contact, kind in [(c, "digests") for c in readers] + [
            (c, "summaries") for c in liaisons
        ]:
            for created in _record(session, contact, week, send_at, now):
                if created is None:
                    report.existing += 1
                else:
                    report.deliveries.append(created)
                    setattr(report, kind, getattr(report, kind) + 1)
    return report


def _record(
    session: Session, contact: ContactWithChannels, week: date, send_at: datetime, now: datetime
) -> list[int | None]:
    """One pending delivery per channel of ``contact`` (None where one exists)."""
    results: list[int | None] = []
    for channel in contact.channels:
        created = session.execute(
            insert_for(session, Delivery)
            .values(
                channel_id=channel.id,
                contact_id=contact.contact_id,
                day=week,
                batch=WEEKLY_BATCH,
                status=DeliveryStatus.PENDING,
                attempts=0,
                not_before=send_at,
                next_attempt_at=send_at,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel_id", "day", "batch"])
            .returning(Delivery.id)
        ).scalar_one_or_none()
        results.append(created)
    return results


# --- content -------------------------------------------------------------------


def report_message(
    session: Session, delivery: Delivery, context: DeliveryContext, now: datetime
) -> OutgoingMessage:
    """The message of a scheduled-report delivery (batch :data:`WEEKLY_BATCH`):
    the liaison's summary, or the digest with its attachments for anyone else.

    Raises DubanError for a delivery that is not a scheduled report.
    """
    if delivery.batch != WEEKLY_BATCH:
        raise DubanError(f"发送记录 #{delivery.id} 不是每周简报")
    as_of = context.clock.today(delivery.created_at)
    contact = delivery.contact
    common: dict[str, Any] = {
        "recipient_name": contact.name,
        "sender": context.sender_name,
        "base_url": context.base_url or "",
        "items": [],
        "as_of": as_of.isoformat(),
        "since": (as_of - timedelta(days=WINDOW_DAYS - 1)).isoformat(),
    }
    if contact.role == "liaison" and contact.department_id is not None:
        return _liaison_summary(session, contact, context, common, as_of=as_of, now=now)
    return _digest(session, contact, context, common, as_of=as_of)


def _liaison_summary(
    session: Session,
    contact: Contact,
    context: DeliveryContext,
    common: dict[str, Any],
    *,
    as_of: date,
    now: datetime,
) -> OutgoingMessage:
    """A liaison's summary of their own department's tasks."""
    assert contact.department_id is not None
    ledger = load_ledger(
        session,
        as_of=as_of,
        calendar=context.calendar,
        all_plans=True,
        department_ids=[contact.department_id],
        zone=context.clock.zone,
    )
    name = contact.department.name if contact.department else ""
    return OutgoingMessage(
        SUMMARY_STEP,
        {
            **common,
            "department": name,
            **summary_context(
                ledger,
                context,
                # The department's own password-less link, as in its notices:
                # a liaison has no account to sign in with.
                link_token=department_token(
                    session, contact.department_id, now=now, signer=context.link_signer
                ),
            ),
        },
    )


def _digest(
    session: Session,
    contact: Contact,
    context: DeliveryContext,
    common: dict[str, Any],
    *,
    as_of: date,
) -> OutgoingMessage:
    """The digest of every plan, with the ledger workbook and a chart of each
    measure behind its trajectory attached (removed again if making them fails)."""
    ledger = load_ledger(session, as_of=as_of, calendar=context.calendar, all_plans=True,
                         zone=context.clock.zone)
    scratch = Path(tempfile.mkdtemp(prefix="duban-digest-"))
    message = OutgoingMessage(DIGEST_STEP, {}, scratch=scratch)
    try:
        values = digest_context(ledger, base_url=context.base_url or "")
        workbook = scratch / f"督办台账-{as_of.isoformat()}.xlsx"
        card = scorecard_from_ledger(ledger, period=Period(), calendar=context.calendar)
        message.attachments.append(write_ledger_xlsx(ledger, workbook, scorecard=card))
        for number, plan in values["behind_measures"]:
            title, panels = load_trajectories(session, measure=number, as_of=as_of, plan=plan)
            chart = scratch / f"指标进度-措施{number}.svg"
            chart.write_text(
                trajectory_svg(f"措施{number} {title}", panels, as_of=as_of), encoding="utf-8"
            )
            message.attachments.append(chart)
    except BaseException:
        message.discard()
        raise
    values["attachments"] = [path.name for path in message.attachments]
    # "reader": staff are asked to sign in (the footer), not told of a unit's link.
    message.context = {**common, "department": "全部责任单位", "reader": contact.role, **values}
    return message


def digest_context(ledger: Ledger, *, base_url: str = "") -> dict[str, Any]:
    """The digest's data from the ledger: totals, red and yellow measures (each
    with its measure page's ``link`` when ``base_url`` is known; units in the
    directory's order), new escalations (last seven days up to the ledger's
    day), departments with missing reports, and the (plan, measure) pairs
    behind their trajectory."""
    active = [r for r in ledger.rows if r.state is not TaskState.CANCELLED]  # 已撤销: left out
    measures: dict[tuple[str, int], list[LedgerRow]] = defaultdict(list)
    for row in active:
        measures[(row.plan, row.measure)].append(row)
    behind = [
        (number, plan)
        for (plan, number), rows in measures.items()
        if any(BEHIND in r.reasons for r in rows)
    ]
    missing: dict[str, list[int]] = defaultdict(list)
    for row in active:
        if row.missing_reports:
            missing[row.department].append(row.missing_reports)
    lights = [row.light for row in active]
    return {
        "totals": {
            "tasks": len(active),
            "red": lights.count(Light.RED),
            "yellow": lights.count(Light.YELLOW),
            "blue": lights.count(Light.BLUE),
            "late": lights.count(Light.LATE),
            "green": lights.count(Light.GREEN),
            "approved": sum(r.state is TaskState.APPROVED for r in active),
        },
        "measures": _flagged_measures(ledger, measures, base_url.rstrip("/")),
        "escalations": _recent_escalations(active, ledger.as_of),
        "missing_departments": [
            {"department": name, "tasks": len(counts), "periods": sum(counts)}
            for name, counts in sorted(missing.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
        ],
        "behind_measures": behind,
    }


def _flagged_measures(
    ledger: Ledger, measures: dict[tuple[str, int], list[LedgerRow]], base: str
) -> list[dict[str, Any]]:
    """The measures with something left to act on (not green nor late), red
    first, each with its measure page's link when ``base`` is known."""
    flagged = []
    for (plan, number), rows in measures.items():
        light = worst_light(r.light for r in rows)
        if light in (Light.GREEN, Light.LATE):  # nothing left to act on
            continue
        red = [r for r in rows if r.light is Light.RED]
        flagged.append(
            {
                "plan": plan,
                "number": number,
                "title": rows[0].measure_title,
                "light": light.value,
                "light_label": LIGHT_LABELS[light],
                "red": len(red),
                "yellow": sum(1 for r in rows if r.light is Light.YELLOW),
                "tasks": len(rows),
                "red_departments": sorted(
                    {r.department for r in red}, key=ledger.department_key
                ),
                "link": f"{base}/dashboard/measures/{rows[0].measure_id}" if base else "",
                "blue": sum(1 for r in rows if r.light is Light.BLUE),
                "reasons": _reason_counts(
                    [r for r in rows if r.light in (Light.YELLOW, Light.BLUE)]
                ),
            }
        )
    flagged.sort(key=lambda m: (m["light"] != Light.RED.value, m["plan"], m["number"]))
    return flagged


def _recent_escalations(active: list[LedgerRow], as_of: date) -> list[dict[str, Any]]:
    """The escalations of the last :data:`WINDOW_DAYS` days up to ``as_of``,
    oldest first (on one day the highest level first)."""
    since = as_of - timedelta(days=WINDOW_DAYS - 1)
    recent = sorted(
        (
            (mark, row)
            for row in active
            for mark in row.escalations
            if since <= mark.on <= as_of
        ),
        key=lambda pair: (pair[0].on, -pair[0].level, pair[1].measure),
    )
    return [
        {
            "on": mark.on.isoformat(),
            "level": mark.level,
            "label": mark.label,
            "measure_number": row.measure,
            "measure_title": row.measure_title,
            "department": row.department,
            "role_label": row.role_label,
        }
        for mark, row in recent
    ]


def _reason_counts(rows: list[LedgerRow]) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        for reason in row.reasons:
            key = "缺报进度" if reason.startswith("缺报进度") else reason
            key = "临近期限" if key.startswith("距期限") else key
            counts[key] += 1
    return [f"{name}{n}项" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])]


def summary_context(
    ledger: Ledger, context: DeliveryContext, *, link_token: str = ""
) -> dict[str, Any]:
    """A liaison's summary: the department's unfinished tasks, most urgent first,
    each linked with ``link_token`` (the department's signed link token)."""
    base = (context.base_url or "").rstrip("/")
    query = f"?k={link_token}" if link_token else ""
    rank = {light: index for index, light in enumerate(Light)}  # worst first
    rows = sorted(
        (r for r in ledger.rows if r.state not in (TaskState.APPROVED, TaskState.CANCELLED)),
        key=lambda r: (rank[r.light], r.due, r.measure),
    )
    return {
        "tasks": [
            {
                "task_id": row.task_id,
                "measure_number": row.measure,
                "measure_title": row.measure_title,
                "role_label": row.role_label,
                "due": row.due.isoformat(),
                "original_due": row.original_due.isoformat() if row.original_due else None,
                "state_label": row.state_label,
                "status_label": row.status_label,
                "light": row.light.value,
                "light_label": row.light_label,
                "reasons": row.reasons,
                "latest_progress_on": (
                    row.latest_progress_on.isoformat() if row.latest_progress_on else None
                ),
                "link": f"{base}/tasks/{row.task_id}{query}" if base else "",
            }
            for row in rows
        ],
        "counts": {light.value: sum(1 for r in rows if r.light is light) for light in Light},
    }
