"""Bring a database to the newest schema (``alembic upgrade head``), run on every start.

Every replica of every process starts this way, so two may migrate at once: the upgrade runs
in one transaction that first takes the database's own lock (PostgreSQL: a transaction-level
advisory lock; SQLite: a lock file beside the database, then ``BEGIN IMMEDIATE``). The second
waits, then finds the schema current and does nothing: migrations run once per deploy.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text

from switchboard.db import Database, database, metadata
from switchboard.settings import Settings

# Every package whose tables live in the one database; their models register on `metadata`.
MODEL_MODULES = ("contacts.models", "accounts.models", "handoff.models")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x5B0A_2D17  # the advisory lock's key (any 64-bit number no one else uses)
logging.getLogger("alembic").setLevel(logging.WARNING)  # not a line per start about its dialect


def import_models() -> MetaData:
    """The project's metadata with every table of every package registered on it."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return metadata


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every migration the database lacks; safe to run on each start, in several
    processes at once (one migrates, the others wait for it)."""
    config = alembic_config()
    with _sqlite_file_lock(db), \
            db.engine.execution_options(write=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextlib.contextmanager
def _sqlite_file_lock(db: Database) -> Iterator[None]:
    """SQLite: one migrator at a time by a lock file beside the database. Its own locks are not
    enough: a second process switching a fresh file to WAL while the first commits deadlocks
    until the busy timeout ("database is locked")."""
    path = db.engine.url.database if db.is_sqlite else None
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def migrated_database(settings: Settings) -> Database:
    """This process's database, brought to the newest schema first (what every command that
    opens the database does before anything else)."""
    db = database(settings)
    upgrade(db)
    return db


def revision(db: Database, message: str) -> None:
    """Autogenerate a new migration from the models (for developers, after changing models)."""
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
