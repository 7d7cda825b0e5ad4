"""Each agent's inbox: what their console must show as it happens (a customer's new message, a
chat given to them). A Redis stream rather than pub/sub: a page that reloads or reconnects
reads on from its cursor, so nothing said in between is lost."""

from __future__ import annotations

import json
from typing import Any

import redis
from redis import asyncio as aioredis

KEEP = 1000  # entries per agent; a console never lags that far


def inbox_key(agent_id: str) -> str:
    return f"switchboard:console:{agent_id}"


async def post(client: aioredis.Redis, agent_id: str, message: dict[str, Any]) -> None:
    await client.xadd(inbox_key(agent_id), {"data": json.dumps(message)}, maxlen=KEEP,
                      approximate=True)


def cursor(client: redis.Redis, agent_id: str) -> str:
    """Where a page rendered now starts reading."""
    last = client.xrevrange(inbox_key(agent_id), count=1)
    return last[0][0] if last else "0-0"
