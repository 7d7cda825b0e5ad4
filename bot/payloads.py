"""Which messages may act as an intent payload (``/intent{"entity": "value"}``).

Rasa reads any message starting with ``/`` as an intent with entities, so a customer could type
``/restart`` or ``/check_balance{"phone_number": "..."}`` and drive the dialogue directly. Here
a payload counts only if the assistant offered it in this conversation (a button or quick reply
it sent, remembered per conversation when sent); the gateway then marks the message, and only
marked messages are unpacked as intents (``bot.server`` restricts Rasa's RegexMessageHandler).
Anything else starting with ``/`` is plain text for the NLU.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis.asyncio as aioredis

MARK = "switchboard_payload"  # message metadata key; set only by the gateway
OFFERED_SECONDS = 24 * 3600  # a button stays pressable this long after it was last offered
PREFIX = "/"


def _key(sender_id: str) -> str:
    return f"switchboard:offered:{sender_id}"


async def remember_offered(client: aioredis.Redis, sender_id: str,
                           buttons: Iterable[Mapping[str, Any]]) -> None:
    """Note the payloads of buttons (or quick replies) just sent to this conversation."""
    payloads = {str(b.get("payload")) for b in buttons
                if str(b.get("payload") or "").startswith(PREFIX)}
    if payloads:
        key = _key(sender_id)
        async with client.pipeline(transaction=False) as pipe:
            pipe.sadd(key, *payloads)
            pipe.expire(key, OFFERED_SECONDS)
            await pipe.execute()


async def was_offered(client: aioredis.Redis, sender_id: str, text: str) -> bool:
    """Whether ``text`` is exactly a payload the assistant offered this conversation."""
    if not text.startswith(PREFIX):
        return False
    return bool(await client.sismember(_key(sender_id), text))


async def forget(client: aioredis.Redis, sender_id: str) -> None:
    await client.delete(_key(sender_id))


def is_marked(metadata: Mapping[str, Any] | None) -> bool:
    """Whether the gateway marked this message as an offered payload."""
    return bool((metadata or {}).get(MARK))
