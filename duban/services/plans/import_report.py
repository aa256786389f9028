"""What a plan import did (or would do, on a dry run): its status, the plan's
key, what changed field by field and measure by measure, the departments and
aliases it created, and the fates of tasks the change affects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from duban.services.plans.fates import MeasureFates
from duban.services.serialize import jsonable


class ImportStatus(StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"


@dataclass
class FieldChange:
    """One field that differs: ``old`` as stored, ``new`` as in the draft (JSON-able)."""

    field: str
    old: Any
    new: Any


@dataclass
class MeasureChange:
    """A measure present before and after whose content changed.

    ``changes`` fields are among: label, title, text, section, clause, lead,
    supporting, targets (lead/supporting/targets as lists of strings).
    """

    number: int
    title: str
    changes: list[FieldChange] = field(default_factory=list)


@dataclass
class ImportReport:
    """The outcome of :func:`import_plan` (the same for a dry run).

    ``plan_id`` is None only for a dry run of a new plan. ``relocated`` counts
    measures whose source lines moved without their content changing.
    ``created_departments`` are names created (or, in a dry run, to be created)
    from the draft's ``new_departments`` and by ``create_unknown``;
    ``created_aliases`` are the draft's aliases added, as ``别名=单位``.
    """

    status: ImportStatus
    dry_run: bool
    key: str
    title: str
    plan_id: int | None
    measure_count: int
    responsibility_count: int
    target_count: int
    plan_changes: list[FieldChange] = field(default_factory=list)
    sections_added: list[int] = field(default_factory=list)
    sections_removed: list[int] = field(default_factory=list)
    sections_changed: list[int] = field(default_factory=list)
    measures_added: list[int] = field(default_factory=list)
    measures_removed: list[int] = field(default_factory=list)
    measures_changed: list[MeasureChange] = field(default_factory=list)
    relocated: int = 0
    created_departments: list[str] = field(default_factory=list)
    created_aliases: list[str] = field(default_factory=list)
    # What the next ``duban assign`` will do to the tasks already assigned
    # (stay / replaced / cancelled) and which tasks it will add, per measure
    # with tasks whose responsibilities or dates changed.
    task_fates: list[MeasureFates] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``plan import --json`` shape: this dataclass with dates as ISO strings."""
        return jsonable(self)
