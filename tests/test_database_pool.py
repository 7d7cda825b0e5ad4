"""PostgreSQL's pool and timeouts come from the settings (DATABASE_POOL_*), on a real server."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from switchboard.db import Database, database
from switchboard.settings import Settings


def test_the_pool_and_statement_limits_apply_to_postgresql(postgres_url):
    settings = Settings.from_env({"DATABASE_URL": postgres_url, "DATABASE_POOL_SIZE": "1",
                                  "DATABASE_MAX_OVERFLOW": "0", "DATABASE_POOL_TIMEOUT": "0.5",
                                  "DATABASE_STATEMENT_TIMEOUT": "0.3"})
    db = database(settings)
    try:
        with db.engine.connect() as held:
            held.execute(text("SELECT 1"))
            with pytest.raises(sqlalchemy.exc.TimeoutError):  # one connection, and it is taken
                db.engine.connect()
        with db.engine.connect() as connection, pytest.raises(sqlalchemy.exc.OperationalError,
                                                              match="statement timeout"):
            connection.execute(text("SELECT pg_sleep(2)"))
    finally:
        db.dispose()


def test_without_limits_a_slow_statement_runs_and_connections_are_pooled(postgres_url):
    db = Database(postgres_url)
    try:
        with db.engine.connect() as first, db.engine.connect() as second:
            assert first.execute(text("SELECT pg_sleep(0.5), 1")).one()[1] == 1
            assert second.execute(text("SELECT 2")).scalar() == 2
    finally:
        db.dispose()
