"""At-least-once delivery, exactly-once effect: claim a channel message, process it, commit.

Providers redeliver a webhook they got no 2xx for (Telegram always; Twilio when a fallback URL
or retries are configured; a REST integration retries its own requests). Marking a message seen
*before* processing lost it when processing then failed: the retry was taken for a duplicate.
Here a message id is claimed (a key holding ``busy:<token>``, renewed every ``RENEW_SECONDS``
while the turn runs and lapsing ``CLAIM_SECONDS`` after its process died, so a retry is
processed seconds after a crash rather than minutes), then either committed (``done``, kept
``DONE_SECONDS``) or released (deleted) when processing failed, so the retry is processed as
if it were the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

CLAIM_SECONDS = 15  # a dead process's claim lapses this long after its last renewal
RENEW_SECONDS = 5  # a live turn renews its claim this often (three chances per lapse)
DONE_SECONDS = 7 * 24 * 3600  # longer than any channel's redelivery window
DONE = "done"

# Delete the claim only if it is still ours (a lapsed claim may have been taken by a retry).
# GETDEL rather than GET: a Redis that refuses GET (our fault-injection tests) still releases.
_RELEASE = """
local ttl = redis.call('PTTL', KEYS[1])
local held = redis.call('GETDEL', KEYS[1])
if held and held ~= ARGV[1] then
  if ttl > 0 then redis.call('SET', KEYS[1], held, 'PX', ttl)
  else redis.call('SET', KEYS[1], held) end
  return 0
end
return 1
"""


class State(enum.Enum):
    NEW = "new"  # ours to process
    DONE = "done"  # processed before: a redelivery
    BUSY = "busy"  # being processed right now by another request: retry later


@dataclass(frozen=True)
class Claim:
    state: State
    key: str
    token: str


def _key(channel: str, sender_id: str, message_id: str) -> str:
    # the sender's length keeps ("col", "x:1") and ("col:x", "1") apart
    return f"switchboard:seen:{channel}:{len(sender_id)}:{sender_id}:{message_id}"


async def claim(client: aioredis.Redis, channel: str, sender_id: str,
                message_id: str) -> Claim:
    """Claim this channel message (one round trip: SET NX GET)."""
    key, token = _key(channel, sender_id, message_id), f"busy:{secrets.token_hex(8)}"
    held = await client.set(key, token, nx=True, ex=CLAIM_SECONDS, get=True)
    if held is None:
        return Claim(State.NEW, key, token)
    return Claim(State.DONE if held == DONE else State.BUSY, key, token)


# Extend the claim only if it is still ours.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


async def keep(client: aioredis.Redis, taken: Claim) -> None:
    """Renew the claim until cancelled (run beside the turn). A failed renewal is retried at the
    next beat: a Redis failing over for a moment must not end a turn that is fine."""
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        with contextlib.suppress(RedisError):
            await client.eval(_RENEW, 1, taken.key, taken.token, CLAIM_SECONDS)


async def commit(client: aioredis.Redis, taken: Claim) -> None:
    """Processed: every redelivery from now on is a duplicate."""
    await client.set(taken.key, DONE, ex=DONE_SECONDS)


async def release(client: aioredis.Redis, taken: Claim) -> None:
    """Processing failed: a redelivery is processed afresh."""
    await client.eval(_RELEASE, 1, taken.key, taken.token)
