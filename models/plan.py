"""A stored plan: its sections, measures, targets and responsibilities.

Measures are identified within a plan by their printed number; a re-import
updates rows in place, so ``measures.id`` stays stable and later tables
(tasks and their events) can reference it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, in_values
from models.department import Department

PLAN_STATUSES = ("draft", "active")
ROLES = ("lead", "supporting")
COMPARATORS = (">=", ">", "<=", "<", "=")


class Plan(Base):
    """One imported plan document (工作方案).

    ``key`` is the plan's identity across imports: the document number when the
    plan has one, else its title. ``source_text`` is the full decoded document,
    so every ``source_line`` below can be shown.
    """

    __tablename__ = "plans"
    __table_args__ = (CheckConstraint(in_values("status", PLAN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    title: Mapped[str] = mapped_column(Text)
    doc_number: Mapped[str | None] = mapped_column(String(100))
    plan_year: Mapped[int | None] = mapped_column(Integer)
    horizon: Mapped[date | None] = mapped_column(Date)
    source_name: Mapped[str | None] = mapped_column(String(500))
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    source_text: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    # "plan": imported from a document; "standing": the year's single 督办件 (duban item add).
    kind: Mapped[str] = mapped_column(String(16), default="plan", server_default="plan")
    imported_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    sections: Mapped[list[Section]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Section.number"
    )
    measures: Mapped[list[Measure]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Measure.number"
    )

    def __repr__(self) -> str:
        return f"Plan(id={self.id!r}, key={self.key!r})"


class Section(Base):
    """A numbered heading (一、二、…) grouping measures."""

    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(20), default="")
    title: Mapped[str] = mapped_column(Text)
    source_line: Mapped[int] = mapped_column(Integer)

    plan: Mapped[Plan] = relationship(back_populates="sections")

    @property
    def heading(self) -> str:
        return section_heading(self.label, self.title)


def section_heading(label: str, title: str) -> str:
    """A section's heading (``一、…``) from its label and title."""
    return f"{label}、{title}" if label else title


class Measure(Base):
    """One numbered measure (措施) of a plan, with its responsibility clause."""

    __tablename__ = "measures"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("sections.id", ondelete="SET NULL"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(20), default="")
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    source_line: Mapped[int] = mapped_column(Integer)
    source_end_line: Mapped[int] = mapped_column(Integer)
    clause: Mapped[str | None] = mapped_column(Text)
    clause_line: Mapped[int | None] = mapped_column(Integer)
    # Leaders named beside the measure (分管领导/责任领导), as printed; not departments.
    leaders: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # A single 督办件 (a measure of a standing plan): its source (an ItemSource
    # value: 领导批示, 会议纪要 …), document number and the instructing leader.
    source_kind: Mapped[str | None] = mapped_column(String(16))
    doc_ref: Mapped[str | None] = mapped_column(String(100))
    instructed_by: Mapped[str | None] = mapped_column(String(100))

    plan: Mapped[Plan] = relationship(back_populates="measures")
    section: Mapped[Section | None] = relationship()
    targets: Mapped[list[Target]] = relationship(
        back_populates="measure", cascade="all, delete-orphan", order_by="Target.position"
    )
    responsibilities: Mapped[list[Responsibility]] = relationship(
        back_populates="measure",
        cascade="all, delete-orphan",
        order_by="(Responsibility.role, Responsibility.position)",
    )

    def __repr__(self) -> str:
        return f"Measure(id={self.id!r}, plan_id={self.plan_id!r}, number={self.number!r})"


class Target(Base):
    """A dated and/or quantified goal of a measure, in printed order."""

    __tablename__ = "targets"
    __table_args__ = (
        CheckConstraint(
            "comparator IS NULL OR " + in_values("comparator", COMPARATORS), name="comparator"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(
        ForeignKey("measures.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    due: Mapped[date | None] = mapped_column(Date)
    due_text: Mapped[str | None] = mapped_column(Text)
    indicator: Mapped[str | None] = mapped_column(Text)
    comparator: Mapped[str | None] = mapped_column(String(2))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(Text)
    source_text: Mapped[str] = mapped_column(Text, default="")
    source_line: Mapped[int] = mapped_column(Integer)
    # A standing task (长期坚持, 持续推进): no date of its own, periodic reports.
    ongoing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    measure: Mapped[Measure] = relationship(back_populates="targets")


class Responsibility(Base):
    """A department named for a measure in one role (牵头 or 配合).

    ``named_as`` is the name as printed. ``department_id`` is the resolved
    department, or NULL for a collective (``collective`` true) such as 各区,
    which is expanded to its members when tasks are assigned.
    """

    __tablename__ = "responsibilities"
    __table_args__ = (
        UniqueConstraint("measure_id", "role", "named_as"),
        CheckConstraint(in_values("role", ROLES), name="role"),
        # A responsibility names either one department or a collective, never both.
        CheckConstraint(
            "(collective AND department_id IS NULL)"
            " OR (NOT collective AND department_id IS NOT NULL)",
            name="department_or_collective",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    named_as: Mapped[str] = mapped_column(String(200))
    collective: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    source_line: Mapped[int] = mapped_column(Integer)

    measure: Mapped[Measure] = relationship(back_populates="responsibilities")
    department: Mapped[Department | None] = relationship()
