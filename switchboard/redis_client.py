"""The one Redis client factory shared by every process (sync and asyncio flavours)."""

from __future__ import annotations

import functools

import redis
import redis.asyncio as aioredis

from switchboard.settings import Settings, load_settings


def redis_client(settings: Settings | None = None) -> redis.Redis:
    """A blocking client for CLIs, tests and the launcher."""
    settings = settings or load_settings()
    return redis.Redis.from_url(settings.effective_redis_url, decode_responses=True)


def async_redis_client(settings: Settings | None = None) -> aioredis.Redis:
    """The process's shared asyncio client (one connection pool per Redis URL)."""
    settings = settings or load_settings()
    return _async_client_for(settings.effective_redis_url)


@functools.cache
def _async_client_for(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=True)
