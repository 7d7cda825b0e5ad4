"""Bring a database to the newest schema (``alembic upgrade head``), run on every start."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from switchboard.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
logging.getLogger("alembic").setLevel(logging.WARNING)  # not a line per start about its dialect


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every migration the database lacks; safe to run on each start."""
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def revision(db: Database, message: str) -> None:
    """Autogenerate a new migration from the models (for developers: `switchboard contacts
    revision -m ...` after changing contacts/models.py)."""
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
