"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from switchboard import migrate


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
