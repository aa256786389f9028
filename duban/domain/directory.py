"""The department directory: official names, aliases and kinds (pure data).

Matching is exact on the official name or an alias after whitespace and
full-width normalisation; nothing is guessed. Collective names such as 各区
are not departments: :data:`COLLECTIVES` says what each one expands to, and
any "各" + local governments name is one too (各区、县级市, 各县(市、区)政府,
各有关区、县级市政府, 各区县政府(管委会)): it expands to every ``district``
department — the directory's kind for the local governments under the plan's
issuer (区, 县, 县级市, 功能区 …).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from duban.domain.errors import DirectoryError


class DepartmentKind(StrEnum):
    DEPARTMENT = "department"  # 市直部门
    DISTRICT = "district"  # 区 / 功能区
    PARTY = "party"  # 党委部门
    PEOPLES_ORG = "peoples_org"  # 人民团体


KIND_LABELS = {
    DepartmentKind.DEPARTMENT: "市直部门",
    DepartmentKind.DISTRICT: "区(功能区)",
    DepartmentKind.PARTY: "党委部门",
    DepartmentKind.PEOPLES_ORG: "人民团体",
}

# Collective names a plan uses for "every X"; value: the kind they expand to.
COLLECTIVES: dict[str, DepartmentKind] = {
    "各区": DepartmentKind.DISTRICT,
    "各区(功能区)": DepartmentKind.DISTRICT,
    "各区政府": DepartmentKind.DISTRICT,
    "各区(功能区)政府": DepartmentKind.DISTRICT,
    "各区人民政府": DepartmentKind.DISTRICT,
}


# The words a collective of local governments is made of.
LOCAL_GOVERNMENT_UNITS = frozenset(
    {"县级市", "区县", "县区", "市区", "乡镇", "街道", "功能区", "区", "县", "市", "旗", "乡", "镇"}
)
_COLLECTIVE_PREFIX = re.compile(r"^各(有关|相关)?")
_COLLECTIVE_SUFFIX = re.compile(
    r"(\(管委会\))?$|(人民政府|党委和政府|党委、政府|党委政府|政府|管委会)(\(管委会\))?$"
)


def collective_kind(name: str) -> DepartmentKind | None:
    """The kind a collective name expands to (各区 → district), or None."""
    key = normalize_name(name)
    for collective, kind in COLLECTIVES.items():
        if normalize_name(collective) == key:
            return kind
    if not _COLLECTIVE_PREFIX.match(key):
        return None
    core = _COLLECTIVE_SUFFIX.sub("", _COLLECTIVE_PREFIX.sub("", key), count=1)
    parts = [p for p in re.split(r"[、,()]", core) if p]
    if parts and all(p in LOCAL_GOVERNMENT_UNITS for p in parts):
        return DepartmentKind.DISTRICT
    return None


def normalize_name(name: str) -> str:
    """Canonical form for matching: NFKC (full-width to half-width), no spaces."""
    return "".join(unicodedata.normalize("NFKC", name).split())


@dataclass(frozen=True)
class Department:
    name: str
    kind: DepartmentKind = DepartmentKind.DEPARTMENT
    aliases: tuple[str, ...] = ()
    functional_area: bool = False

    def names(self) -> Iterator[str]:
        yield self.name
        yield from self.aliases


@dataclass
class Directory:
    """Departments indexed by every name they go by."""

    departments: list[Department] = field(default_factory=list)
    _index: dict[str, Department] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        departments, self.departments = self.departments, []
        for department in departments:
            self.add(department)

    def add(self, department: Department) -> None:
        """Add a department; raises DirectoryError if one of its names is taken."""
        for name in department.names():
            key = normalize_name(name)
            other = self._index.get(key)
            if other is not None and other is not department:
                raise DirectoryError(
                    f"名称“{name}”同时属于“{other.name}”和“{department.name}”"
                )
        for name in department.names():
            self._index[normalize_name(name)] = department
        self.departments.append(department)

    def resolve(self, name: str) -> Department | None:
        """The department a name refers to, or None when the name is unknown."""
        return self._index.get(normalize_name(name))

    def is_collective(self, name: str) -> bool:
        return collective_kind(name) is not None

    def expand(self, name: str) -> list[Department]:
        """The departments a collective name stands for (empty if not one)."""
        kind = collective_kind(name)
        if kind is None:
            return []
        return [d for d in self.departments if d.kind is kind]

    def knows(self, name: str) -> bool:
        return self.resolve(name) is not None or self.is_collective(name)

    def __iter__(self) -> Iterator[Department]:
        return iter(self.departments)

    def __len__(self) -> int:
        return len(self.departments)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, object]], *, source: str) -> Directory:
        """Build from parsed YAML records; errors name the source and entry."""
        directory = cls()
        for index, record in enumerate(records, start=1):
            where = f"{source} 第{index}个单位"
            if not isinstance(record, dict):
                raise DirectoryError("应为包含 name 的映射", where=where)
            name = record.get("name")
            if not isinstance(name, str) or not name.strip():
                raise DirectoryError("缺少单位名称 name", where=where)
            kind_raw = record.get("kind", DepartmentKind.DEPARTMENT.value)
            try:
                kind = DepartmentKind(str(kind_raw))
            except ValueError:
                allowed = "、".join(k.value for k in DepartmentKind)
                raise DirectoryError(
                    f"单位“{name}”的类型 kind“{kind_raw}”无效,应为 {allowed} 之一", where=where
                ) from None
            aliases_raw = record.get("aliases") or []
            if not isinstance(aliases_raw, list) or not all(
                isinstance(a, str) for a in aliases_raw
            ):
                raise DirectoryError(f"单位“{name}”的别名 aliases 应为字符串列表", where=where)
            directory.add(
                Department(
                    name=name.strip(),
                    kind=kind,
                    aliases=tuple(a.strip() for a in aliases_raw if a.strip()),
                    functional_area=bool(record.get("functional_area", False)),
                )
            )
        return directory
