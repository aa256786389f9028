"""The task state machine: allowed paths, and refusals that name the reason."""

from __future__ import annotations

from datetime import date

import pytest

from duban.domain.lifecycle import (
    Action,
    ActorRole,
    TaskState,
    TransitionError,
    check_extension_request,
    next_state,
)

S, A, R = TaskState, Action, ActorRole

ALLOWED = [
    (S.ASSIGNED, A.ACKNOWLEDGE, R.DEPARTMENT, None, S.ACKNOWLEDGED),
    (S.ACKNOWLEDGED, A.REPORT, R.DEPARTMENT, None, S.IN_PROGRESS),
    (S.IN_PROGRESS, A.REPORT, R.DEPARTMENT, None, S.IN_PROGRESS),
    (S.IN_PROGRESS, A.SUBMIT, R.DEPARTMENT, None, S.SUBMITTED),
    (S.ACKNOWLEDGED, A.SUBMIT, R.DEPARTMENT, None, S.SUBMITTED),
    (S.SUBMITTED, A.APPROVE, R.COORDINATOR, None, S.APPROVED),
    (S.SUBMITTED, A.RETURN, R.COORDINATOR, "材料不全", S.RETURNED),
    (S.RETURNED, A.SUBMIT, R.DEPARTMENT, None, S.SUBMITTED),
    (S.RETURNED, A.REPORT, R.DEPARTMENT, None, S.IN_PROGRESS),
    (S.IN_PROGRESS, A.REQUEST_EXTENSION, R.DEPARTMENT, "汛期影响", S.IN_PROGRESS),
    (S.IN_PROGRESS, A.APPROVE_EXTENSION, R.COORDINATOR, None, S.IN_PROGRESS),
]


@pytest.mark.parametrize(("state", "action", "role", "note", "expected"), ALLOWED)
def test_allowed(state: TaskState, action: Action, role: ActorRole, note: str | None,
                 expected: TaskState) -> None:
    assert next_state(state, action, role, note=note) is expected


REFUSED = [
    (S.ASSIGNED, A.APPROVE, R.COORDINATOR, None, "尚未报结"),
    (S.IN_PROGRESS, A.APPROVE, R.COORDINATOR, None, "尚未报结"),
    (S.ASSIGNED, A.SUBMIT, R.DEPARTMENT, None, "请先签收"),
    (S.ASSIGNED, A.REPORT, R.DEPARTMENT, None, "请先签收"),
    (S.SUBMITTED, A.APPROVE, R.DEPARTMENT, None, "只能由督办科办理"),
    (S.ASSIGNED, A.ACKNOWLEDGE, R.COORDINATOR, None, "只能由责任单位办理"),
    (S.SUBMITTED, A.RETURN, R.COORDINATOR, "", "须填写理由"),
    (S.APPROVED, A.REPORT, R.DEPARTMENT, None, "已办结"),
    (S.APPROVED, A.REQUEST_EXTENSION, R.DEPARTMENT, "x", "已办结"),
    (S.ACKNOWLEDGED, A.ACKNOWLEDGE, R.DEPARTMENT, None, "已签收"),
]


@pytest.mark.parametrize(("state", "action", "role", "note", "message"), REFUSED)
def test_refused(state: TaskState, action: Action, role: ActorRole, note: str | None,
                 message: str) -> None:
    with pytest.raises(TransitionError, match=message):
        next_state(state, action, role, note=note)


@pytest.mark.parametrize(
    ("as_of", "new_due", "pending", "message"),
    [
        (date(2015, 12, 1), date(2016, 3, 31), True, "待审批"),
        (date(2016, 1, 4), date(2016, 3, 31), False, "现已逾期"),
        (date(2015, 12, 1), date(2015, 12, 31), False, "不晚于当前期限"),
        (date(2015, 12, 1), date(2015, 11, 30), False, "不晚于当前期限"),
    ],
)
def test_extension_requests_refused(as_of: date, new_due: date, pending: bool,
                                    message: str) -> None:
    with pytest.raises(TransitionError, match=message):
        check_extension_request(as_of=as_of, due=date(2015, 12, 31), new_due=new_due,
                                pending=pending)


def test_extension_on_the_due_date_is_allowed() -> None:
    check_extension_request(as_of=date(2015, 12, 31), due=date(2015, 12, 31),
                            new_due=date(2016, 3, 31), pending=False)
