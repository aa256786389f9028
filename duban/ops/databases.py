"""PostgreSQL for the production profile: both databases checked before
anything starts (distinct, the right drivers), and each created when missing.
URLs are shown only through :func:`duban.db.mask_url`.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from duban.db import mask_url
from duban.ops.cluster import PREFECT_DB_VARIABLE, ClusterError


def check_databases(duban_url: str, prefect_url: str | None) -> None:
    """Both URLs must be PostgreSQL and name different databases.

    Raises ClusterError naming the variable at fault. One database for both is
    refused: ``prefect server database reset`` drops every table in the
    database it points at, duban's included."""
    if not prefect_url:
        raise ClusterError(
            f"未设置 {PREFECT_DB_VARIABLE}:Prefect 服务器需要自己的 PostgreSQL 数据库"
            "(例如 postgresql+asyncpg://用户@主机:5432/prefect)"
        )
    duban, prefect = make_url(duban_url), make_url(prefect_url)
    if duban.get_backend_name() != "postgresql":
        raise ClusterError(
            f"DUBAN_DATABASE_URL 不是 PostgreSQL({mask_url(duban_url)}):"
            "生产配置的督办数据放在 PostgreSQL 中"
        )
    if prefect.get_backend_name() != "postgresql":
        raise ClusterError(
            f"{PREFECT_DB_VARIABLE} 不是 PostgreSQL({mask_url(prefect_url)}):"
            "SQLite 上的 Prefect 服务器在多个 worker 并发时会出错"
        )
    if prefect.get_driver_name() != "asyncpg":
        raise ClusterError(
            f"{PREFECT_DB_VARIABLE} 须使用 asyncpg 驱动(postgresql+asyncpg://…),"
            f"现为 {mask_url(prefect_url)}"
        )
    same = (duban.host or "", duban.port or 5432, duban.database) == (
        prefect.host or "",
        prefect.port or 5432,
        prefect.database,
    )
    if same:
        raise ClusterError(
            f"DUBAN_DATABASE_URL 与 {PREFECT_DB_VARIABLE} 指向同一个数据库“{duban.database}”:"
            "请为 Prefect 服务器另建数据库(prefect server database reset 会删除其中所有表)"
        )


def _maintenance_url(url: URL) -> URL:
    return url.set(drivername="postgresql+psycopg", database="postgres")


def ensure_database(url: str) -> bool:
    """Create the database ``url`` names on its server if it does not exist
    (connecting to the server's ``postgres`` database); True if created."""
    target = make_url(url)
    name = target.database
    if not name:
        raise ClusterError(f"数据库地址没有库名:{mask_url(url)}")
    engine = create_engine(_maintenance_url(target), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if exists:
                return False
            quoted = connection.dialect.identifier_preparer.quote(name)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    except Exception as err:
        if isinstance(err, ClusterError):
            raise
        raise ClusterError(f"无法连接或创建数据库 {mask_url(url)}:{type(err).__name__}") from None
    finally:
        engine.dispose()
