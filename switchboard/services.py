"""What a process is built from: its settings, its Redis clients and its database.

Each process's composition root (``processes/``) reads the settings once, builds one
``Services`` and passes it down: to the apps it creates (``app.ctx.services``), to the workers
it starts, to the objects it constructs. Rasa and rasa_sdk construct some of our objects
themselves, with no argument of ours (channels from credentials.yml, the tracker and lock
stores from endpoints.yml, the actions): for those the root ``install``s its ``Services``
before the framework starts, and they take it once, when they are constructed (``installed``).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from switchboard.db import Database, database
from switchboard.redis_client import async_redis_client, redis_client
from switchboard.settings import Settings


@dataclass(frozen=True)
class Services:
    """One process's settings and the clients built from them (each built once per process:
    the factories keep one pool per URL)."""

    settings: Settings

    @property
    def redis(self) -> redis.Redis:
        """The blocking client (thread-safe; follows a Sentinel failover)."""
        return redis_client(self.settings)

    def async_redis(self) -> aioredis.Redis:
        """The asyncio client of the running event loop (one per loop)."""
        return async_redis_client(self.settings)

    @property
    def db(self) -> Database:
        """The contact-record database (engine and session factory)."""
        return database(self.settings)


_installed: Services | None = None


def install(services: Services) -> Services:
    """The composition root's ``Services``, for objects a framework constructs."""
    global _installed
    _installed = services
    return services


def installed() -> Services:
    """The ``Services`` the process's root installed.

    Raises RuntimeError when no root installed one: code run outside a Switchboard process
    must be given its ``Services`` (or install one, as the tests' fixtures do)."""
    if _installed is None:
        raise RuntimeError("no Services installed: this code runs inside a Switchboard process "
                           "(processes/), or is given its Services")
    return _installed
