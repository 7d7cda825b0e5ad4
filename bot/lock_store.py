"""Rasa's conversation locks on the process's Redis (``switchboard.redis_client``), so they
follow a Sentinel failover like every other client; Rasa's ``RedisLockStore`` connects to one
fixed host."""

from __future__ import annotations

from typing import Any

from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from switchboard.redis_client import redis_client, refuse_connection_settings


class SwitchboardLockStore(RedisLockStore):
    """``RedisLockStore`` whose client is the factory's (``endpoints.yml``: ``type`` and
    ``key_prefix`` only; a server named there raises ValueError)."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        options: dict[str, Any] = dict(endpoint_config.kwargs)
        key_prefix = options.pop("key_prefix", None)
        refuse_connection_settings(endpoint_config.url, options)
        super().__init__(key_prefix=key_prefix)
        self.red = redis_client()
