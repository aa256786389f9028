"""Each measure's tasks counted by stored light, kept in ``measure_lights``
(migration 0025) so the dashboard reads a row per measure instead of
grouping every task of the plan.

A kept row is right while the page finds its ``light_key`` among the
generations of the stored lights it reads (``lights_stored``'s ``base`` to
``generation``) and none of the measure's tasks stale; the page groups the
tasks of every other measure as before
(:func:`duban.services.reports.overview_pick.measure_lights`). That holds
because:

- a row is kept (:func:`keep`) only for a measure whose tasks are all stored
  in the range, counted from their stored lights in the same transaction,
  under the lock that keeps a move of the stored lights and the stores of
  stale ones out meanwhile;
- every write of a stored light deletes the row of the task's measure in the
  same transaction (:func:`forget_measures`, :func:`forget_written`,
  :func:`forget_all`, called by :func:`~duban.services.tasks.light_sql.refresh_lights`);
- anything else that changes what a light reads makes the task stale (the
  triggers of migration 0018), which the page sees;
- inserting, deleting or moving a task deletes its measures' rows (the
  triggers of migration 0025).

``tests/reports/test_kept_lights.py`` holds the dashboard's counts from kept
rows to those from the tasks on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    Connection,
    String,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)

from duban.domain.lifecycle import TaskState
from duban.domain.status import Light
from models import LightsStored, Measure, MeasureLights, Task

# The most measure ids one statement binds.
_MAX_BOUND_IDS = 5_000


def forget_measures(connection: Connection, measure_ids: Iterable[int]) -> None:
    """Deletes the kept rows of ``measure_ids`` (whose tasks' stored lights
    were just written)."""
    ids = sorted(set(measure_ids))
    for start in range(0, len(ids), _MAX_BOUND_IDS):
        connection.execute(delete(MeasureLights).where(
            MeasureLights.measure_id.in_(ids[start:start + _MAX_BOUND_IDS])))


def forget_written(connection: Connection, light_key: str) -> None:
    """Deletes the kept rows of the measures with a task stored under
    ``light_key`` (a move's new generation)."""
    connection.execute(delete(MeasureLights).where(MeasureLights.measure_id.in_(
        select(Task.measure_id).where(Task.light_key == light_key)
    )))


def forget_all(connection: Connection) -> None:
    """Deletes every kept row (every stored light is stale)."""
    connection.execute(delete(MeasureLights))


def keep(connection: Connection, low: str, high: str) -> int:
    """Keeps a row, under ``high``, for every measure without one whose tasks
    all have a stored light from ``low`` to ``high`` (the stored lights'
    generations as ``lights_stored`` names them now); first deletes rows of
    other generations. Returns how many rows it kept. The caller holds the
    lock that keeps writers of stored lights out."""
    fresh = and_(Task.light_key >= low, Task.light_key <= high)
    connection.execute(delete(MeasureLights).where(
        or_(MeasureLights.light_key < low, MeasureLights.light_key > high)))
    counted = Task.state != TaskState.CANCELLED.value
    without = (
        select(Measure.id)
        .where(~exists().where(MeasureLights.measure_id == Measure.id))
        .scalar_subquery()
    )
    rows = (
        select(
            Task.measure_id, literal(high, String(32)),
            func.sum(case((counted, 1), else_=0)),
            *(func.sum(case((and_(counted, Task.light == light.value), 1), else_=0))
              for light in _LIGHTS),
        )
        .where(Task.measure_id.in_(without))
        .group_by(Task.measure_id)
        .having(func.sum(case((fresh, 0), else_=1)) == 0)
    )
    columns = ["measure_id", "light_key", "tasks", *(light.value for light in _LIGHTS)]
    return int(connection.execute(
        insert(MeasureLights).from_select(columns, rows)).rowcount or 0)


def stored_range(connection: Connection) -> tuple[int, int] | None:
    """(base, generation) of the stored lights (None: none stored)."""
    row = connection.execute(
        select(LightsStored.base, LightsStored.generation).where(LightsStored.id == 1)
    ).first()
    return None if row is None else (row.base, row.generation)


_LIGHTS = (Light.RED, Light.YELLOW, Light.BLUE, Light.LATE, Light.GREEN)
