"""Names of a plan draft the directory does not know (pure data rules).

:func:`resolve_name` applies the coordinator's decision for such a name: replace
it by an existing department or alias, record it as an alias of a department,
or create it as a new department of a kind. Aliases and new departments are
only written down in the draft; the import applies them in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from duban.domain.directory import (
    KIND_LABELS,
    Department,
    DepartmentKind,
    Directory,
    normalize_name,
)
from duban.domain.draft_edits import MAX_NAME
from duban.domain.errors import DirectoryError
from duban.domain.plan_draft import NewAlias, NewDepartment, PlanDraft, Responsibility, Role


class Resolution(StrEnum):
    PICK = "pick"  # replace the printed name by an existing department or alias
    ALIAS = "alias"  # record the printed name as an alias of a department
    CREATE = "create"  # create a new department of a kind
    UNDO = "undo"  # forget an alias or new department decided earlier


def with_pending(directory: Directory, draft: PlanDraft) -> Directory:
    """The directory as it will be once the draft's new departments and aliases
    are added; raises DirectoryError if one of them clashes."""
    aliases: dict[str, list[str]] = {}
    for alias in draft.new_aliases:
        target = directory.resolve(alias.department)
        if target is None:
            raise DirectoryError(
                f"别名“{alias.alias}”所归入的单位“{alias.department}”不在机构目录中"
            )
        aliases.setdefault(target.name, []).append(alias.alias)
    extended = Directory(
        [
            Department(d.name, d.kind, (*d.aliases, *aliases.get(d.name, ())), d.functional_area)
            for d in directory
        ]
    )
    for new in draft.new_departments:
        if extended.resolve(new.name) is None:
            extended.add(Department(new.name, DepartmentKind(new.kind)))
    return extended


def unknown_names(draft: PlanDraft, known: Callable[[str], bool]) -> dict[str, list[int]]:
    """Printed names ``known`` does not know -> the measures naming them (first
    spelling of names equal after normalisation)."""
    found: dict[str, list[int]] = {}
    spelling: dict[str, str] = {}
    for measure in draft.measures:
        for responsibility in measure.responsibilities:
            if known(responsibility.name):
                continue
            name = spelling.setdefault(normalize_name(responsibility.name), responsibility.name)
            numbers = found.setdefault(name, [])
            if measure.number not in numbers:
                numbers.append(measure.number)
    return found


def resolve_name(
    draft: PlanDraft,
    name: str,
    how: Resolution,
    *,
    directory: Directory,
    department: str = "",
    kind: str = "",
) -> str | None:
    """Apply one decision about ``name``; returns an error message (and changes
    nothing) or None. ``directory`` is the stored one (without the draft's
    pending changes)."""
    name = name.strip()
    department = department.strip()
    pending = {normalize_name(a.alias) for a in draft.new_aliases} | {
        normalize_name(d.name) for d in draft.new_departments
    }
    if how is Resolution.UNDO:
        draft.new_aliases = [a for a in draft.new_aliases
                             if normalize_name(a.alias) != normalize_name(name)]
        draft.new_departments = [d for d in draft.new_departments
                                 if normalize_name(d.name) != normalize_name(name)]
        return None
    if directory.knows(name):
        return f"“{name}”已在机构目录中,无需处理"
    if normalize_name(name) in pending:
        return f"“{name}”已有处理方式,请先撤销"
    if how is Resolution.CREATE:
        try:
            chosen = DepartmentKind(kind)
        except ValueError:
            labels = "、".join(KIND_LABELS.values())
            return f"新建“{name}”:请选择单位类型({labels})"
        if len(name) > MAX_NAME:
            return f"新建单位名称超过{MAX_NAME}个字符"
        draft.new_departments.append(NewDepartment(name, chosen.value))
        return None
    if not department:
        return f"“{name}”:请填写对应的已有单位"
    if how is Resolution.PICK:
        if not directory.knows(department):
            return f"“{name}”改为“{department}”:“{department}”不在机构目录中"
        rename(draft, name, department)
        return None
    target = directory.resolve(department)
    if target is None:
        return f"把“{name}”记为别名:“{department}”不在机构目录中(应为具体单位,不能是“各区”等统称)"
    draft.new_aliases.append(NewAlias(name, target.name))
    return None


def rename(draft: PlanDraft, old: str, new: str) -> None:
    """Replace every responsibility named ``old`` (after normalisation) by ``new``;
    a name then listed twice in a measure keeps its first place (lead first)."""
    old_key = normalize_name(old)
    for measure in draft.measures:
        kept: list[Responsibility] = []
        seen: set[str] = set()
        ordered = sorted(measure.responsibilities, key=lambda r: r.role is not Role.LEAD)
        for responsibility in ordered:
            if normalize_name(responsibility.name) == old_key:
                responsibility.name = new
            key = normalize_name(responsibility.name)
            if key not in seen:
                seen.add(key)
                kept.append(responsibility)
        measure.responsibilities = kept
