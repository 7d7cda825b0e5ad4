"""The one Redis client factory shared by every process (sync and asyncio flavours).

A client talks to ``REDIS_URL``, or, with ``REDIS_SENTINELS`` set, to whichever server the
sentinels name as the primary of ``REDIS_SENTINEL_SERVICE``: after a failover its next
connection goes to the promoted replica (redis-py's ``SentinelConnectionPool``; a demoted
primary's ``READONLY`` answer drops the connection too). Commands in flight when the primary
dies fail with ``ConnectionError`` and are not retried here: a retried ``RPUSH`` or ``INCR``
could be applied twice, so each caller decides (the gateway refuses with a retryable status).
"""

from __future__ import annotations

import asyncio
import functools
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

from switchboard.settings import Settings

Addresses = tuple[tuple[str, int], ...]
SENTINEL_TIMEOUT = 1.0  # seconds a sentinel may take to answer before the next one is asked


def redis_client(settings: Settings) -> redis.Redis:
    """The process's blocking client (thread-safe; one connection pool per Redis URL, not a new
    pool per call on per-message paths)."""
    if settings.redis_sentinels:
        return _primary_for(settings.redis_sentinels, settings.redis_sentinel_service,
                            settings.effective_redis_url)
    return _client_for(settings.effective_redis_url)


def async_redis_client(settings: Settings) -> aioredis.Redis:
    """The shared asyncio client of this event loop (one connection pool per Redis URL and
    loop: asyncio connections cannot move between loops)."""
    loop_id = id(asyncio.get_running_loop())
    if settings.redis_sentinels:
        return _async_primary_for(settings.redis_sentinels, settings.redis_sentinel_service,
                                  settings.effective_redis_url, loop_id)
    return _async_client_for(settings.effective_redis_url, loop_id)


@functools.lru_cache(maxsize=16)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


@functools.lru_cache(maxsize=64)
def _async_client_for(url: str, loop_id: int) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=True)


@functools.lru_cache(maxsize=16)
def _primary_for(sentinels: Addresses, service: str, url: str) -> redis.Redis:
    sentinel = Sentinel(list(sentinels), socket_timeout=SENTINEL_TIMEOUT)
    return sentinel.master_for(service, decode_responses=True, **_auth_and_db(url))


@functools.lru_cache(maxsize=64)
def _async_primary_for(sentinels: Addresses, service: str, url: str,
                       loop_id: int) -> aioredis.Redis:
    sentinel = AsyncSentinel(list(sentinels), socket_timeout=SENTINEL_TIMEOUT)
    return sentinel.master_for(service, decode_responses=True, **_auth_and_db(url))


def refuse_connection_settings(host: str | None, connection: dict[str, object]) -> None:
    """For Rasa's stores built from ``endpoints.yml``: a server named there would be silently
    ignored (the stores use this factory), so it is an error. Raises ValueError."""
    if host is not None or connection:
        raise ValueError("endpoints.yml names no Redis server: the stores use REDIS_URL or "
                         f"REDIS_SENTINELS (got {sorted(connection) or ['url']})")


def _auth_and_db(url: str) -> dict[str, object]:
    """The password and database number of ``REDIS_URL`` (its host is the sentinels' to say)."""
    parts = urlsplit(url)
    return {"db": int((parts.path or "/0").lstrip("/") or 0), "password": parts.password,
            "username": parts.username or None}
