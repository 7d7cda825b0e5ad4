"""The one Redis client factory shared by every process (sync and asyncio flavours)."""

from __future__ import annotations

import asyncio
import functools

import redis
import redis.asyncio as aioredis

from switchboard.settings import Settings, load_settings


def redis_client(settings: Settings | None = None) -> redis.Redis:
    """The process's blocking client (thread-safe; one connection pool per Redis URL, not a new
    pool per call on per-message paths)."""
    settings = settings or load_settings()
    return _client_for(settings.effective_redis_url)


@functools.lru_cache(maxsize=16)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def async_redis_client(settings: Settings | None = None) -> aioredis.Redis:
    """The shared asyncio client of this event loop (one connection pool per Redis URL and
    loop: asyncio connections cannot move between loops)."""
    settings = settings or load_settings()
    return _async_client_for(settings.effective_redis_url, id(asyncio.get_running_loop()))


@functools.lru_cache(maxsize=64)
def _async_client_for(url: str, loop_id: int) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=True)
