"""The demo's departments at work: what they (and the 督办科) do during the
replay, so the pages show every state — not 212 of 213 tasks red or yellow.

:func:`plan_work` reads the assigned tasks once and returns, per working day,
the actions of that morning (before the day's round, so the ladder sees
them): departments in four habits by their place in the directory —

- diligent: 签收 the next day, a 进度反馈 every quarter (with indicator values
  on their straight line), 报结 a week before the due date, 办结 by the
  coordinator three days later;
- steady: 签收 within two days, a report every other quarter (values behind
  their line), 报结 a few days after the due date (逾期办结);
- slow: 签收 only after the 签收提醒, nothing more (their overdue tasks climb
  the ladder);
- silent: nothing (催办, 督办 and 约谈 as the ladder has them);

plus the cases a coordinator meets: an extension approved, one waiting for a
decision, a 报结 returned with its reason, two 报结 waiting for review, and a
督办科催办 by hand. The demo department (:data:`SHOWN`, whose link the demo
prints) is diligent and gets the returned and the waiting cases, so its
page shows every tab. Nothing is planned when departments have acted
already (the demo run again changes nothing).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from duban.domain.lifecycle import Action
from duban.domain.workdays import WorkCalendar
from duban.services.desk.urge import urge_now
from duban.services.tasks import extensions, lifecycle
from duban.services.tasks.facts import numeric_targets
from models import Department, Measure, Task, TaskEvent

SHOWN = "珠海市民政局"
COORDINATOR = "督办科(张科长)"
HABITS = ("diligent", "steady", "slow", "silent")
PEOPLE = "王李张刘陈杨黄赵周吴"
GIVEN = "明华强丽静敏军磊洋勇"
Act = Callable[[datetime], object]
R = TypeVar("R")


@dataclass(frozen=True)
class _Task:
    id: int
    department: str
    habit: str
    person: str
    due: date
    assigned_on: date
    values: dict[str, float]  # indicator → target value


def plan_work(
    session_factory: sessionmaker[Session],
    *,
    start: date,
    end: date,
    calendar: WorkCalendar,
    zone: ZoneInfo,
) -> dict[date, list[Act]]:
    """Each working day's actions (see the module doc) between ``start`` and
    ``end`` (days in the organisation's ``zone``)."""
    tasks = _tasks(session_factory, zone)
    if not tasks:
        return {}
    work: dict[date, list[Act]] = defaultdict(list)
    sf = session_factory

    def on(day: date, act: Act) -> None:
        day = calendar.workday_on_or_after(day)
        if start < day <= end:
            work[day].append(act)

    _END[:] = [end]
    quarter_ends = _quarter_ends(start, end)
    special = _specials(tasks, end)
    for task in tasks:
        if task.habit == "silent":
            continue
        ack_after = {"diligent": 1, "steady": 2, "slow": 4}[task.habit]
        on(calendar.add_workdays(task.assigned_on, ack_after), _ack(sf, task))
        if task.habit == "slow":
            continue
        every = 1 if task.habit == "diligent" else 2
        for index, quarter_end in enumerate(quarter_ends):
            report_day = calendar.add_workdays(quarter_end, 3)
            if index % every or report_day >= task.due:
                continue
            on(report_day, _report(sf, task, quarter_end))
        role = special.get(task.id)
        if role is not None:
            for day, act in role(task, calendar, sf):
                on(day, act)
        elif task.due <= end:
            if task.habit == "diligent":
                submit = calendar.add_workdays(task.due, -5)
                on(submit, _submit(sf, task, "已按方案要求完成,佐证材料已归档。"))
                on(calendar.add_workdays(submit, 3), _approve(sf, task))
            else:
                submit = calendar.add_workdays(task.due, 3)
                on(submit, _submit(sf, task, "已完成,因协调事项较多略有延误。"))
                on(calendar.add_workdays(submit, 2), _approve(sf, task))
    urged = next((t for t in tasks if t.habit == "slow" and t.due < end - timedelta(days=30)),
                 None)
    if urged is not None:
        on(calendar.add_workdays(end, -2), lambda now: urge_now(
            [urged.id], actor=COORDINATOR, note="请于本周内报结,确有困难请书面说明原因。",
            now=now, session_factory=sf))
    return work


def morning(
    work: dict[date, list[Act]], zone: ZoneInfo, run: Callable[[datetime], R]
) -> Callable[[datetime], R]:
    """A replay's morning: the day's actions at 08:30, then the round."""

    def run_morning(now: datetime) -> R:
        day = now.astimezone(zone).date()
        moment = datetime.combine(day, time(8, 30), zone)
        for act in work.pop(day, []):
            act(moment)
        return run(now)

    return run_morning


# --- the tasks -----------------------------------------------------------------------


def _tasks(session_factory: sessionmaker[Session], zone: ZoneInfo) -> list[_Task]:
    """Every task with its department's habit; none when departments acted already."""
    with session_factory() as session:
        acted = session.scalar(
            select(TaskEvent.id).where(TaskEvent.action != Action.ASSIGN.value).limit(1))
        if acted is not None:
            return []
        order = {row.id: index for index, row in enumerate(
            session.scalars(select(Department).order_by(Department.id)))}
        rows = session.scalars(
            select(Task).options(joinedload(Task.department),
                                 joinedload(Task.measure).joinedload(Measure.targets))
            .order_by(Task.id)
        ).unique().all()
        tasks = []
        for row in rows:
            index = order.get(row.department_id, 0)
            habit = "diligent" if row.department.name == SHOWN else HABITS[index % 4]
            numeric = numeric_targets(row, row.measure.targets)
            tasks.append(_Task(
                id=row.id, department=row.department.name, habit=habit,
                person=PEOPLE[index % 10] + GIVEN[(index // 10) % 10],
                due=row.due, assigned_on=row.assigned_at.astimezone(zone).date(),
                values={(t.indicator or t.text): float(t.value or 0) for t in numeric},
            ))
    return tasks


def _quarter_ends(start: date, end: date) -> list[date]:
    ends: list[date] = []
    year, month = start.year, ((start.month - 1) // 3 + 1) * 3
    while True:
        last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        if last > end:
            return ends
        if last >= start:
            ends.append(last)
        year, month = (year + 1, 3) if month == 12 else (year, month + 3)


Role = Callable[[_Task, WorkCalendar, sessionmaker[Session]], list[tuple[date, Act]]]


def _specials(tasks: list[_Task], end: date) -> dict[int, Role]:
    """The tasks that play the coordinator's cases, chosen by rule."""
    shown = [t for t in tasks if t.department == SHOWN]
    roles: dict[int, Role] = {}

    def first(candidates: list[_Task]) -> _Task | None:
        free = [t for t in candidates if t.id not in roles]
        return free[0] if free else None

    returned = first([t for t in shown if t.due > end])
    if returned is not None:
        roles[returned.id] = _returned
    for waiting in range(2):
        task = first([t for t in shown if t.due > end]) if waiting == 0 else first(
            [t for t in tasks if t.habit == "diligent" and t.due > end])
        if task is not None:
            roles[task.id] = _awaiting_review
    extended = first([t for t in tasks if t.habit == "steady" and t.due <= end])
    if extended is not None:
        roles[extended.id] = _extended
    pending = first([t for t in tasks if t.habit == "steady" and t.due > end])
    if pending is not None:
        roles[pending.id] = _extension_pending
    return roles


def _returned(task: _Task, calendar: WorkCalendar, sf: sessionmaker[Session]) -> list[
        tuple[date, Act]]:
    """报结 ten working days before the end, 退回 by the coordinator four days later."""
    day = calendar.add_workdays(_END[0], -12)
    return [
        (day, _submit(sf, task, "已完成,附工作总结。")),
        (calendar.add_workdays(day, 4), lambda now: lifecycle.return_(
            task.id, actor=COORDINATOR, reason="佐证材料不全:请补充验收报告和现场照片后重新报结。",
            now=now, session_factory=sf)),
    ]


def _awaiting_review(task: _Task, calendar: WorkCalendar, sf: sessionmaker[Session]) -> list[
        tuple[date, Act]]:
    return [(calendar.add_workdays(_END[0], -3), _submit(sf, task, "提前完成,请审核。"))]


def _extended(task: _Task, calendar: WorkCalendar, sf: sessionmaker[Session]) -> list[
        tuple[date, Act]]:
    """An extension asked a week before the due date, approved the next day."""
    asked = calendar.add_workdays(task.due, -5)
    new_due = date(task.due.year + 1, 3, 31)
    granted: list[int] = []

    def request(now: datetime) -> None:
        result = extensions.request_extension(
            task.id, department=task.department, new_due=new_due, actor=task.person,
            reason="涉及多部门协调,需延长办理时间。", now=now, calendar=calendar,
            session_factory=sf)
        assert result.extension_id is not None
        granted.append(result.extension_id)

    def decide(now: datetime) -> None:
        extensions.approve_extension(granted[0], actor=COORDINATOR,
                                    note="同意,请按新期限办结。", now=now, session_factory=sf)

    return [(asked, request), (calendar.add_workdays(asked, 1), decide)]


def _extension_pending(task: _Task, calendar: WorkCalendar, sf: sessionmaker[Session]) -> list[
        tuple[date, Act]]:
    new_due = task.due + timedelta(days=90)
    return [(calendar.add_workdays(_END[0], -2), lambda now: extensions.request_extension(
        task.id, department=task.department, new_due=new_due, actor=task.person,
        reason="项目审批程序尚未完成,申请延期三个月。", now=now, calendar=calendar,
        session_factory=sf))]


_END: list[date] = [date.max]  # the replay's last day, while plan_work runs


# --- single actions -------------------------------------------------------------------


def _ack(sf: sessionmaker[Session], task: _Task) -> Act:
    return lambda now: lifecycle.acknowledge(
        task.id, department=task.department, actor=task.person, now=now, session_factory=sf)


def _report(sf: sessionmaker[Session], task: _Task, quarter_end: date) -> Act:
    """The quarter's 进度反馈; numeric indicators from 60% of the target rising to
    it by the due date — a little ahead of that line for the diligent, a quarter
    behind it for the steady (their light turns yellow: 指标进度落后)."""
    total = max((task.due - task.assigned_on).days, 1)
    share = min(max((quarter_end - task.assigned_on).days / total, 0.0), 1.0)
    pace = 1.02 if task.habit == "diligent" else 0.75
    values = {name: round(target * min(0.6 + 0.4 * share, 1.0) * pace, 1)
              for name, target in task.values.items() if target}
    quarter = "一二三四"[(quarter_end.month - 1) // 3]
    note = f"{quarter_end.year}年第{quarter}季度:按计划推进,已完成阶段性工作。"

    def act(now: datetime) -> None:
        lifecycle.report(task.id, department=task.department, actor=task.person, note=note,
                         values=values or None, now=now, session_factory=sf)

    return act


def _submit(sf: sessionmaker[Session], task: _Task, note: str) -> Act:
    return lambda now: lifecycle.submit(
        task.id, department=task.department, actor=task.person, note=note, now=now,
        session_factory=sf)


def _approve(sf: sessionmaker[Session], task: _Task) -> Act:
    return lambda now: lifecycle.approve(
        task.id, actor=COORDINATOR, note="材料齐全,同意办结。", now=now, session_factory=sf)
