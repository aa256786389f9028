"""What a changed plan does to a measure's existing tasks, before anything is
written: each stays (the plan still yields it), is replaced (cancelled, and a
new task of the same department or the same role takes over: see
:func:`duban.domain.assignment.successors`) or is cancelled outright. The
import report shows these fates; :mod:`duban.services.plans.withdrawal`
carries them out when the measure is assigned again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.assignment import (
    FATE_LABELS,
    Fate,
    TaskIdentity,
    Withdrawn,
    successors,
)
from duban.domain.labels import TASK_ROLE_LABELS
from duban.domain.lifecycle import STATE_LABELS, TaskState
from duban.domain.plan_draft import Role
from models import (
    Department,
    Task,
)

CANCELLABLE = frozenset(
    {
        TaskState.ASSIGNED,
        TaskState.ACKNOWLEDGED,
        TaskState.IN_PROGRESS,
        TaskState.RETURNED,
        TaskState.SUBMITTED,
    }
)


@dataclass
class TaskFate:
    """One existing task of a measure and what the plan (as it now reads) means for it."""

    task_id: int
    measure: int
    department: str
    role: str
    deadline: date
    state: str
    fate: Fate
    successor_department: str | None = None
    successor_role: str | None = None
    successor_deadline: date | None = None
    successor_id: int | None = None

    @property
    def label(self) -> str:
        return FATE_LABELS[self.fate]

    def describe(self) -> str:
        """One Chinese line: the task, then what happens to it."""
        head = (
            f"任务#{self.task_id} 措施{self.measure} {self.department}"
            f"({TASK_ROLE_LABELS.get(self.role, self.role)},期限 {self.deadline.isoformat()},"
            f"{STATE_LABELS[TaskState(self.state)]})"
        )
        if self.fate is Fate.REPLACED:
            return f"{head}:{self.label}——{self.successor_text()}"
        return f"{head}:{self.label}"

    def successor_text(self) -> str:
        if self.successor_department is None or self.successor_deadline is None:
            return ""
        number = f"任务#{self.successor_id} " if self.successor_id else ""
        role = TASK_ROLE_LABELS.get(self.successor_role or "", self.successor_role or "")
        return (
            f"{number}{self.successor_department}({role},"
            f"期限 {self.successor_deadline.isoformat()})"
        )


@dataclass
class MeasureFates:
    """A measure's existing tasks' fates and the tasks it will newly yield."""

    measure: int
    fates: list[TaskFate] = field(default_factory=list)
    new: list[TaskIdentity] = field(default_factory=list)


def task_fates(
    session: Session, measure_id: int, measure_number: int, yielded: Sequence[TaskIdentity]
) -> MeasureFates:
    """What assigning the measure with ``yielded`` identities will do to its
    existing tasks (reads only; tasks already cancelled are left out)."""
    rows = session.execute(
        select(Task.id, Department.name, Task.role, Task.deadline, Task.state)
        .join(Department, Department.id == Task.department_id)
        .where(Task.measure_id == measure_id, Task.state != TaskState.CANCELLED.value)
        .order_by(Task.deadline, Task.role, Task.id)
    ).all()
    wanted = {(y.department, y.role.value, y.deadline): y for y in yielded}
    existing = {(name, role, deadline) for _id, name, role, deadline, _state in rows}
    result = MeasureFates(measure_number)
    result.new = [y for key, y in wanted.items() if key not in existing]
    withdrawn: list[Withdrawn] = []
    for task_id, name, role, deadline, state in rows:
        fate = TaskFate(task_id, measure_number, name, role, deadline, state, Fate.STAY)
        result.fates.append(fate)
        if (name, role, deadline) in wanted:
            continue
        if TaskState(state) not in CANCELLABLE:
            fate.fate = Fate.FINISHED
            continue
        fate.fate = Fate.CANCELLED
        withdrawn.append(Withdrawn(task_id, name, Role(role), deadline))
    taking_over = successors(withdrawn, list(yielded))
    for fate in result.fates:
        successor = taking_over.get(fate.task_id)
        if successor is None:
            continue
        fate.fate = Fate.REPLACED
        fate.successor_department = successor.department
        fate.successor_role = successor.role.value
        fate.successor_deadline = successor.deadline
    return result


def fate_lines(measures: Sequence[MeasureFates]) -> list[str]:
    """What assigning a re-imported plan will do to its tasks, one Chinese line
    per task (the tasks that stay are counted, not listed)."""
    lines: list[str] = []
    for measure in measures:
        stay = sum(1 for f in measure.fates if f.fate is Fate.STAY)
        lines.append(f"措施{measure.measure}:保留 {stay} 项任务")
        lines.extend(f"  {f.describe()}" for f in measure.fates if f.fate is not Fate.STAY)
        for new in measure.new:
            role = TASK_ROLE_LABELS.get(new.role.value, new.role.value)
            lines.append(f"  新交办 {new.department}({role},期限 {new.deadline.isoformat()})")
    return lines
