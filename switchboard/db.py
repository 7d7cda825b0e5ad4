"""The one database engine and session factory shared by every process.

SQLite (a file in the data directory, WAL mode) by default; PostgreSQL when ``DATABASE_URL``
says so. SQLAlchemy 1.4 in 2.0 style (``future=True``): explicit sessions, one unit of work
per request or per recorded event.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.pool import QueuePool

from switchboard.settings import PoolOptions, Settings

# One schema for the whole project (contact records, accounts, complaints): one migration history
# in switchboard/migrations. Named constraints, so migrations can alter them on every database.
metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})
Base = declarative_base(metadata=metadata)


class Database:
    """An engine plus its session factory, for one database URL."""

    def __init__(self, url: str, pool: PoolOptions | None = None) -> None:
        self.url = url
        self.engine = _make_engine(url, pool or PoolOptions())
        self.sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)
        self._writes = sessionmaker(
            self.engine.execution_options(write=True), future=True, expire_on_commit=False
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work that writes: committed when the block ends, rolled back if it raises."""
        with self._writes() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work (on SQLite it never waits for writers)."""
        with self.sessions() as session, session.begin():
            yield session

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()


def database(settings: Settings) -> Database:
    """This process's database (one engine per URL, created on first use)."""
    return _database_for(settings.database_url, settings.database_pool)


@functools.cache
def _database_for(url: str, pool: PoolOptions) -> Database:
    return Database(url, pool)


def _make_engine(url: str, pool: PoolOptions) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        options = f"-c statement_timeout={int(pool.statement_timeout * 1000)}"
        return create_engine(url, future=True, pool_pre_ping=True, pool_size=pool.size,
                             max_overflow=pool.overflow, pool_timeout=pool.timeout,
                             connect_args={"connect_timeout": max(1, round(pool.connect_timeout)),
                                           "options": options})
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, future=True, pool_pre_ping=True, pool_size=pool.size,
                             max_overflow=pool.overflow, pool_timeout=pool.timeout)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # A pool of long-lived connections (SQLAlchemy 1.4 defaults to none for SQLite files, and
    # connecting costs more than a small transaction).
    engine = create_engine(url, future=True, poolclass=QueuePool, pool_size=5, max_overflow=20,
                           connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin)
    return engine


def _configure_sqlite(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; NORMAL sync is durable across crashes of the process.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin(connection) -> None:
    # Writers BEGIN IMMEDIATE: they take the write lock up front and queue on busy_timeout instead
    # of failing with "database is locked" when a read transaction upgrades to a write.
    writes = connection.get_execution_options().get("write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
