"""The choices the pages' filters and forms offer: departments and measures.

One place reads them, so the 督办记录 filter, the 发送记录 filter and the
督办单 form list the same departments and measures in the same order.

A log's measure filter is typed, not chosen from every measure (3,000 at
100k tasks): :func:`parse_measure_query` reads a printed number (``12``,
``措施12``, ``第12项``, or a suggestion ``措施12 标题``) or words of a title,
:func:`measure_condition` is it in SQL, :func:`measure_matches` says what it
matched; the suggestions (:func:`measure_suggestions`) are listed only for a
plan small enough to list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.services.accounts.links import department_ids_with_tasks
from models import Department, Measure


@dataclass(frozen=True)
class FilterChoices:
    """``departments``: names of departments with tasks, by name; ``measures``:
    what the typed measure filter suggests (see :func:`measure_suggestions`)."""

    departments: list[str]
    measures: list[str]


def filter_choices(session_factory: sessionmaker[Session]) -> FilterChoices:
    """The departments and measures a list of notices or deliveries filters by."""
    with session_factory() as session:
        departments = [name for _id, name in department_ids_with_tasks(session)]
    return FilterChoices(departments=departments, measures=measure_suggestions(session_factory))


def departments_with_tasks(session_factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    """(id, name) of departments that have tasks, by name."""
    with session_factory() as session:
        return department_ids_with_tasks(session)


def department_names(session_factory: sessionmaker[Session]) -> list[str]:
    """Every department's name, in the order they were added."""
    with session_factory() as session:
        return list(session.scalars(select(Department.name).order_by(Department.id)))




# A typed measure filter suggests every measure up to this many (a datalist).
MAX_SUGGESTIONS = 300
QUERY_MAX = 50  # characters of a typed measure filter kept
_NUMBER = re.compile(r"^(?:措施|第)?\s*(\d{1,6})\s*项?(?:\s.*)?$", re.S)


@dataclass(frozen=True)
class MeasureQuery:
    """A typed measure filter: the measures printed ``number`` (in any plan),
    or those whose title contains ``words``."""

    number: int | None = None
    words: str | None = None


@dataclass(frozen=True)
class MeasureMatch:
    """How many measures a query matched and the labels of the first few."""

    count: int
    labels: list[str]


def parse_measure_query(text: str | None) -> MeasureQuery | None:
    """The filter ``text`` asks for, None when it is blank (see the module)."""
    text = (text or "").strip()[:QUERY_MAX]
    if not text:
        return None
    number = _NUMBER.match(text)
    if number:
        return MeasureQuery(number=int(number.group(1)))
    return MeasureQuery(words=text)


def measure_condition(query: MeasureQuery) -> ColumnElement[bool]:
    """``query`` as a condition on Measure."""
    if query.number is not None:
        return Measure.number == query.number
    return Measure.title.contains(query.words or "", autoescape=True)


def measure_matches(
    session_factory: sessionmaker[Session], query: MeasureQuery, *, shown: int = 3
) -> MeasureMatch:
    """The measures ``query`` matches: how many, and the first ``shown`` labels."""
    with session_factory() as session:
        count = session.scalar(select(func.count(Measure.id)).where(measure_condition(query)))
        rows = session.execute(
            select(Measure.number, Measure.title).where(measure_condition(query))
            .order_by(Measure.plan_id, Measure.number).limit(shown)
        ).all()
    return MeasureMatch(count or 0, [f"措施{number} {title[:18]}" for number, title in rows])


def measure_suggestions(session_factory: sessionmaker[Session]) -> list[str]:
    """``措施N 标题`` of every measure for the filter to suggest, or none when
    there are more than :data:`MAX_SUGGESTIONS`."""
    with session_factory() as session:
        count = session.scalar(select(func.count(Measure.id))) or 0
        if count > MAX_SUGGESTIONS:
            return []
        rows = session.execute(
            select(Measure.number, Measure.title).order_by(Measure.plan_id, Measure.number)
        ).all()
    return [f"措施{number} {title[:18]}" for number, title in rows]
