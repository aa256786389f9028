"""The choices the pages' filters and forms offer: departments and measures.

One place reads them, so the 督办记录 filter, the 发送记录 filter and the
督办单 form list the same departments and measures in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.accounts.links import department_ids_with_tasks
from models import Department, Measure, Plan


@dataclass(frozen=True)
class FilterChoices:
    """``departments``: names of departments with tasks, by name; ``measures``:
    (id, label) of every measure (see :func:`measure_choices`)."""

    departments: list[str]
    measures: list[tuple[int, str]]


def filter_choices(session_factory: sessionmaker[Session]) -> FilterChoices:
    """The departments and measures a list of notices or deliveries filters by."""
    with session_factory() as session:
        return FilterChoices(
            departments=[name for _id, name in department_ids_with_tasks(session)],
            measures=measure_choices(session),
        )


def departments_with_tasks(session_factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    """(id, name) of departments that have tasks, by name."""
    with session_factory() as session:
        return department_ids_with_tasks(session)


def department_names(session_factory: sessionmaker[Session]) -> list[str]:
    """Every department's name, in the order they were added."""
    with session_factory() as session:
        return list(session.scalars(select(Department.name).order_by(Department.id)))


def measure_choices(session: Session) -> list[tuple[int, str]]:
    """(id, 措施N 标题) of every measure, plan by plan; the plan's key first
    when there are several plans."""
    rows = session.execute(
        select(Measure.id, Measure.number, Measure.title, Plan.key)
        .join(Plan, Plan.id == Measure.plan_id)
        .order_by(Plan.id, Measure.number)
    ).all()
    several = len({key for *_rest, key in rows}) > 1
    return [
        (mid, f"{key + ' ' if several else ''}措施{number} {title[:18]}")
        for mid, number, title, key in rows
    ]
