"""Assignment on the reference plan, on SQLite and PostgreSQL, without Prefect."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.assignment import AssignmentPolicy
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar
from duban.services.plans.assignment import assign_measure
from duban.services.plans.files import parse_plan_file
from duban.services.plans.importer import import_plan
from duban.services.plans.to_assign import measures_to_run
from models import Department, Notice, Task, TaskEvent
from tests.paths import REFERENCE_PLAN

NOW = datetime(2014, 9, 1, 1, 0, tzinfo=UTC)
DISTRICTS = 8  # 3 districts and 5 functional areas in the default directory


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return build_work_calendar([])


@pytest.fixture
def imported(session_factory: sessionmaker[Session], synced_directory: None) -> str:
    draft, text = parse_plan_file(REFERENCE_PLAN)
    report = import_plan(draft, session_factory=session_factory, source_text=text)
    return report.key


def assign_all(session_factory: sessionmaker[Session], plan: str, calendar: WorkCalendar,
               **kw: object) -> int:
    created = 0
    for ref in measures_to_run(session_factory, plan=plan, measure=None):
        if ref.assignable:
            result = assign_measure(session_factory, plan=plan, measure=ref.number, now=NOW,
                                    calendar=calendar, **kw)  # type: ignore[arg-type]
            created += len(result.created)
    return created


def task_rows(session_factory: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with session_factory() as session:
        return sorted(
            session.execute(
                select(Task.measure_id, Department.name, Task.named_as, Task.role, Task.deadline,
                       Task.due).join(Department)
            ).all()
        )


def test_reference_plan_yields_expected_tasks(
    session_factory: sessionmaker[Session], imported: str, calendar: WorkCalendar
) -> None:
    created = assign_all(session_factory, imported, calendar)
    with session_factory() as session:
        tasks = session.scalars(select(Task)).all()
        assert len(tasks) == created == 213
        assert all(calendar.is_workday(t.due) for t in tasks)
        by_measure = Counter(t.measure.number for t in tasks)
        # Measure 8: 2 deadlines x (lead + 3 departments + 8 districts).
        assert by_measure[8] == 2 * (1 + 3 + DISTRICTS)
        # Measure 6 has no dated target: the plan's horizon, one deadline.
        m6 = [t for t in tasks if t.measure.number == 6]
        assert {t.deadline.isoformat() for t in m6} == {"2020-12-31"}
        assert {(t.role, t.due.isoformat()) for t in m6} == {
            ("lead", "2020-12-31"), ("supporting", "2020-12-17")}
        districts = [t for t in tasks if t.measure.number == 10]
        assert {t.named_as for t in districts if t.role == "supporting"} == {"各区"}
        assert len({t.department.name for t in districts if t.role == "supporting"}) == DISTRICTS
        assert session.scalar(select(func.count()).select_from(Notice)) == created
        assert session.scalar(select(func.count()).select_from(TaskEvent)) == created
        assert {t.named_as for t in tasks if t.department.name == "珠海市卫生和计划生育局"} == {
            "市卫计局"}


def test_second_run_creates_nothing(
    session_factory: sessionmaker[Session], imported: str, calendar: WorkCalendar
) -> None:
    first = assign_all(session_factory, imported, calendar)
    before = task_rows(session_factory)
    assert assign_all(session_factory, imported, calendar) == 0
    assert task_rows(session_factory) == before and len(before) == first


class Crash(Exception):
    pass


def test_crash_halfway_then_rerun_equals_a_clean_run(
    session_factory: sessionmaker[Session], imported: str, calendar: WorkCalendar
) -> None:
    def crash_after_5(count: int) -> None:
        if count == 5:
            raise Crash

    with pytest.raises(Crash):
        assign_measure(session_factory, plan=imported, measure=8, now=NOW, calendar=calendar,
                       on_task_created=crash_after_5)
    assert len(task_rows(session_factory)) == 5
    result = assign_measure(session_factory, plan=imported, measure=8, now=NOW,
                            calendar=calendar)
    assert (len(result.created), len(result.existing)) == (19, 5)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Notice)) == 24
        assert session.scalar(select(func.count()).select_from(TaskEvent)) == 24


def test_concurrent_runs_never_duplicate(
    session_factory: sessionmaker[Session], imported: str, calendar: WorkCalendar, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers; concurrency is proven on PostgreSQL")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            assign_measure(session_factory, plan=imported, measure=4, now=NOW, calendar=calendar)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = task_rows(session_factory)
    assert len(rows) == len(set(rows)) == 1 + 8 + DISTRICTS


def test_policy_changes_supporting_lead_time(
    session_factory: sessionmaker[Session], imported: str, calendar: WorkCalendar
) -> None:
    assign_measure(session_factory, plan=imported, measure=9, now=NOW, calendar=calendar,
                   policy=AssignmentPolicy(support_lead_workdays=5))
    with session_factory() as session:
        lead = session.scalars(select(Task).where(Task.role == "lead")).first()
        support = session.scalars(select(Task).where(Task.role == "supporting")).first()
        assert lead is not None and support is not None
        assert calendar.count_workdays(support.due, lead.due) == 5


def test_reimport_that_drops_an_assigned_measure_is_refused(
    session_factory: sessionmaker[Session], imported: str, calendar: WorkCalendar
) -> None:
    from dataclasses import replace

    from duban.domain.errors import DubanError

    assign_measure(session_factory, plan=imported, measure=30, now=NOW, calendar=calendar)
    draft, text = parse_plan_file(REFERENCE_PLAN)
    shorter = replace(draft, measures=[m for m in draft.measures if m.number != 30])
    before = task_rows(session_factory)
    with pytest.raises(DubanError, match="措施30已交办 11 项任务"):
        import_plan(shorter, session_factory=session_factory, source_text=text)
    assert task_rows(session_factory) == before
    with session_factory() as session:
        from models import Measure

        assert session.scalar(select(func.count()).select_from(Measure)) == 30
