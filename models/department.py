"""Departments (单位) and the other names they go by.

Later tables (tasks, liaisons, deliveries, escalations) reference
``departments.id``; a department row is never deleted while referenced.
"""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, in_values

DEPARTMENT_KINDS = ("department", "district", "party", "peoples_org")


class Department(Base):
    """One department as the directory knows it, under its official name."""

    __tablename__ = "departments"
    __table_args__ = (
        CheckConstraint(
            in_values("kind", DEPARTMENT_KINDS),
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="department")
    functional_area: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    aliases: Mapped[list[DepartmentAlias]] = relationship(
        back_populates="department",
        cascade="all, delete-orphan",
        order_by="DepartmentAlias.id",
    )

    def __repr__(self) -> str:
        return f"Department(id={self.id!r}, name={self.name!r})"


class DepartmentAlias(Base):
    """Another name of a department; an alias belongs to one department only."""

    __tablename__ = "department_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), index=True
    )
    alias: Mapped[str] = mapped_column(String(200), unique=True)

    department: Mapped[Department] = relationship(back_populates="aliases")

    def __repr__(self) -> str:
        return f"DepartmentAlias(alias={self.alias!r}, department_id={self.department_id!r})"
