"""Whom a delivery is for, and the message context written for that reader.

A delivery goes to one contact; what it says depends on who that is:

- a **department** contact (liaison, head): its own tasks, each naming the
  department and its role, with the department's signed link (its forms). If
  the department leads a measure and is told about a supporting unit's task
  (the 督办 copy to the lead department), those tasks come as a separate part,
  grouped by measure, each with a link signed for the *reader's* department,
  which opens a read-only view (``duban.services.accounts.links.may_watch``), never the
  supporter's forms. Templates: the step's own for one own item, ``digest``
  for several, ``lead_digest`` when the message is only about supporters.
- a **staff** contact (督办科 coordinators, 督查室 supervisors): ``staff_digest``,
  grouped by measure, each task naming its unit, role, how late, which rung,
  with the link to the staff page of the task (``BASE/tasks/ID``, which asks to
  sign in) — never a department token. Delivery-failure reports come as a
  ``failures`` list naming every department of the failed delivery; a message
  of failure reports only uses the ``delivery_failed`` template.

The render contract is in ``notifications/render.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.escalation import (
    Anchor,
    Occurrence,
    StepKey,
    next_rung,
    next_step_after,
    step_by_name,
    step_label,
)
from duban.domain.items import item_source_text
from duban.domain.labels import STAFF_ROLE_LABELS, TASK_ROLE_LABELS
from duban.domain.workdays import Unpublished
from duban.services.accounts.links import (
    preload_epochs,
    reader_task_link,
    remember_epochs,
    staff_task_link,
    task_link,
)
from duban.services.ladder.core import policy_for
from duban.services.outbox.contract import FAILED_STEP, DeliveryContext, OutgoingMessage
from models import Delivery, Department, DepartmentLinkEpoch, Measure, Notice, Task

STAFF_STEP = "staff_digest"
LEAD_STEP = "lead_digest"
DIGEST_STEP = "digest"


def notice_message(
    session: Session, delivery: Delivery, context: DeliveryContext, now: datetime
) -> OutgoingMessage:
    """The outbox's message builder for notice deliveries (see :func:`compose`)."""
    template, values = compose(session, delivery, context, now)
    return OutgoingMessage(template, values)


def compose(
    session: Session, delivery: Delivery, context: DeliveryContext, now: Any
) -> tuple[str, dict[str, Any]]:
    """The template name and render context of a notice delivery for its reader.

    Raises whatever loading its notices and tasks raises (the outbox records
    that as a failed attempt)."""
    rows: list[tuple[dict[str, Any], str, Task]] = []
    for item in delivery.items:
        notice = session.get(Notice, item.notice_id)
        assert notice is not None
        task = session.get(Task, notice.task_id)
        assert task is not None
        entry, template = item_context(session, notice, task, context, now)
        if template == FAILED_STEP:
            entry["failure"] = failure_report(session, notice, base_url=context.base_url)
        rows.append((entry, template, task))
    # Most severe first, then by measure and due date: the same order however
    # (and by how many routers at once) the items were added.
    rows.sort(
        key=lambda row: (
            -int(row[0]["level"]),
            row[0]["measure_number"],
            row[0]["due"],
            row[0]["department"],
            row[0]["step"],
        )
    )
    contact = delivery.contact
    common: dict[str, Any] = {
        "recipient_name": contact.name,
        "sender": context.sender_name,
        "base_url": context.base_url or "",
    }
    if contact.department_id is None:
        return _for_staff(contact.role, rows, context, common)
    own = session.get(Department, contact.department_id)
    mine = [row for row in rows if row[2].department_id == contact.department_id]
    watched = [row for row in rows if row[2].department_id != contact.department_id]
    for entry, _template, task in watched:
        entry["link"] = reader_task_link(
            session,
            task,
            reader_department_id=contact.department_id,
            base_url=context.base_url,
            now=now,
            signer=context.link_signer,
        )
        entry["read_only"] = True
    values: dict[str, Any] = {**common, "department": own.name if own else ""}
    if not watched:
        template = mine[0][1] if len(mine) == 1 else DIGEST_STEP
        extra = mine[0][0].get("failure") or {} if template == FAILED_STEP else {}
        return template, {**_failed_fields(extra), **values, "items": [r[0] for r in mine]}
    if not mine:
        return LEAD_STEP, {**values, "items": [r[0] for r in watched]}
    return DIGEST_STEP, {
        **values,
        "items": [r[0] for r in mine],
        "watched_items": [r[0] for r in watched],
    }


def _for_staff(
    role: str,
    rows: list[tuple[dict[str, Any], str, Task]],
    context: DeliveryContext,
    common: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    failures = [row[0]["failure"] for row in rows if row[1] == FAILED_STEP]
    items = []
    for entry, template, task in rows:
        if template == FAILED_STEP:
            continue
        entry["link"] = staff_task_link(task.id, base_url=context.base_url)
        items.append(entry)
    office = STAFF_ROLE_LABELS.get(role, "督办科")
    values = {
        **common,
        "department": office,
        "reader": role,  # a supervisor reads; a coordinator also acts
        "items": items,
        "failures": failures,
    }
    if not items:
        return FAILED_STEP, {**_failed_fields(failures[0]), **values}
    return STAFF_STEP, values


def _failed_fields(failure: dict[str, Any]) -> dict[str, Any]:
    """The single-report fields of ``delivery_failed`` (see notifications.render)."""
    if not failure:
        return {}
    return {
        key: failure[key]
        for key in (
            "failed_step_label",
            "failed_contact",
            "failed_error",
            "failed_attempts",
            "failed_recipient",
            "failed_departments",
            "failed_tasks",
            "failed_link",
        )
    }


def failure_report(session: Session, notice: Notice, *, base_url: str | None) -> dict[str, Any]:
    """What the coordinators need to fix a failed delivery: which steps, to whom
    (the template prints only the contact's privacy form), every department of
    the tasks it carried, the error, the tries and the desk page of it."""
    failed = session.get(Delivery, StepKey.parse(notice.step).delivery_id)
    if failed is None:  # pragma: no cover - deliveries are never deleted
        return {
            "failed_step_label": "通知",
            "failed_contact": "",
            "failed_error": notice.reason or "",
            "failed_attempts": 0,
            "failed_recipient": "",
            "failed_departments": [],
            "failed_tasks": 0,
            "failed_link": "",
        }
    labels: list[str] = []
    departments: list[str] = []
    tasks: set[int] = set()
    for item in failed.items:
        carried = session.get(Notice, item.notice_id)
        task = session.get(Task, carried.task_id) if carried else None
        if carried is None or task is None:
            continue
        tasks.add(task.id)
        label = step_label(policy_for(session, task.policy_id), carried.step)
        if label not in labels:
            labels.append(label)
        department = session.get(Department, task.department_id)
        if department is not None and department.name not in departments:
            departments.append(department.name)
    contact = failed.contact
    link = f"{base_url.rstrip('/')}/desk/deliveries/{failed.id}" if base_url else ""
    return {
        "failed_step_label": "、".join(labels) or "通知",
        "failed_contact": failed.channel.url_privacy,
        "failed_error": failed.last_error or "",
        "failed_attempts": failed.attempts,
        "failed_recipient": contact.name if contact else "",
        "failed_departments": sorted(departments),
        "failed_tasks": len(tasks),
        "failed_link": link,
    }


def item_context(
    session: Session, notice: Notice, task: Task, context: DeliveryContext, now: datetime
) -> tuple[dict[str, Any], str]:
    measure = session.get(Measure, task.measure_id)
    department = session.get(Department, task.department_id)
    assert measure is not None and department is not None
    today = context.clock.today(now)
    key = StepKey.parse(notice.step)
    name = key.name
    label, template, level, next_label, next_date = _step_and_next(
        session, notice, task, context, today
    )
    others = [
        (name, role)
        for task_id, name, role in _siblings(session, task.measure_id, task.deadline)
        if task_id != task.id
    ]
    leads = [n for n, r in others if r == "lead"]
    if task.role == "lead":
        leads = sorted([department.name, *leads])
    days_left, days_overdue = _days_left_or_overdue(task, today, context)
    link = task_link(  # signed, per department
        session, task, base_url=context.base_url, now=now, signer=context.link_signer
    )
    entry = {
        "step": name,
        "step_label": label,
        "level": level,
        "task_id": task.id,
        "measure_number": measure.number,
        "measure_title": measure.title,
        "department": department.name,
        "role_label": TASK_ROLE_LABELS.get(task.role, task.role),
        "due": task.due.isoformat(),
        "original_due": task.original_due.isoformat(),
        "days_left": days_left,
        "days_overdue": days_overdue,
        "next_step_label": next_label,
        "next_step_date": next_date,
        "link": link,
        "other_departments": [f"{n}（{TASK_ROLE_LABELS.get(r, r)}）" for n, r in others],
        "lead_departments": leads,
        # A single 督办件's source, 文号 and instructing leader ("" for a plan's measure).
        "source": item_source_text(measure.source_kind, measure.doc_ref, measure.instructed_by),
        "reason": notice.reason,
        # What a coordinator wrote when taking a step by hand (督办科催办).
        "note": notice.note,
        "requested_by": notice.requested_by,
    }
    return entry, template


def _step_and_next(
    session: Session, notice: Notice, task: Task, context: DeliveryContext, today: date
) -> tuple[str, str, int, str | None, str | None]:
    """The notice's step label, template and level, and the label and day of
    the rung that follows it (None, None when none does)."""
    key = StepKey.parse(notice.step)
    if key.name == FAILED_STEP:
        return "发送失败", FAILED_STEP, 0, None, None
    policy = policy_for(session, task.policy_id)
    step = step_by_name(policy, key.name)
    next_label: str | None = None
    next_date: str | None = None
    if step.anchor is Anchor.ANNOUNCE:
        pass  # a one-off message (撤销, 期限调整): no rung follows from it
    elif step.anchor is Anchor.MANUAL:
        # Taken by hand on any day: what follows is the ladder's next rung
        # still ahead (the automatic 催办 and 督办 go on as planned).
        ahead = next_rung(policy, due=task.due, today=today, calendar=context.calendar)
        if ahead is not None:
            next_label, next_date = ahead[0].label, _day_text(ahead[1])
    else:
        occ = Occurrence(notice.step, step, today, key.anchor_date or today)
        following = next_step_after(policy, occ)
        if following is not None:
            next_label = following.label
            next_date = _day_text(
                context.calendar.maybe_add_workdays(task.due, following.workdays)
            )
    return step.label, step.template_name, step.level, next_label, next_date


def _days_left_or_overdue(
    task: Task, today: date, context: DeliveryContext
) -> tuple[int | None, int | None]:
    """Working days until the task's due date, or past it (the other None)."""
    if today <= task.due:
        return _known(context.calendar.maybe_count_workdays(today, task.due)), None
    return None, _known(context.calendar.maybe_count_workdays(task.due, today))


def _day_text(day: date | Unpublished) -> str:
    """A step's day as a message prints it: ISO, or 待日历公布."""
    return str(day) if isinstance(day, Unpublished) else day.isoformat()


def _known(count: int | Unpublished) -> int | None:
    """A count of working days, or None (not printed) while it needs an unpublished year."""
    return None if isinstance(count, Unpublished) else count


_SIBLINGS = "duban.message.siblings"  # session.info key: (measure, deadline) -> tasks
_LOADED = "duban.message.sibling_measures"  # session.info key: measures read


def _siblings(session: Session, measure_id: int, deadline: Any) -> list[tuple[int, str, str]]:
    """(task id, department name, role) of the measure's tasks with ``deadline``,
    by role and name; read once per session and measure (see :func:`preload`)."""
    if measure_id not in session.info.get(_LOADED, ()):
        _load_siblings(session, [measure_id])
    return list(session.info[_SIBLINGS].get((measure_id, deadline), []))


def _load_siblings(session: Session, measure_ids: Sequence[int]) -> None:
    known: dict[tuple[int, Any], list[tuple[int, str, str]]] = session.info.setdefault(
        _SIBLINGS, {}
    )
    loaded: set[int] = session.info.setdefault(_LOADED, set())
    fresh = [m for m in measure_ids if m not in loaded]
    if not fresh:
        return
    rows = session.execute(
        select(Task.id, Task.measure_id, Task.deadline, Department.name, Task.role)
        .join(Department, Task.department_id == Department.id)
        .where(Task.measure_id.in_(fresh))
        .order_by(Task.role, Department.name)
    )
    for task_id, measure_id, deadline, name, role in rows:
        known.setdefault((measure_id, deadline), []).append((task_id, name, role))
    loaded.update(fresh)


def preload(session: Session, deliveries: Sequence[Delivery]) -> list[object]:
    """Read what composing ``deliveries`` needs with a few queries, into the
    session (their notices, tasks, measures, departments; each measure's tasks
    for the "other departments" lines). Returns the objects read: the caller
    holds them so the session's identity map keeps them for its ``get`` calls."""
    notice_ids = [item.notice_id for delivery in deliveries for item in delivery.items]
    if not notice_ids:
        return []
    # One query for each notice with its task, measure and department, and the
    # department's link generation (no row: 0), which its links are signed with.
    rows = session.execute(
        select(Notice, Task, Measure, Department, DepartmentLinkEpoch.epoch)
        .join(Task, Task.id == Notice.task_id)
        .join(Measure, Measure.id == Task.measure_id)
        .join(Department, Department.id == Task.department_id)
        .outerjoin(DepartmentLinkEpoch, DepartmentLinkEpoch.department_id == Department.id)
        .where(Notice.id.in_(notice_ids))
    ).all()
    tasks = {task.id: task for _notice, task, _measure, _department, _epoch in rows}
    departments = {department.id: department for *_, department, _epoch in rows}
    remember_epochs(session, {department.id: epoch for *_, department, epoch in rows})
    readers = {
        d.contact.department_id for d in deliveries if d.contact.department_id is not None
    } - departments.keys()
    if readers:  # a lead department told only of its supporters' tasks
        departments.update(
            (department.id, department)
            for department in session.scalars(
                select(Department).where(Department.id.in_(readers))
            )
        )
    preload_epochs(session, readers)  # the other readers' link generations
    _load_siblings(session, sorted({t.measure_id for t in tasks.values()}))
    held: list[object] = [entity for row in rows for entity in row[:4]]
    return held + list(departments.values())


def forget_preloaded(session: Session) -> None:
    """Drop what :func:`preload` cached in ``session.info`` (each measure's
    tasks), so a session that composes many large messages holds only the
    current ones' (the next :func:`preload` or :func:`compose` reads again)."""
    session.info.pop(_SIBLINGS, None)
    session.info.pop(_LOADED, None)
