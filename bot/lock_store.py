"""Rasa's conversation locks on the process's Redis (its ``Services``), so they follow a
Sentinel failover like every other client; Rasa's ``RedisLockStore`` connects to one fixed
host."""

from __future__ import annotations

from typing import Any

from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from switchboard.redis_client import refuse_connection_settings
from switchboard.services import installed


class SwitchboardLockStore(RedisLockStore):
    """``RedisLockStore`` on the Services the process's root installed (``endpoints.yml``:
    ``type`` and ``key_prefix`` only; a server named there raises ValueError)."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        options: dict[str, Any] = dict(endpoint_config.kwargs)
        key_prefix = options.pop("key_prefix", None)
        refuse_connection_settings(endpoint_config.url, options)
        super().__init__(key_prefix=key_prefix)
        self.services = installed()  # Rasa builds the store: the root's Services
        self.red = self.services.redis
