"""The migrations build exactly the models' schema, both ways, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, delete, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from duban.config import Settings
from duban.db import (
    SchemaNotReadyError,
    alembic_config,
    current_revision,
    engine_for_url,
    head_revision,
    open_session_factory,
    require_schema,
    upgrade,
)
from models import Base

pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")


def test_upgrade_head_matches_the_models_and_downgrade_removes_everything(
    database_url: str,
) -> None:
    engine = engine_for_url(database_url)
    try:
        assert current_revision(engine) is None
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
        assert current_revision(engine) == head_revision()

        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables

        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_constraint_names_follow_the_convention(migrated_url: str) -> None:
    engine = engine_for_url(migrated_url)
    try:
        inspector = inspect(engine)
        uniques = {u["name"] for u in inspector.get_unique_constraints("measures")}
        foreign = {f["name"] for f in inspector.get_foreign_keys("responsibilities")}
    finally:
        engine.dispose()
    assert "uq_measures_plan_id_number" in uniques
    assert foreign == {
        "fk_responsibilities_measure_id_measures",
        "fk_responsibilities_department_id_departments",
    }


def test_upgrade_from_settings_creates_the_data_dir_and_is_repeatable(tmp_path) -> None:
    data_dir = tmp_path / "missing" / "data"
    settings = Settings(data_dir=data_dir, database_url="")
    assert upgrade(settings) == head_revision()
    assert (data_dir / "duban.db").is_file()
    assert upgrade(settings) == head_revision()
    open_session_factory(settings)  # does not raise


def test_a_database_without_schema_is_refused_in_chinese(database_url: str) -> None:
    engine = engine_for_url(database_url)
    try:
        with pytest.raises(SchemaNotReadyError, match="请先运行 duban db upgrade"):
            require_schema(engine)
    finally:
        engine.dispose()


def test_a_missing_sqlite_file_is_refused_and_not_created(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "none", database_url="")
    with pytest.raises(SchemaNotReadyError, match="数据库尚未初始化"):
        open_session_factory(settings)
    assert not (tmp_path / "none").exists()


def test_sqlite_migrations_that_rebuild_a_table_keep_the_rows_that_reference_it(
    tmp_path: Path,
) -> None:
    """Batch migrations rebuild ``tasks`` on SQLite; its events and notices
    (ON DELETE CASCADE) survive going down past 0011 and up again."""
    from duban.db import make_session_factory
    from duban.services.accounts.directory import load_directory_file, sync_directory
    from models import Notice, TaskEvent
    from tests.db.conftest import at, seed_world

    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(settings)
    engine = engine_for_url(settings.database_url)
    try:
        factory = make_session_factory(engine)
        sync_directory(load_directory_file(settings.directory_file), session_factory=factory)
        world = seed_world(factory)
        with factory.begin() as session:
            session.add(Notice(task_id=world.district, step="urge", due_at=at("2015-12-18"),
                               status="sent", created_at=at("2015-12-18"), level=1))

        def counts() -> tuple[int, int]:
            with factory() as session:
                return (session.scalar(select(func.count()).select_from(TaskEvent)) or 0,
                        session.scalar(select(func.count()).select_from(Notice)) or 0)

        before = counts()
        assert before[0] >= 5 and before[1] == 1
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0010")
        assert upgrade(settings) == head_revision()
        assert counts() == before
    finally:
        engine.dispose()


TRIGGERS = {
    "tasks_light_stale", "task_events_insert_light_stale", "task_events_delete_light_stale",
    "task_events_update_light_stale", "indicator_readings_insert_light_stale",
    "indicator_readings_delete_light_stale", "indicator_readings_update_light_stale",
}
SCORE_TRIGGERS = {
    "tasks_insert_score_row", "tasks_score_stale",
    *(f"{table}_{operation}_score_stale"
      for table in ("task_events", "notices", "extension_requests")
      for operation in ("insert", "delete", "update")),
}

KEPT_TRIGGERS = {
    "tasks_insert_measure_lights", "tasks_delete_measure_lights", "tasks_move_measure_lights",
}


def _triggers(engine: Engine) -> set[str]:
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if engine.dialect.name == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    )
    with engine.connect() as connection:
        return set(connection.exec_driver_sql(query).scalars())


@contextmanager
def _seeded_at_head(
    database_url: str, tmp_path: Path,
) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """The database at head with the directory and the test world seeded through
    the models (which map every migration's columns), its engine disposed after."""
    from duban.db import make_session_factory
    from duban.services.accounts.directory import load_directory_file, sync_directory
    from tests.db.conftest import seed_world

    engine = engine_for_url(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
        factory = make_session_factory(engine)
        settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
        sync_directory(load_directory_file(settings.directory_file), session_factory=factory)
        seed_world(factory)
        yield engine, factory
    finally:
        engine.dispose()


def _another_task(session: Session, like: int, measure_id: int | None = None) -> None:
    """A new supporting task shaped like task ``like`` (of its measure unless given)."""
    from models import Task

    task = session.get(Task, like)
    assert task is not None
    session.add(Task(measure_id=task.measure_id if measure_id is None else measure_id,
                     department_id=task.department_id, named_as="单位", role="supporting",
                     deadline=task.deadline, due=task.due, original_due=task.due,
                     state="assigned", assigned_at=task.assigned_at, version=1))


def test_0018_adds_the_stored_light_and_its_triggers_and_takes_them_away(
    database_url: str,
) -> None:
    engine = engine_for_url(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
        assert _triggers(engine) == TRIGGERS | SCORE_TRIGGERS | KEPT_TRIGGERS
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0017")
        assert _triggers(engine) == set()
        columns = {c["name"] for c in inspect(engine).get_columns("tasks")}
        assert not {"light", "light_key"} & columns
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
        assert _triggers(engine) == TRIGGERS | SCORE_TRIGGERS | KEPT_TRIGGERS
    finally:
        engine.dispose()


def test_0022_keeps_a_stale_score_row_for_every_task_and_takes_it_away(
    database_url: str, tmp_path: Path,
) -> None:
    """Upgraded with tasks stored, every task gets a stale row (the backfill);
    a task inserted after gets one from its trigger; the downgrade drops the
    table and its triggers and keeps the lights'."""
    from models import Task

    # Seeded at head, then back to 0021 and up to 0022.
    with _seeded_at_head(database_url, tmp_path) as (engine, factory):
        with factory() as session:
            tasks = set(session.scalars(select(Task.id)))
        assert tasks
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0021")
            command.upgrade(alembic_config(connection=connection), "0022")
        assert _triggers(engine) == TRIGGERS | SCORE_TRIGGERS

        def rows() -> dict[int, str | None]:
            with engine.connect() as connection:
                return dict(connection.exec_driver_sql(
                    "SELECT task_id, score_key FROM task_scores").all())

        assert rows() == dict.fromkeys(tasks)
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
            connection.exec_driver_sql("UPDATE task_scores SET score_key = 'k'")
        with factory.begin() as session:
            _another_task(session, min(tasks))
            task = session.get(Task, min(tasks))
            assert task is not None
            task.due = task.due.replace(year=task.due.year + 1)
        found = rows()
        assert len(found) == len(tasks) + 1
        assert found[min(tasks)] is None  # its due date changed
        assert list(found.values()).count(None) == 2  # and the new task's row
        assert list(found.values()).count("k") == len(tasks) - 1
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0021")
        assert _triggers(engine) == TRIGGERS
        assert "task_scores" not in inspect(engine).get_table_names()
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
        assert len(rows()) == len(tasks) + 1


def test_0025_keeps_measure_lights_that_task_inserts_deletes_and_moves_forget(
    database_url: str, tmp_path: Path,
) -> None:
    """A kept row goes when a task of its measure is inserted, deleted or
    moved to another measure (both measures'); other writes keep it (the
    page sees stale tasks itself); the downgrade drops the table and its
    triggers and keeps the others."""
    from models import Task, TaskScore

    with _seeded_at_head(database_url, tmp_path) as (engine, factory):
        with factory() as session:
            tasks = list(session.execute(select(Task.id, Task.measure_id).order_by(Task.id)))
        measures = sorted({m for _t, m in tasks})
        assert len(measures) >= 2

        def keep_all() -> None:
            with engine.begin() as connection:
                connection.exec_driver_sql("DELETE FROM measure_lights")
                for measure_id in measures:
                    connection.exec_driver_sql(
                        "INSERT INTO measure_lights (measure_id, light_key, tasks, red, yellow,"
                        f" blue, late, green) VALUES ({measure_id}, 'k', 1, 0, 0, 0, 0, 1)")

        def kept() -> set[int]:
            with engine.connect() as connection:
                return set(connection.exec_driver_sql(
                    "SELECT measure_id FROM measure_lights").scalars())

        first, other = measures[0], measures[1]
        task_id = next(t for t, m in tasks if m == first)
        keep_all()
        with factory.begin() as session:
            task = session.get(Task, task_id)
            assert task is not None
            task.due = task.due.replace(year=task.due.year + 1)
            task.named_as = "改名"
        assert kept() == set(measures)
        with factory.begin() as session:
            task = session.get(Task, task_id)
            assert task is not None
            task.measure_id = other
        assert kept() == set(measures) - {first, other}
        keep_all()
        with factory.begin() as session:
            _another_task(session, task_id, measure_id=first)
        assert kept() == set(measures) - {first}
        keep_all()
        with factory.begin() as session:
            added = session.scalars(select(Task.id).where(Task.named_as == "单位",
                                                          Task.role == "supporting",
                                                          Task.measure_id == first)).first()
            session.execute(delete(TaskScore).where(TaskScore.task_id == added))
            session.execute(delete(Task).where(Task.id == added))
        assert kept() == set(measures) - {first}
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0024")
        assert _triggers(engine) == TRIGGERS | SCORE_TRIGGERS
        assert "measure_lights" not in inspect(engine).get_table_names()
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "head")
        assert _triggers(engine) == TRIGGERS | SCORE_TRIGGERS | KEPT_TRIGGERS
