"""Steps every inbound message takes, whichever channel it came on (transport stays per channel).

So far: deduplication by the channel's message id. A redelivered webhook or a client retry must
not reach Rasa twice: it would answer twice and be recorded twice.
"""

from __future__ import annotations

from switchboard.redis_client import async_redis_client

# How long a message id is remembered: longer than any channel's redelivery window.
DEDUP_SECONDS = 7 * 24 * 3600


async def first_delivery(channel: str, sender_id: str, message_id: str) -> bool:
    """True the first time this channel message is seen, False for every redelivery."""
    key = f"switchboard:seen:{channel}:{sender_id}:{message_id}"
    return bool(await async_redis_client().set(key, "1", nx=True, ex=DEDUP_SECONDS))
