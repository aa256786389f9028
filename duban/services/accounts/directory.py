"""The department directory: read it from a YAML file, keep the database in step.

The file has a top-level ``departments:`` list; each entry has ``name`` and
optionally ``kind``, ``aliases`` and ``functional_area`` (see
``duban/data/directory/zhuhai.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from duban.domain.directory import Department, DepartmentKind, Directory
from duban.domain.errors import DirectoryError
from models import Department as DepartmentRow
from models import DepartmentAlias


@dataclass
class SyncReport:
    """What :func:`sync_directory` did, by official department name."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    # In the database but not in the file: kept, since plans may reference them.
    not_in_file: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


def load_directory_file(path: Path) -> Directory:
    """Read a directory YAML file (an organisation file reads as its directory).

    Raises DirectoryError naming the file (and the line for YAML syntax errors,
    the entry for bad entries) when the file is missing, unreadable or invalid.
    """
    data = read_directory_yaml(path)
    records = data["departments"]
    if not isinstance(records, list):
        raise DirectoryError("departments 应为单位列表", where=str(path))
    return Directory.from_records(records, source=str(path))


def read_directory_yaml(path: Path) -> dict[str, object]:
    """The parsed YAML mapping of a directory or organisation file.

    Raises DirectoryError naming the file (and the line for YAML syntax errors)
    when it is missing, unreadable, not YAML, or not a mapping with ``departments``.
    """
    source = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DirectoryError("找不到机构目录文件", where=source) from None
    except UnicodeDecodeError:
        raise DirectoryError("机构目录文件不是 UTF-8 编码", where=source) from None
    except OSError as err:
        raise DirectoryError(f"无法读取机构目录文件({err.strerror})", where=source) from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source} 第{mark.line + 1}行" if mark is not None else source
        problem = getattr(err, "problem", None) or "无法解析"
        raise DirectoryError(f"YAML 格式错误:{problem}", where=where) from None
    if not isinstance(data, dict) or "departments" not in data:
        raise DirectoryError("应为包含 departments 列表的 YAML 映射", where=source)
    return data


def directory_from_db(*, session: Session) -> Directory:
    """The directory as stored, departments in insertion order.

    Raises DirectoryError if two stored departments share a name after
    normalisation (which :func:`sync_directory` never lets happen).
    """
    rows = session.scalars(
        select(DepartmentRow)
        .options(selectinload(DepartmentRow.aliases))
        .order_by(DepartmentRow.id)
    ).all()
    return Directory(
        [
            Department(
                name=row.name,
                kind=DepartmentKind(row.kind),
                aliases=tuple(a.alias for a in row.aliases),
                functional_area=row.functional_area,
            )
            for row in rows
        ]
    )


def stored_directory(session_factory: sessionmaker[Session]) -> Directory:
    """:func:`directory_from_db` in a session of its own."""
    with session_factory() as session:
        return directory_from_db(session=session)


def sync_directory(directory: Directory, *, session_factory: sessionmaker[Session]) -> SyncReport:
    """Upsert the directory's departments and aliases, in one transaction.

    Departments are matched by official name; kind, functional_area and the
    alias set are made equal to the file's. Departments missing from the file
    are kept (reported in ``not_in_file``). Running it twice changes nothing
    the second time. Raises DirectoryError, writing nothing, if the result
    would give one name to two departments.
    """
    with session_factory.begin() as session:
        return sync_departments(directory, session=session)


def sync_departments(directory: Directory, *, session: Session) -> SyncReport:
    """:func:`sync_directory` inside the caller's transaction (which it does
    not commit); on DirectoryError the caller must roll back."""
    report = SyncReport()
    rows = {
        row.name: row
        for row in session.scalars(
            select(DepartmentRow).options(selectinload(DepartmentRow.aliases))
        )
    }
    updated: set[str] = set()

    # Drop unwanted aliases first, so an alias moving between departments
    # never meets itself in the unique index.
    for department in directory:
        row = rows.get(department.name)
        if row is None:
            continue
        for alias in list(row.aliases):
            if alias.alias not in department.aliases:
                row.aliases.remove(alias)
                updated.add(department.name)
    session.flush()

    for department in directory:
        row = rows.get(department.name)
        if row is None:
            row = DepartmentRow(
                name=department.name,
                kind=department.kind.value,
                functional_area=department.functional_area,
            )
            session.add(row)
            report.added.append(department.name)
        elif _update_fields(row, department):
            updated.add(department.name)
        existing = {a.alias for a in row.aliases}
        for name in dict.fromkeys(department.aliases):
            if name not in existing:
                row.aliases.append(DepartmentAlias(alias=name))
                if department.name in rows:
                    updated.add(department.name)
    session.flush()

    report.updated = [d.name for d in directory if d.name in updated]
    report.unchanged = sum(1 for d in directory if d.name in rows and d.name not in updated)
    report.not_in_file = sorted(set(rows) - {d.name for d in directory})
    # The stored directory must stay unambiguous, departments created by
    # ``plan import --create-unknown`` included; this raises (and the
    # transaction rolls back) if it would not.
    try:
        directory_from_db(session=session)
    except DirectoryError as err:
        raise DirectoryError(
            f"{err.message}(其中一个单位只在数据库中、不在目录文件里,请把它写入目录文件并合并名称)",
            where=err.where,
        ) from None
    return report


def _update_fields(row: DepartmentRow, department: Department) -> bool:
    """Make the row's own fields equal the department's; True if any changed."""
    changed = False
    if row.kind != department.kind.value:
        row.kind = department.kind.value
        changed = True
    if row.functional_area != department.functional_area:
        row.functional_area = department.functional_area
        changed = True
    return changed
