"""Loading the directory file and keeping the database in step with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.config import DEFAULT_DIRECTORY_FILE
from duban.domain.directory import DepartmentKind, Directory
from duban.domain.errors import DirectoryError
from duban.services.accounts.directory import directory_from_db, load_directory_file, sync_directory
from models import Department, DepartmentAlias
from tests.conftest import WriteLog


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def count(session_factory: sessionmaker[Session], model: type) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_builtin_directory_loads() -> None:
    directory = load_directory_file(DEFAULT_DIRECTORY_FILE)
    assert len(directory) == 40
    department = directory.resolve("市卫计局")
    assert department is not None and department.name == "珠海市卫生和计划生育局"
    assert directory.is_collective("各区")
    assert len(directory.expand("各区")) == 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("departments:\n  - {name: 甲局\n  - name: 乙局\n", r"org\.yaml 第3行:YAML 格式错误"),
        ("units: []\n", "应为包含 departments 列表"),
        ("departments: 甲局\n", "departments 应为单位列表"),
        ("departments:\n  - {name: 甲局}\n  - {kind: party}\n", "第2个单位:缺少单位名称"),
        ("departments:\n  - {name: 甲局, kind: ministry}\n", "单位“甲局”的类型 kind“ministry”无效"),
        (
            "departments:\n  - {name: 甲局, aliases: [甲]}\n  - {name: 乙局, aliases: [甲]}\n",
            "名称“甲”同时属于“甲局”和“乙局”",
        ),
    ],
)
def test_bad_directory_files_are_reported_with_file_and_place(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DirectoryError, match=expected) as info:
        load_directory_file(path)
    assert str(path) in str(info.value) or "同时属于" in str(info.value)


def test_a_missing_directory_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="找不到机构目录文件") as info:
        load_directory_file(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value)


def test_sync_adds_everything_then_changes_nothing(
    session_factory: sessionmaker[Session], writes: WriteLog
) -> None:
    directory = load_directory_file(DEFAULT_DIRECTORY_FILE)
    first = sync_directory(directory, session_factory=session_factory)
    assert len(first.added) == 40 and first.updated == [] and first.unchanged == 0
    aliases = sum(len(d.aliases) for d in directory)
    assert count(session_factory, Department) == 40
    assert count(session_factory, DepartmentAlias) == aliases

    writes.clear()
    second = sync_directory(directory, session_factory=session_factory)
    assert (second.added, second.updated, second.unchanged) == ([], [], 40)
    assert not second.changed
    assert writes.statements == []

    with session_factory() as session:
        stored = directory_from_db(session=session)
    assert [d.name for d in stored] == [d.name for d in directory]
    hengqin = stored.resolve("横琴新区管委会")
    assert hengqin is not None and hengqin.kind is DepartmentKind.DISTRICT
    assert hengqin.functional_area


def test_sync_updates_kinds_and_moves_aliases(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    before = "departments:\n  - {name: 甲局, aliases: [甲, 老甲]}\n  - {name: 乙局}\n"
    after = (
        "departments:\n"
        "  - {name: 甲局, kind: party, aliases: [甲]}\n"
        "  - {name: 乙局, aliases: [老甲]}\n"
        "  - {name: 丙区, kind: district, functional_area: true}\n"
    )
    sync_directory(load_directory_file(write(tmp_path, before)), session_factory=session_factory)
    report = sync_directory(
        load_directory_file(write(tmp_path, after)), session_factory=session_factory
    )
    assert report.added == ["丙区"]
    assert report.updated == ["甲局", "乙局"]
    with session_factory() as session:
        stored = directory_from_db(session=session)
    old_jia = stored.resolve("老甲")
    assert old_jia is not None and old_jia.name == "乙局"
    jia = stored.resolve("甲")
    assert jia is not None and jia.kind is DepartmentKind.PARTY


def test_sync_keeps_departments_missing_from_the_file(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    sync_directory(
        load_directory_file(write(tmp_path, "departments:\n  - {name: 甲局}\n  - {name: 乙局}\n")),
        session_factory=session_factory,
    )
    report = sync_directory(
        load_directory_file(write(tmp_path, "departments:\n  - {name: 甲局}\n")),
        session_factory=session_factory,
    )
    assert report.not_in_file == ["乙局"]
    assert count(session_factory, Department) == 2


def test_sync_refuses_to_give_a_stored_name_to_another_department(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        session.add(Department(name="某某局", kind="department"))
    clashing = Directory.from_records([{"name": "甲局", "aliases": ["某某局"]}], source="t")
    with pytest.raises(DirectoryError, match="同时属于"):
        sync_directory(clashing, session_factory=session_factory)
    assert count(session_factory, Department) == 1
    assert count(session_factory, DepartmentAlias) == 0
