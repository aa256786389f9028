"""The life of a task (交办 → 签收 → 进度反馈 → 报结 → 办结/退回) as a state machine.

Pure rules: which action is allowed in which state by whom, and what state it
leads to. Storing the event and the new state is the services' job; every
refusal is a :class:`TransitionError` with a Chinese reason and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from duban.domain.errors import DubanError


class TaskState(StrEnum):
    ASSIGNED = "assigned"  # 已交办
    ACKNOWLEDGED = "acknowledged"  # 已签收
    IN_PROGRESS = "in_progress"  # 办理中 (progress reported)
    SUBMITTED = "submitted"  # 已报结, awaiting review
    APPROVED = "approved"  # 已办结
    RETURNED = "returned"  # 已退回, back to the department
    CANCELLED = "cancelled"  # 已撤销: the plan no longer yields it (a re-import)


STATE_LABELS = {
    TaskState.ASSIGNED: "已交办",
    TaskState.ACKNOWLEDGED: "已签收",
    TaskState.IN_PROGRESS: "办理中",
    TaskState.SUBMITTED: "已报结",
    TaskState.APPROVED: "已办结",
    TaskState.RETURNED: "已退回",
    TaskState.CANCELLED: "已撤销",
}

OPEN_STATES = frozenset(
    {TaskState.ASSIGNED, TaskState.ACKNOWLEDGED, TaskState.IN_PROGRESS, TaskState.RETURNED}
)


class Action(StrEnum):
    ASSIGN = "assign"  # 交办
    ACKNOWLEDGE = "acknowledge"  # 签收
    REPORT = "report"  # 进度反馈
    SUBMIT = "submit"  # 报结
    APPROVE = "approve"  # 办结
    RETURN = "return"  # 退回
    REQUEST_EXTENSION = "request_extension"  # 延期申请
    APPROVE_EXTENSION = "approve_extension"  # 同意延期
    REFUSE_EXTENSION = "refuse_extension"  # 不同意延期
    CHANGE_DUE = "change_due"  # 调整期限 (coordinator, with a reason)
    CANCEL = "cancel"  # 撤销 (the system, when a changed plan no longer yields the task)


ACTION_LABELS = {
    Action.ASSIGN: "交办",
    Action.ACKNOWLEDGE: "签收",
    Action.REPORT: "进度反馈",
    Action.SUBMIT: "报结",
    Action.APPROVE: "办结",
    Action.RETURN: "退回",
    Action.REQUEST_EXTENSION: "延期申请",
    Action.APPROVE_EXTENSION: "同意延期",
    Action.REFUSE_EXTENSION: "不同意延期",
    Action.CHANGE_DUE: "调整期限",
    Action.CANCEL: "撤销",
}


class ExtensionStatus(StrEnum):
    """An extension request's status (ExtensionRequest.status), as stored."""

    PENDING = "pending"  # 待审批
    APPROVED = "approved"  # 已同意: the task's due date moved
    REFUSED = "refused"  # 不同意


class ActorRole(StrEnum):
    DEPARTMENT = "department"  # 责任单位(联络员)
    COORDINATOR = "coordinator"  # 督办科
    SUPERVISOR = "supervisor"  # 督查室
    SYSTEM = "system"


ROLE_LABELS = {
    ActorRole.DEPARTMENT: "责任单位",
    ActorRole.COORDINATOR: "督办科",
    ActorRole.SUPERVISOR: "督查室",
    ActorRole.SYSTEM: "系统",
}


@dataclass(frozen=True)
class Rule:
    allowed_from: frozenset[TaskState]
    to_state: TaskState | None  # None: the state does not change
    roles: frozenset[ActorRole]
    needs_note: bool = False


_DEPT = frozenset({ActorRole.DEPARTMENT})
_COORD = frozenset({ActorRole.COORDINATOR})
_WORKING = frozenset({TaskState.ACKNOWLEDGED, TaskState.IN_PROGRESS, TaskState.RETURNED})

RULES: dict[Action, Rule] = {
    Action.ACKNOWLEDGE: Rule(frozenset({TaskState.ASSIGNED}), TaskState.ACKNOWLEDGED, _DEPT),
    Action.REPORT: Rule(_WORKING, TaskState.IN_PROGRESS, _DEPT),
    Action.SUBMIT: Rule(_WORKING, TaskState.SUBMITTED, _DEPT),
    Action.APPROVE: Rule(frozenset({TaskState.SUBMITTED}), TaskState.APPROVED, _COORD),
    Action.RETURN: Rule(frozenset({TaskState.SUBMITTED}), TaskState.RETURNED, _COORD, True),
    Action.REQUEST_EXTENSION: Rule(OPEN_STATES, None, _DEPT, True),
    Action.APPROVE_EXTENSION: Rule(OPEN_STATES, None, _COORD),
    Action.REFUSE_EXTENSION: Rule(OPEN_STATES, None, _COORD),
    Action.CHANGE_DUE: Rule(OPEN_STATES | {TaskState.SUBMITTED}, None, _COORD, True),
    # A finished task is history and stays; a cancelled one stays cancelled.
    Action.CANCEL: Rule(
        OPEN_STATES | {TaskState.SUBMITTED},
        TaskState.CANCELLED,
        frozenset({ActorRole.SYSTEM, ActorRole.COORDINATOR}),
        True,
    ),
}


class TransitionError(DubanError):
    """An action that is not allowed now; nothing was changed."""


def next_state(
    state: TaskState, action: Action, role: ActorRole, *, note: str | None = None
) -> TaskState:
    """The state after ``action``; raises TransitionError with the reason if refused."""
    rule = RULES[action]
    label = ACTION_LABELS[action]
    if role not in rule.roles:
        allowed = "、".join(ROLE_LABELS[r] for r in sorted(rule.roles))
        raise TransitionError(f"“{label}”只能由{allowed}办理,{ROLE_LABELS[role]}无权办理")
    if state not in rule.allowed_from:
        raise TransitionError(
            f"任务当前状态为“{STATE_LABELS[state]}”,不能{label}{_hint(state, action)}"
        )
    if rule.needs_note and not (note and note.strip()):
        raise TransitionError(f"“{label}”须填写理由")
    return rule.to_state or state


def _hint(state: TaskState, action: Action) -> str:
    if state is TaskState.ASSIGNED and action in (Action.REPORT, Action.SUBMIT):
        return "(请先签收)"
    if action is Action.APPROVE and state is not TaskState.SUBMITTED:
        return "(任务尚未报结)"
    return ""


def check_extension_request(*, as_of: date, due: date, new_due: date, pending: bool) -> None:
    """An extension is filed no later than the due date, for a later date, one at a time."""
    if pending:
        raise TransitionError("已有待审批的延期申请,请等待督办科处理")
    if as_of > due:
        raise TransitionError(f"延期申请须在期限({due.isoformat()})前提出,现已逾期,请联系督办科")
    if new_due <= due:
        raise TransitionError(
            f"申请的新期限 {new_due.isoformat()} 不晚于当前期限 {due.isoformat()}"
        )
