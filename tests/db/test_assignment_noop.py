"""Whether assigning a measure again would change anything, decided by the
assignment's own reading of the plan and of the tasks' fates: the demo starts
no flow for a measure whose assignment would be a no-op."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from duban.services.plans.assignment import (
    AssignResult,
    assign_measure,
    assignment_would_change,
)
from tests.db.test_changed_plans import AFTER, ASSIGNED, BEFORE, CALENDAR, CHANGED, _import


def would_change(session_factory: sessionmaker[Session], key: str) -> dict[int, bool]:
    return {
        n: assignment_would_change(session_factory, plan=key, measure=n, calendar=CALENDAR)
        for n in (1, 2)
    }


def assign(
    session_factory: sessionmaker[Session], key: str, measure: int, at: datetime
) -> AssignResult:
    return assign_measure(session_factory, plan=key, measure=measure,
                          now=at.astimezone(UTC), calendar=CALENDAR)


def test_a_measure_not_yet_assigned_would_change_and_once_assigned_would_not(
    session_factory: sessionmaker[Session], synced_directory: None
) -> None:
    key = _import(session_factory, BEFORE).key
    assert would_change(session_factory, key) == {1: True, 2: True}
    assign(session_factory, key, 1, ASSIGNED)
    assert would_change(session_factory, key) == {1: False, 2: True}
    assign(session_factory, key, 2, ASSIGNED)
    assert would_change(session_factory, key) == {1: False, 2: False}


def test_a_changed_plan_would_change_until_assigned_again_which_cancels_the_old_tasks(
    session_factory: sessionmaker[Session], synced_directory: None
) -> None:
    key = _import(session_factory, BEFORE).key
    for n in (1, 2):
        assign(session_factory, key, n, ASSIGNED)
    assert _import(session_factory, AFTER).key == key
    # Measure 1 loses its lead and its supporting unit (tasks to cancel, a new
    # lead's task to create); measure 2's date moves (replaced tasks).
    assert would_change(session_factory, key) == {1: True, 2: True}
    results = [assign(session_factory, key, n, CHANGED) for n in (1, 2)]
    assert all(r.cancelled for r in results)
    assert would_change(session_factory, key) == {1: False, 2: False}
    # Running the no-op assignment indeed changes nothing.
    again = [assign(session_factory, key, n, CHANGED) for n in (1, 2)]
    assert not any(r.created or r.cancelled for r in again)


def test_only_a_withdrawn_task_still_open_would_change(
    session_factory: sessionmaker[Session], synced_directory: None
) -> None:
    """A plan that only drops a supporting unit creates nothing: the check
    must see the task the assignment would cancel."""
    key = _import(session_factory, BEFORE).key
    for n in (1, 2):
        assign(session_factory, key, n, ASSIGNED)
    dropped = BEFORE.replace("(市卫计局牵头,市财政局配合)", "(市卫计局牵头)")
    assert dropped != BEFORE
    _import(session_factory, dropped)
    assert would_change(session_factory, key) == {1: False, 2: True}
    result = assign(session_factory, key, 2, CHANGED)
    assert not result.created and len(result.cancelled) == 1
    assert would_change(session_factory, key) == {1: False, 2: False}
