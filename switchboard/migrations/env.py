"""Alembic environment: migrates the database the caller passes (see switchboard.migrate)."""

from alembic import context

from switchboard.migrate import import_models

metadata = import_models()

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
