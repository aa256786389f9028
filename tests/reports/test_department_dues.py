"""Every task counted by department, state and due date in department_dues
(models.DepartmentDues, kept by the triggers of migration 0026) is the
grouping of the tasks themselves, through the lifecycle services' writes and
random Core and ORM writes (tasks inserted, deleted, moved to another
department, measure, state or due date, one by one and in bulk as a plan's
withdrawal or a calendar's new due dates write them), on SQLite and
PostgreSQL; and the dashboard reads it: a kept row made wrong by hand shows
in its department chart and trend (so the comparison can fail)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.lifecycle import TaskState
from duban.services.reports.overview import measure_overview
from models import Department, DepartmentDues, Task
from tests.db.conftest import at
from tests.reports.conftest import History
from tests.reports.test_scorecard_sql import seed_varied

DAY = date(2016, 1, 20)
Groups = dict[tuple[int, str, date], int]


def _kept(session_factory: sessionmaker[Session]) -> Groups:
    with session_factory() as session:
        return {(d, s, due): n for d, s, due, n in session.execute(
            select(DepartmentDues.department_id, DepartmentDues.state, DepartmentDues.due,
                   DepartmentDues.tasks))}


def _grouped(session_factory: sessionmaker[Session]) -> Groups:
    with session_factory() as session:
        return {(d, s, due): n for d, s, due, n in session.execute(
            select(Task.department_id, Task.state, Task.due, func.count())
            .group_by(Task.department_id, Task.state, Task.due))}


def _write(session_factory: sessionmaker[Session], rng: random.Random) -> str:
    """One random write of the tasks, as the services write them."""
    kind = rng.choice(["due", "state", "department", "measure", "several", "same",
                       "insert", "delete", "withdraw", "shift"])
    with session_factory.begin() as session:
        ids = list(session.scalars(select(Task.id).order_by(Task.id)))
        measures = sorted(set(session.scalars(select(Task.measure_id))))
        departments = list(session.scalars(select(Department.id).order_by(Department.id)))
        task = session.get(Task, rng.choice(ids))
        assert task is not None
        one = update(Task).where(Task.id == task.id)
        if kind == "due":
            session.execute(one.values(due=DAY + timedelta(days=rng.randrange(-30, 30))))
        elif kind == "state":
            session.execute(one.values(state=rng.choice([s.value for s in TaskState])))
        elif kind == "department":  # a reassignment
            session.execute(one.values(department_id=rng.choice(departments)))
        elif kind == "measure":
            session.execute(one.values(measure_id=rng.choice(measures)))
        elif kind == "several":  # through the ORM, flushed as one update
            task.state = rng.choice([s.value for s in TaskState])
            task.due = task.due + timedelta(days=rng.randrange(1, 9))
            task.department_id = rng.choice(departments)
        elif kind == "same":  # columns written with the values they have
            session.execute(one.values(state=task.state, due=task.due,
                                       department_id=task.department_id, named_as="同"))
        elif kind == "insert":
            session.execute(insert(Task).values(
                measure_id=rng.choice(measures), department_id=rng.choice(departments),
                named_as=f"新单位{rng.randrange(10**6)}", role="supporting", deadline=DAY,
                due=DAY + timedelta(days=rng.randrange(-5, 5)), original_due=DAY,
                state=rng.choice(["assigned", "submitted"]), assigned_at=at("2015-03-02"),
                version=1))
        elif kind == "delete":  # tasks without rows of their own (inserted here)
            session.execute(delete(Task).where(Task.named_as.like("新单位%"),
                                               Task.department_id == task.department_id))
        elif kind == "withdraw":  # a plan withdrawn: its measure's open tasks cancelled
            session.execute(update(Task).where(
                Task.measure_id == task.measure_id,
                Task.state.not_in([TaskState.APPROVED.value, TaskState.CANCELLED.value]),
            ).values(state=TaskState.CANCELLED.value))
        else:  # a calendar's new due dates: every task due on one day moved
            session.execute(update(Task).where(Task.due == task.due)
                            .values(due=task.due + timedelta(days=1)))
    return kind


def test_kept_counts_are_the_tasks_grouped_through_random_writes(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    seed_varied(session_factory, 11, tasks=150)
    before = _grouped(session_factory)
    assert len(before) >= 20 and 0 not in before.values()
    assert _kept(session_factory) == before
    rng = random.Random(11)
    kinds = set()
    differences = []
    for step in range(60):
        kind = _write(session_factory, rng)
        kinds.add(kind)
        kept, grouped = _kept(session_factory), _grouped(session_factory)
        if kept != grouped:
            differences.append((step, kind, set(kept.items()) ^ set(grouped.items())))
    assert differences == []
    assert kinds >= {"due", "state", "department", "measure", "several", "insert", "delete",
                     "withdraw", "shift"}


def test_the_dashboard_reads_the_kept_counts(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    """A kept row made wrong by hand changes the department chart and the
    overdue trend; the grouping it stands for is written right again by the
    next change of its tasks."""
    seed_varied(session_factory, 12, tasks=80)

    def charts() -> tuple:
        got = measure_overview(session_factory, as_of=DAY, calendar=history.calendar,
                               charts=True)
        return list(got.department_rows or []), got.trend

    before = charts()
    with session_factory() as session:
        department_id, due = session.execute(
            select(Task.department_id, Task.due)
            .where(Task.state == TaskState.ASSIGNED.value, Task.due < DAY - timedelta(days=3))
            .order_by(Task.id)
        ).first()
    with session_factory.begin() as session:
        session.execute(text(
            "UPDATE department_dues SET tasks = tasks + 3 WHERE department_id = :d"
            " AND state = 'assigned' AND due = :due"), {"d": department_id, "due": due})
    drifted = charts()
    assert drifted[0] != before[0]
    assert drifted[1] != before[1]
    # Kept exactly from then on: three more than its tasks.
    assert _kept(session_factory)[(department_id, "assigned", due)] == (
        _grouped(session_factory)[(department_id, "assigned", due)] + 3)
