"""Tasks (one department's share of a measure for one deadline) and their history.

A task's *state* is the lifecycle position (交办/签收/…); its status and light
are derived from these rows and the calendar, never stored. ``task_events`` is
append-only: every transition lands there with its actor. ``notices`` is the
queue of messages due for a task (one row per task and step, unique), which
the notification layer turns into deliveries.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from duban.domain.lifecycle import ExtensionStatus, TaskState
from duban.domain.outbox import NoticeStatus
from models.base import Base, in_values
from models.department import Department
from models.plan import ROLES, Measure, Target

TASK_STATES = tuple(s.value for s in TaskState)
EXTENSION_STATUSES = tuple(s.value for s in ExtensionStatus)
NOTICE_STATUSES = tuple(s.value for s in NoticeStatus)


class Task(Base):
    """One department's task for one measure and deadline.

    Identity: (measure, department, role, deadline) — a rerun of assignment
    finds the row instead of adding one. ``due`` moves with approved extensions
    or a coordinator's change; ``original_due`` never does. ``version`` grows
    with every change, for compare-and-set updates.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("measure_id", "department_id", "role", "deadline"),
        CheckConstraint(in_values("role", ROLES), name="role"),
        CheckConstraint(in_values("state", TASK_STATES), name="state"),
        # A measure flow's due tasks without reading all of the measure's tasks.
        Index("ix_tasks_measure_id_next_action_at", "measure_id", "next_action_at"),
        # The scorecard counts every task by department and state from this
        # index alone, in its order (duban.services.reports.scorecard_sql).
        Index("ix_tasks_scorecard", "department_id", "state", "due", "role", "assigned_at",
              "submitted_at"),
        # The stale lights to refresh, and a page of tasks of one light.
        Index("ix_tasks_light_key_light", "light_key", "light"),
        # The tasks of one light stored for the rule (its generations a range).
        Index("ix_tasks_light_light_key", "light", "light_key"),
        # Each measure's worst stored light, from the index alone.
        Index("ix_tasks_measure_lights", "measure_id", "state", "light_key", "light"),
        # The desk's missing reports by periods missed and first deadline, in id order.
        Index("ix_tasks_missed", "missed_count", "missed_since", "id", "light_key"),
        # Per policy, the desk's overdue tasks by due date, unacknowledged ones
        # by assignment day and submissions by 报结, from the index alone
        # (duban.services.desk.queue).
        Index("ix_tasks_desk", "policy_id", "state", "due", "assigned_at",
              "submitted_at"),
        # A page of the desk's submissions by 报结 then id, and the assigned
        # tasks' ids and stored missed reports per policy and assignment day,
        # from the index alone on PostgreSQL too (its indexes hold no row id).
        # Partial: no other query of the tasks picks them (migration 0024).
        Index("ix_tasks_submitted", "submitted_at", "id",
              postgresql_where=text("state = 'submitted'"),
              sqlite_where=text("state = 'submitted'")),
        Index("ix_tasks_assigned", "policy_id", "due", "assigned_at", "light_key",
              "missed_count", "missed_since", "id",
              postgresql_where=text("state = 'assigned'"),
              sqlite_where=text("state = 'assigned'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(
        ForeignKey("measures.id", ondelete="RESTRICT"), index=True
    )
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    named_as: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[date] = mapped_column(Date)
    due: Mapped[date] = mapped_column(Date, index=True)
    original_due: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="assigned")
    # Indexed: the lights in SQL start from the first assignment (min).
    assigned_at: Mapped[datetime] = mapped_column(index=True)
    acknowledged_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # The escalation policy in force when the task was assigned (or re-applied).
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL")
    )
    # When the sweep must look at this task again (NULL: nothing left to do).
    # Indexed, so a sweep's cost follows the work that is due.
    next_action_at: Mapped[datetime | None] = mapped_column(index=True)
    # A ladder step of this task falls in this year, whose holiday notice is
    # not yet published (待日历公布): the round that finds the year covered
    # looks at the task again. Set by the sweep; NULL when nothing waits.
    calendar_wait_year: Mapped[int | None] = mapped_column(Integer, index=True)
    # A cancelled task (已撤销) replaced by another task of the re-imported plan:
    # its successor, shown on both tasks' pages.
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL")
    )

    # The task's light (a Light value, or 'cancelled') for the day and rule
    # ``light_key`` names (duban.services.tasks.light_sql): a cache the pages
    # read when its key is the day's. Triggers of migration 0018 set
    # light_key to NULL when what the light reads changes (state, due,
    # submitted_at, assigned_at, a report event, a reading), on every write path.
    light: Mapped[str | None] = mapped_column(String(16))
    light_key: Mapped[str | None] = mapped_column(String(32))
    # With the light: how many of the rule's owed report periods the task
    # missed and the first one's deadline (0 and NULL when none; migration 0023).
    missed_count: Mapped[int | None] = mapped_column(Integer)
    missed_since: Mapped[date | None] = mapped_column(Date)

    measure: Mapped[Measure] = relationship()
    department: Mapped[Department] = relationship()
    events: Mapped[list[TaskEvent]] = relationship(
        back_populates="task", order_by="TaskEvent.id", viewonly=True
    )

    def __repr__(self) -> str:
        return f"Task(id={self.id!r}, measure_id={self.measure_id!r}, state={self.state!r})"


class LightsStored(Base):
    """The one row saying which rule the stored lights (``tasks.light``) are
    the lights of (duban.services.tasks.light_sql).

    ``rule_key`` names the rule (its day and a hash of the rest), ``rule`` what
    of it a refresh needs to move the lights to another day (its day, last
    "due soon" day, owed report periods and context, as JSON). A task's
    stored light is this rule's when its ``light_key`` is a generation from
    ``base`` to ``generation``: a refresh for another day writes the tasks
    whose light that day differs under a new generation, so a reader that
    read the row before keeps reading only lights of its own rule.
    """

    __tablename__ = "lights_stored"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(Text)
    base: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(Integer)


class TaskEvent(Base):
    """One thing that happened to a task (append-only): who, when, what, note."""

    __tablename__ = "task_events"
    __table_args__ = (
        # A task's reports in a window of time from the index alone: the
        # counting pages ask, per open task and report period, whether one
        # exists (duban.services.tasks.light_sql).
        Index("ix_task_events_task_id_action_at", "task_id", "action", "at"),
        # Every report up to a day, in task order, from the index alone: the
        # scorecard groups them by task (duban.services.reports.scorecard_sql;
        # PostgreSQL otherwise reads every event and hashes the reports).
        Index("ix_task_events_action_task_id_at", "action", "task_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    task: Mapped[Task] = relationship(back_populates="events")


class TaskScore(Base):
    """A task's share of the scorecard (考核) for the day and rule ``score_key``
    names (duban.services.reports.scorecard_kept): a cache the scorecard page
    reads when its key is the day's, grouped by (department_id, cell) from
    the index alone. Every task has one row (a trigger inserts it with the
    task); triggers of migration 0022 set score_key to NULL when what the
    cell reads changes, on every write path."""

    __tablename__ = "task_scores"
    __table_args__ = (
        Index("ix_task_scores_key_cell", "score_key", "department_id", "cell"),
    )

    task_id: Mapped[int] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    score_key: Mapped[str | None] = mapped_column(String(48))
    department_id: Mapped[int | None] = mapped_column(Integer)
    cell: Mapped[str | None] = mapped_column(String(160))


class MeasureLights(Base):
    """A measure's tasks by stored light (duban.services.tasks.kept_lights): a
    cache the dashboard reads instead of grouping the measure's tasks, while
    ``light_key`` is a generation of the stored lights the page reads
    (``lights_stored``'s ``base`` to ``generation``) and none of the
    measure's tasks is stale. A refresh of the stored lights deletes the row
    of every measure whose tasks it writes and keeps a new one for every
    measure whose tasks are all stored; triggers of migration 0025 delete it
    when a task of the measure is inserted, deleted or moved to another."""

    __tablename__ = "measure_lights"

    measure_id: Mapped[int] = mapped_column(
        ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    light_key: Mapped[str] = mapped_column(String(32))
    # Tasks not cancelled, and how many of them have each light.
    tasks: Mapped[int] = mapped_column(Integer)
    red: Mapped[int] = mapped_column(Integer)
    yellow: Mapped[int] = mapped_column(Integer)
    blue: Mapped[int] = mapped_column(Integer)
    late: Mapped[int] = mapped_column(Integer)
    green: Mapped[int] = mapped_column(Integer)


class ExtensionRequest(Base):
    """A 延期申请: filed by the department, decided by a coordinator.

    At most one pending request per task (a partial unique index).
    """

    __tablename__ = "extension_requests"
    __table_args__ = (
        CheckConstraint(in_values("status", EXTENSION_STATUSES), name="status"),
        Index(
            "uq_extension_requests_pending",
            "task_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    requested_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    current_due: Mapped[date] = mapped_column(Date)
    new_due: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=ExtensionStatus.PENDING.value)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_note: Mapped[str | None] = mapped_column(Text)

    task: Mapped[Task] = relationship()


class IndicatorReading(Base):
    """A value of a numeric target's indicator, reported with a progress report."""

    __tablename__ = "indicator_readings"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("task_events.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    reported_on: Mapped[date] = mapped_column(Date)

    target: Mapped[Target] = relationship()


class Notice(Base):
    """A message due for a task at one step of the ladder (交办通知, 签收提醒, …).

    Unique per (task, step): a step happens at most once, guaranteed by the
    database. ``due_at`` is when it should go out.
    """

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("task_id", "step"),
        CheckConstraint(in_values("status", NOTICE_STATUSES), name="status"),
        # Routing reads pending notices that are due, not the whole history.
        Index("ix_notices_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(64))  # a StepKey, formatted
    due_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default=NoticeStatus.PENDING.value)
    created_at: Mapped[datetime]
    level: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Why it was superseded or could not be delivered (shown in the log).
    reason: Mapped[str | None] = mapped_column(Text)
    # A step taken by hand (督办科催办): who took it and what they wrote, which
    # the message carries; NULL for the ladder's own steps.
    requested_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)

    task: Mapped[Task] = relationship()
