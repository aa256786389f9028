"""The ledger (台账): every task as one row, with its history, as of a day.

:func:`build_ledger` (or :func:`load_ledger` inside an open session) reads the
tasks of one plan, or of every plan, in a fixed handful of queries and returns
a :class:`Ledger`: rows in plan, measure, deadline, role order, each with the
task's status and light on ``as_of`` (derived as in
:mod:`duban.services.tasks.queries`), and its history up to the end of ``as_of``:
progress reports, extension requests, escalations (ladder steps of level ≥ 1
that were not superseded) and completion. Summaries per section and per
department count the rows (:mod:`duban.services.reports.ledger_model`). The
rows are made in :mod:`duban.services.reports.ledger_rows`. The
workbook and CSV are written by
:mod:`duban.services.reports.ledger_files`; the scorecard, the weekly digest and the
calendar feeds read the same rows.
"""


from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ARRAY, Integer, Select, case, column, func, literal, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.items import item_source_text
from duban.domain.status import StatusPolicy
from duban.domain.workdays import WorkCalendar
from duban.services.accounts.org import org_settings
from duban.services.plans.catalog import find_plan
from duban.services.reports.ledger_model import DEFAULT_ISSUER, Ledger, LedgerRow
from duban.services.reports.ledger_rows import LedgerRelated, TaskColumns, ledger_row
from duban.services.tasks.facts import LOCAL_ZONE
from models import Department, Measure, Plan, Task

# --- loading -------------------------------------------------------------------


def build_ledger(
    session_factory: sessionmaker[Session],
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    plan: str | int | None = None,
    all_plans: bool = False,
    department_ids: Sequence[int] | None = None,
    measure_id: int | None = None,
    zone: tzinfo = LOCAL_ZONE,
) -> Ledger:
    """The ledger of ``plan`` (key or id; None: the only plan, or every plan
    with ``all_plans``) as of the day ``as_of``; see :func:`load_ledger`."""
    with session_factory() as session:
        return load_ledger(
            session,
            as_of=as_of,
            calendar=calendar,
            policy=policy,
            plan=plan,
            all_plans=all_plans,
            department_ids=department_ids,
            measure_id=measure_id,
            zone=zone,
        )


def load_ledger(
    session: Session,
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    plan: str | int | None = None,
    all_plans: bool = False,
    department_ids: Sequence[int] | None = None,
    measure_id: int | None = None,
    zone: tzinfo = LOCAL_ZONE,
    states: Collection[str] | None = None,
    task_ids: Collection[int] | None = None,
    next_steps: bool = True,
) -> Ledger:
    """The ledger read in ``session`` (read only).

    ``department_ids`` keeps only those departments' tasks, ``measure_id``
    only that measure's (of ``plan``, or of any plan with ``all_plans``),
    ``states`` only the tasks in those states, ``task_ids`` only those tasks
    (the plans listed still every plan the ledger covers); without
    ``next_steps`` the rows' ``next_step`` is left empty. Raises
    NotFoundError for an unknown plan, DubanError when no plan is named, not
    ``all_plans``, and several are stored, and CalendarError when a date
    involved lies outside the calendar.
    """
    policy = policy or StatusPolicy()
    plans, query = _task_query(session, plan=plan, all_plans=all_plans,
                               department_ids=department_ids, measure_id=measure_id,
                               states=states, task_ids=task_ids)
    ledger = Ledger(
        as_of=as_of,
        plans=[(p.key, p.title) for p in plans],
        department_order=department_order(session),
        issuer=org_settings(session).documents.issuer or DEFAULT_ISSUER,
    )
    tasks = [
        TaskColumns(*row)
        for row in session.execute(query.with_only_columns(*TaskColumns.selected()))
    ]
    if not tasks:
        return ledger
    ids = query.with_only_columns(Task.id).order_by(None)
    related = LedgerRelated.load(session, ids, until=end_of_day(as_of, zone))
    for task in tasks:
        ledger.rows.append(ledger_row(task, related, as_of, calendar, policy, zone,
                                      next_step=next_steps))
    _sort_rows(ledger)
    return ledger


# Tasks a streamed ledger reads, assesses and hands on at a time (at least):
# each batch costs PostgreSQL four round trips of its history, which at 1,000
# a batch (100 batches at 100k tasks) took more time than the rows they read.
BATCH = 5000
IDS_LISTED = 10000  # a batch's tasks named by id in its history's queries up to this many


@dataclass
class LedgerStream:
    """A ledger whose rows are made a batch at a time as they are taken:
    ``ledger`` is its head (day, plans, directory's order, issuer; no rows),
    ``rows`` yields the rows in the ledger's order (as :func:`load_ledger`
    sorts them) while the session it was opened in stays open, and
    ``item_sources`` tells whether any row has a single 督办件's source.

    ``batches`` yields the same tasks a batch at a time, each batch's
    history read into ``related`` when it comes (replacing the last's), for
    a writer that makes its cells without a row per task
    (:mod:`duban.services.reports.ledger_cells`) with ``calendar``,
    ``policy`` and ``zone``. ``rows`` takes its tasks from ``batches``:
    take one of them, once."""

    ledger: Ledger
    rows: Iterator[LedgerRow]
    item_sources: bool
    batches: Iterator[list[TaskColumns]]
    related: LedgerRelated
    calendar: WorkCalendar
    policy: StatusPolicy
    zone: tzinfo


def stream_ledger(
    session: Session,
    *,
    as_of: date,
    calendar: WorkCalendar,
    policy: StatusPolicy | None = None,
    plan: str | int | None = None,
    all_plans: bool = False,
    zone: tzinfo = LOCAL_ZONE,
    batch: int = BATCH,
    listed: int = IDS_LISTED,
) -> LedgerStream:
    """The ledger of :func:`load_ledger` (every task of ``plan``, or of every
    plan with ``all_plans``), its rows read in the ledger's order and made a
    batch at a time: the tasks of whole measures, ``batch`` tasks or a few
    more, so memory holds one batch whatever the number of tasks; a batch's
    history read by its tasks' ids up to ``listed`` of them, else by its
    measures. Raises as :func:`load_ledger`."""
    policy = policy or StatusPolicy()
    plans, query = _task_query(session, plan=plan, all_plans=all_plans,
                               department_ids=None, measure_id=None, states=None)
    ledger = Ledger(
        as_of=as_of,
        plans=[(p.key, p.title) for p in plans],
        department_order=department_order(session),
        issuer=org_settings(session).documents.issuer or DEFAULT_ISSUER,
    )
    ids = query.with_only_columns(Task.id).order_by(None)
    related = LedgerRelated.load_shared(session, ids, until=end_of_day(as_of, zone))
    # The order of _sort_rows: plans by id, 牵头 first, departments in the
    # directory's order, which is their ids' (names are unique).
    ordered = query.order_by(None).order_by(
        Plan.id, Measure.number, Task.deadline, case((Task.role == "lead", 0), else_=1),
        Task.department_id, Task.id,
    )

    def loaded(tasks: list[TaskColumns]) -> list[TaskColumns]:
        # The batch's ladders' versions are its tasks' own column (a DISTINCT
        # over the batch's ids cost PostgreSQL ~3 ms a batch).
        policy_ids = {task.policy_id for task in tasks}
        if len(tasks) <= listed:
            # The batch's ids listed: with the ledger's query as a subquery
            # PostgreSQL scanned the escalations (every notice) once per batch.
            related.load_tasks(session, listed_ids(session, [task.id for task in tasks]),
                               policy_ids=policy_ids)
        else:  # a measure of very many tasks: fewer bound values than tasks
            measure_ids = sorted({task.measure_id for task in tasks})
            related.load_tasks(session, ids.where(Task.measure_id.in_(measure_ids)),
                               policy_ids=policy_ids)
        return tasks

    def batches() -> Iterator[list[TaskColumns]]:
        # Batches of whole measures (the tasks come measure by measure): a
        # batch's history is read by its few measures, not its many tasks.
        tasks: list[TaskColumns] = []
        for row in session.connection().execute(
            ordered.with_only_columns(*TaskColumns.selected()),
            execution_options={"yield_per": batch},
        ):
            task = TaskColumns(*row)
            if len(tasks) >= batch and task.measure_id != tasks[-1].measure_id:
                yield loaded(tasks)
                tasks = []
            tasks.append(task)
        if tasks:
            yield loaded(tasks)

    tasks_read = batches()

    def rows() -> Iterator[LedgerRow]:
        for tasks in tasks_read:
            for task in tasks:
                yield ledger_row(task, related, as_of, calendar, policy, zone)

    item_sources = any(
        item_source_text(m.source_kind, m.doc_ref, m.instructed_by)
        for m in related.measures.values()
    )
    return LedgerStream(ledger, rows(), item_sources, tasks_read, related, calendar, policy,
                        zone)


def listed_ids(session: Session, ids: list[int]) -> Select[Any] | list[int]:
    """``ids`` for ``column.in_(…)`` as one bound value, the subquery of its
    elements (PostgreSQL: an array unnested, SQLite: a JSON array's
    ``json_each``), so that a statement reading a batch binds one value, not
    one per id (SQLAlchemy's expanded IN spent more time binding a thousand
    ids than SQLite took to read their rows); the list elsewhere."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return select(func.unnest(literal(ids, ARRAY(Integer))))
    if dialect == "sqlite":
        return select(column("value", Integer)).select_from(
            func.json_each(literal(json.dumps(ids))))
    return ids


def _task_query(
    session: Session,
    *,
    plan: str | int | None,
    all_plans: bool,
    department_ids: Sequence[int] | None,
    measure_id: int | None,
    states: Collection[str] | None,
    task_ids: Collection[int] | None = None,
) -> tuple[list[Plan], Select[Task]]:
    """The plans a ledger covers and the query of its tasks (see :func:`load_ledger`)."""
    query = select(Task).join(Task.measure).join(Measure.plan)
    if all_plans and plan is None:
        plans = list(session.scalars(select(Plan).order_by(Plan.id)))
    else:
        found = find_plan(plan, session=session)
        plans = [found]
        query = query.where(Measure.plan_id == found.id)
    if department_ids is not None:
        query = query.where(Task.department_id.in_(list(department_ids)))
    if measure_id is not None:
        query = query.where(Task.measure_id == measure_id)
    if states is not None:
        query = query.where(Task.state.in_(list(states)))
    if task_ids is not None:
        query = query.where(Task.id.in_(list(task_ids)))
    return plans, query.order_by(Plan.id, Measure.number, Task.deadline, Task.role, Task.id)


def _sort_rows(ledger: Ledger) -> None:
    """Rows by plan, measure and deadline; within them 牵头 first, then the
    directory's order."""
    plan_order = {key: index for index, (key, _title) in enumerate(ledger.plans)}
    ledger.rows.sort(
        key=lambda r: (
            plan_order.get(r.plan, 0),
            r.measure,
            r.deadline,
            r.role != "lead",
            ledger.department_key(r.department),
            r.task_id,
        )
    )


def department_order(session: Session) -> dict[str, int]:
    """The directory's order (机构序列) of the departments: name → position.
    Departments are stored in the order the directory file lists them."""
    names = session.scalars(select(Department.name).order_by(Department.id))
    return {name: index for index, name in enumerate(names)}


def end_of_day(day: date, zone: tzinfo) -> datetime:
    """The moment ``day`` ends in ``zone`` (the next day's midnight)."""
    return datetime.combine(day + timedelta(days=1), time.min, zone)
