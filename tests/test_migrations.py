"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from switchboard import migrate
from switchboard.db import Database
from tests.postgres import fresh_database


def test_migrated_database_matches_the_models(migrated_db):
    with migrated_db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, migrate.import_models())
    assert differences == []


def test_database_is_at_the_newest_revision_and_upgrading_again_is_harmless(migrated_db):
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    migrate.upgrade(migrated_db)
    with migrated_db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path) -> str:
    """A database no migration has touched yet, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    return fresh_database(request.getfixturevalue("postgres_url"))


def test_replicas_starting_together_migrate_once_and_all_start(empty_url):
    """Every process migrates on start: four starting at the same moment on an empty database
    must all succeed (without a lock, PostgreSQL fails all but one on "already exists")."""
    replicas = [Database(empty_url) for _ in range(4)]
    start, failures = threading.Barrier(len(replicas)), []

    def boot(db: Database) -> None:
        start.wait()
        try:
            migrate.upgrade(db)
        except Exception as exc:  # noqa: BLE001  # collected: the assertion names it
            failures.append(repr(exc))

    threads = [threading.Thread(target=boot, args=(db,)) for db in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    with replicas[0].engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head
    for db in replicas:
        db.dispose()
    assert failures == []
