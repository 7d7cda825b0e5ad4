"""The human-agent queue and conversation ownership, in Redis (AOF: it survives restarts).

Each conversation has one owner: the bot (no key), ``queued``, or ``agent:<id>``. Queued
conversations wait in one sorted set per skill, ordered by priority, then by time; claims are Lua
scripts, so an agent's claim is atomic: with any number of agents racing, a conversation is
assigned once and never lost. This module is the only code that changes ownership or the queue.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

SKILLS = ("billing", "technical", "complaints", "general")
MAX_PRIORITY = 9
_PREFIX = "switchboard:handoff"
EVENTS = f"{_PREFIX}:events"  # a stream the console follows: enqueued, claimed, cancelled, ...


def owner_key(sender_id: str) -> str:
    """The Redis key of a conversation's owner (absent: the bot); readable by async clients."""
    return f"{_PREFIX}:owner:{sender_id}"


def _record_key(sender_id: str) -> str:
    return f"{_PREFIX}:record:{sender_id}"


def _queue_key(skill: str) -> str:
    return f"{_PREFIX}:queue:{skill}"


def _chats_key(agent_id: str) -> str:
    return f"{_PREFIX}:agent:{agent_id}:chats"


def score(priority: int, enqueued_at: float, front: bool = False) -> float:
    """Lower first: higher priority, then older. ``front``: before everyone of that priority."""
    band = (MAX_PRIORITY - max(0, min(priority, MAX_PRIORITY))) * 1e13
    return band if front else band + int(enqueued_at * 1000)


@dataclass
class Handoff:
    """What an agent needs to pick up a conversation."""

    sender_id: str
    channel: str
    skill: str
    reason: str
    priority: int = 1
    customer_msisdn: str | None = None
    verified: bool = False
    trigger_intent: str | None = None
    transcript: list[dict[str, str]] = field(default_factory=list)
    enqueued_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> Handoff:
        return cls(**json.loads(raw))


def owner(client: redis.Redis, sender_id: str) -> str:
    """``bot``, ``queued`` or ``agent:<id>``."""
    return client.get(owner_key(sender_id)) or "bot"


def enqueue(client: redis.Redis, handoff: Handoff) -> int:
    """Put the conversation in its skill's queue (once); returns its position (1 = next)."""
    if handoff.skill not in SKILLS:
        raise ValueError(f"unknown skill {handoff.skill!r}; skills: {', '.join(SKILLS)}")
    current = owner(client, handoff.sender_id)
    if current == "bot":
        pipe = client.pipeline(transaction=True)
        pipe.set(_record_key(handoff.sender_id), handoff.to_json())
        pipe.set(owner_key(handoff.sender_id), "queued")
        pipe.zadd(_queue_key(handoff.skill),
                  {handoff.sender_id: score(handoff.priority, handoff.enqueued_at)})
        pipe.xadd(EVENTS, {"kind": "enqueued", "sender_id": handoff.sender_id,
                           "skill": handoff.skill}, maxlen=10_000, approximate=True)
        pipe.execute()
    return position(client, handoff.sender_id) or 0


def record(client: redis.Redis, sender_id: str) -> Handoff | None:
    raw = client.get(_record_key(sender_id))
    return Handoff.from_json(raw) if raw else None


def position(client: redis.Redis, sender_id: str) -> int | None:
    """1 for the next to be taken; None when not waiting."""
    handoff = record(client, sender_id)
    if handoff is None or owner(client, sender_id) != "queued":
        return None
    rank = client.zrank(_queue_key(handoff.skill), sender_id)
    return None if rank is None else rank + 1


def waiting(client: redis.Redis, skill: str) -> list[str]:
    """The skill's queue, next first."""
    return list(client.zrange(_queue_key(skill), 0, -1))


# Take the best waiting conversation among the agent's skills, if the agent has room.
_CLAIM_NEXT = """
local chats_key, capacity, agent = KEYS[1], tonumber(ARGV[1]), ARGV[2]
if redis.call('SCARD', chats_key) >= capacity then return false end
local best, best_score, best_queue = false, nil, nil
for i = 2, #KEYS do
  local head = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  if head[1] and (best_score == nil or tonumber(head[2]) < best_score) then
    best, best_score, best_queue = head[1], tonumber(head[2]), KEYS[i]
  end
end
if not best then return false end
redis.call('ZREM', best_queue, best)
redis.call('SADD', chats_key, best)
redis.call('SET', ARGV[3] .. best, 'agent:' .. agent)
return best
"""

# Take one chosen conversation ("pick from the list"), if it is still waiting.
_CLAIM = """
local chats_key, queue_key, capacity = KEYS[1], KEYS[2], tonumber(ARGV[1])
if redis.call('SCARD', chats_key) >= capacity then return false end
if redis.call('ZREM', queue_key, ARGV[3]) == 0 then return false end
redis.call('SADD', chats_key, ARGV[3])
redis.call('SET', ARGV[4], 'agent:' .. ARGV[2])
return ARGV[3]
"""


def claim_next(client: redis.Redis, agent_id: str, skills: list[str], capacity: int) -> str | None:
    """The oldest highest-priority conversation of the agent's skills, now theirs; or None."""
    keys = [_chats_key(agent_id), *(_queue_key(s) for s in skills)]
    taken = client.eval(_CLAIM_NEXT, len(keys), *keys, capacity, agent_id,
                        f"{_PREFIX}:owner:")
    if taken:
        _event(client, "claimed", taken, agent=agent_id)
    return taken or None


def claim(client: redis.Redis, agent_id: str, sender_id: str, capacity: int) -> bool:
    """Take this conversation if it is still waiting and the agent has room."""
    handoff = record(client, sender_id)
    if handoff is None:
        return False
    taken = client.eval(_CLAIM, 2, _chats_key(agent_id), _queue_key(handoff.skill), capacity,
                        agent_id, sender_id, owner_key(sender_id))
    if taken:
        _event(client, "claimed", sender_id, agent=agent_id)
    return bool(taken)


def cancel(client: redis.Redis, sender_id: str) -> bool:
    """The customer stopped waiting: out of the queue, back to the bot."""
    handoff = record(client, sender_id)
    if handoff is None or owner(client, sender_id) != "queued":
        return False
    pipe = client.pipeline(transaction=True)
    pipe.zrem(_queue_key(handoff.skill), sender_id)
    pipe.delete(owner_key(sender_id), _record_key(sender_id))
    pipe.execute()
    _event(client, "cancelled", sender_id)
    return True


def return_to_bot(client: redis.Redis, agent_id: str, sender_id: str) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.srem(_chats_key(agent_id), sender_id)
    pipe.delete(owner_key(sender_id), _record_key(sender_id))
    pipe.execute()
    _event(client, "returned", sender_id, agent=agent_id)


def requeue_front(client: redis.Redis, agent_id: str, sender_id: str) -> None:
    """An agent went away: the chat waits again, ahead of its priority band."""
    handoff = record(client, sender_id)
    if handoff is None:
        return
    pipe = client.pipeline(transaction=True)
    pipe.srem(_chats_key(agent_id), sender_id)
    pipe.zadd(_queue_key(handoff.skill), {sender_id: score(handoff.priority, 0, front=True)})
    pipe.set(owner_key(sender_id), "queued")
    pipe.execute()
    _event(client, "requeued", sender_id, agent=agent_id)


# Expire one waiting conversation if it is still waiting (ZREM decides who expires it).
_EXPIRE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
"""


def expire_waiting(client: redis.Redis, max_wait_seconds: float, now: float) -> list[Handoff]:
    """End the handoffs that waited longer than allowed; returns them (each exactly once, even
    with several sweepers)."""
    expired = []
    for skill in SKILLS:
        for sender_id in client.zrange(_queue_key(skill), 0, -1):
            handoff = record(client, sender_id)
            if handoff is None or now - handoff.enqueued_at <= max_wait_seconds:
                continue
            if client.eval(_EXPIRE, 3, _queue_key(skill), owner_key(sender_id),
                           _record_key(sender_id), sender_id):
                _event(client, "expired", sender_id)
                expired.append(handoff)
    return expired


def transfer(client: redis.Redis, agent_id: str, sender_id: str, skill: str) -> bool:
    """The agent hands the chat to another skill's queue, ahead of its priority band."""
    if skill not in SKILLS:
        raise ValueError(f"unknown skill {skill!r}; skills: {', '.join(SKILLS)}")
    handoff = record(client, sender_id)
    if handoff is None or owner(client, sender_id) != f"agent:{agent_id}":
        return False
    handoff.skill = skill
    pipe = client.pipeline(transaction=True)
    pipe.srem(_chats_key(agent_id), sender_id)
    pipe.set(_record_key(sender_id), handoff.to_json())
    pipe.zadd(_queue_key(skill), {sender_id: score(handoff.priority, 0, front=True)})
    pipe.set(owner_key(sender_id), "queued")
    pipe.execute()
    _event(client, "transferred", sender_id, agent=agent_id, skill=skill)
    return True


def chats_of(client: redis.Redis, agent_id: str) -> set[str]:
    return set(client.smembers(_chats_key(agent_id)))


def _event(client: redis.Redis, kind: str, sender_id: str, **extra: Any) -> None:
    client.xadd(EVENTS, {"kind": kind, "sender_id": sender_id, **extra}, maxlen=10_000,
                approximate=True)
