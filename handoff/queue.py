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

from contacts import events

SKILLS = ("billing", "technical", "complaints", "general")
MAX_PRIORITY = 9
_PREFIX = "switchboard:handoff"
EVENTS = f"{_PREFIX}:events"  # a stream the console follows: enqueued, claimed, cancelled, ...
_CLAIMED_AT = f"{_PREFIX}:claimed_at"  # hash: conversation -> when an agent first took it
_UNANSWERED = f"{_PREFIX}:unanswered"  # hash: conversation -> since when its customer waits
_TOLD = f"{_PREFIX}:told_position"  # hash: conversation -> the position the customer last heard
_HANDLE_TIMES = f"{_PREFIX}:handle_times"  # list: the latest finished chats' handle seconds
RECENT_HANDLES = 50
DEFAULT_HANDLE_SECONDS = 240.0  # until agents have finished some chats


def owner_key(sender_id: str) -> str:
    """The Redis key of a conversation's owner (absent: the bot); readable by async clients."""
    return f"{_PREFIX}:owner:{sender_id}"


def _record_key(sender_id: str) -> str:
    return f"{_PREFIX}:record:{sender_id}"


def _queue_key(skill: str) -> str:
    return f"{_PREFIX}:queue:{skill}"


def chats_key(agent_id: str) -> str:
    """The set of conversations an agent holds now."""
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
        announce(pipe, "enqueued", sender_id=handoff.sender_id, skill=handoff.skill)
        pipe.execute()
    return position(client, handoff.sender_id) or 0


def record(client: redis.Redis, sender_id: str) -> Handoff | None:
    raw = client.get(_record_key(sender_id))
    return Handoff.from_json(raw) if raw else None


def records(client: redis.Redis, sender_ids: list[str]) -> list[Handoff | None]:
    """Many handoff records in one round trip."""
    if not sender_ids:
        return []
    raws = client.mget([_record_key(sender) for sender in sender_ids])
    return [Handoff.from_json(raw) if raw else None for raw in raws]


def position(client: redis.Redis, sender_id: str) -> int | None:
    """1 for the next to be taken; None when not waiting."""
    handoff = record(client, sender_id)
    if handoff is None or owner(client, sender_id) != "queued":
        return None
    rank = client.zrank(_queue_key(handoff.skill), sender_id)
    return None if rank is None else rank + 1


def waiting(client: redis.Redis, skill: str, limit: int | None = None) -> list[str]:
    """The skill's queue, next first (the first ``limit`` only, if given)."""
    return list(client.zrange(_queue_key(skill), 0, -1 if limit is None else limit - 1))


def waiting_count(client: redis.Redis, skill: str) -> int:
    return client.zcard(_queue_key(skill))


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
    keys = [chats_key(agent_id), *(_queue_key(s) for s in skills)]
    taken = client.eval(_CLAIM_NEXT, len(keys), *keys, capacity, agent_id,
                        f"{_PREFIX}:owner:")
    if taken:
        handoff = record(client, taken)
        _claimed(client, taken, agent_id, handoff.skill if handoff else None)
    return taken or None


def claim(client: redis.Redis, agent_id: str, sender_id: str, capacity: int) -> bool:
    """Take this conversation if it is still waiting and the agent has room."""
    handoff = record(client, sender_id)
    if handoff is None:
        return False
    taken = client.eval(_CLAIM, 2, chats_key(agent_id), _queue_key(handoff.skill), capacity,
                        agent_id, sender_id, owner_key(sender_id))
    if taken:
        _claimed(client, sender_id, agent_id, handoff.skill)
    return bool(taken)


def _claimed(client: redis.Redis, sender_id: str, agent_id: str, skill: str | None) -> None:
    """Start the handle-time clock; the customer now waits for the agent's first words. The
    pickup names the skill's queue it came from: reports judge it by that skill's targets."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.hsetnx(_CLAIMED_AT, sender_id, now)
    pipe.hset(_UNANSWERED, sender_id, now)
    pipe.hdel(_TOLD, sender_id)
    _on_record(pipe, sender_id, "agent_pickup", agent_id, skill=skill)
    pipe.execute()
    announce(client, "claimed", sender_id=sender_id, agent=agent_id)


def cancel(client: redis.Redis, sender_id: str) -> bool:
    """The customer stopped waiting: out of the queue, back to the bot."""
    handoff = record(client, sender_id)
    if handoff is None or owner(client, sender_id) != "queued":
        return False
    pipe = client.pipeline(transaction=True)
    pipe.zrem(_queue_key(handoff.skill), sender_id)
    pipe.delete(owner_key(sender_id), _record_key(sender_id))
    pipe.execute()
    announce(client, "cancelled", sender_id=sender_id)
    return True


def return_to_bot(client: redis.Redis, agent_id: str, sender_id: str,
                  why: str = "returned") -> None:
    """The agent is done (``returned`` to the bot or ``closed``): the chat's handle time is kept
    for wait estimates."""
    claimed_at = client.hget(_CLAIMED_AT, sender_id)
    pipe = client.pipeline(transaction=True)
    _on_record(pipe, sender_id, "agent_release", agent_id, why)
    pipe.srem(chats_key(agent_id), sender_id)
    pipe.delete(owner_key(sender_id), _record_key(sender_id))
    pipe.hdel(_CLAIMED_AT, sender_id)
    pipe.hdel(_UNANSWERED, sender_id)
    if claimed_at:
        pipe.lpush(_HANDLE_TIMES, round(time.time() - float(claimed_at), 1))
        pipe.ltrim(_HANDLE_TIMES, 0, RECENT_HANDLES - 1)
    pipe.execute()
    announce(client, "returned", sender_id=sender_id, agent=agent_id)


def requeue_front(client: redis.Redis, agent_id: str, sender_id: str) -> None:
    """An agent went away: the chat waits again, ahead of its priority band."""
    handoff = record(client, sender_id)
    if handoff is None or owner(client, sender_id) != f"agent:{agent_id}":
        return
    pipe = client.pipeline(transaction=True)
    pipe.srem(chats_key(agent_id), sender_id)
    pipe.hdel(_UNANSWERED, sender_id)
    _on_record(pipe, sender_id, "agent_release", agent_id, "requeued")
    pipe.zadd(_queue_key(handoff.skill), {sender_id: score(handoff.priority, 0, front=True)})
    pipe.set(owner_key(sender_id), "queued")
    pipe.execute()
    announce(client, "requeued", sender_id=sender_id, agent=agent_id)


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
                announce(client, "expired", sender_id=sender_id)
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
    _on_record(pipe, sender_id, "agent_release", agent_id, f"transferred to {skill}")
    pipe.srem(chats_key(agent_id), sender_id)
    pipe.set(_record_key(sender_id), handoff.to_json())
    pipe.zadd(_queue_key(skill), {sender_id: score(handoff.priority, 0, front=True)})
    pipe.set(owner_key(sender_id), "queued")
    pipe.execute()
    announce(client, "transferred", sender_id=sender_id, agent=agent_id, skill=skill)
    return True


# Move a chat between two agents if the giver still holds it and the taker has room.
_GIVE = """
if redis.call('GET', KEYS[3]) ~= 'agent:' .. ARGV[2] then return 0 end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], 'agent:' .. ARGV[3])
return 1
"""


def transfer_to_agent(client: redis.Redis, agent_id: str, sender_id: str, to_agent: str,
                      to_capacity: int) -> bool:
    """The agent gives the chat to a named colleague, if that colleague has room."""
    if to_agent == agent_id:
        return False
    given = client.eval(_GIVE, 3, chats_key(agent_id), chats_key(to_agent), owner_key(sender_id),
                        sender_id, agent_id, to_agent, to_capacity)
    if given:
        client.hset(_UNANSWERED, sender_id, time.time())
        _on_record(client, sender_id, "agent_release", agent_id, f"transferred to {to_agent}")
        handoff = record(client, sender_id)
        _on_record(client, sender_id, "agent_pickup", to_agent,
                   skill=handoff.skill if handoff else None)
        announce(client, "transferred", sender_id=sender_id, agent=agent_id, to_agent=to_agent)
    return bool(given)


def customer_waiting_since(client: redis.Redis, sender_id: str, now: float) -> None:
    """A customer message arrived for the agent: the reply clock runs (if not running)."""
    client.hsetnx(_UNANSWERED, sender_id, now)


def agent_answered(client: redis.Redis, sender_id: str) -> None:
    client.hdel(_UNANSWERED, sender_id)


def unanswered_since(client: redis.Redis) -> dict[str, float]:
    """Chats with an agent whose customer waits for a reply, and since when."""
    return {sender: float(at) for sender, at in client.hgetall(_UNANSWERED).items()}


def remember_told(client: redis.Redis, sender_id: str, place: int) -> None:
    """The customer has just heard that they are number ``place`` in the queue."""
    client.hset(_TOLD, sender_id, place)


def told_positions(client: redis.Redis, sender_ids: list[str]) -> list[int | None]:
    """The positions these customers last heard, in one round trip."""
    if not sender_ids:
        return []
    return [int(told) if told else None for told in client.hmget(_TOLD, sender_ids)]


def recent_handle_seconds(client: redis.Redis) -> float:
    """The mean handle time of the last chats agents finished (a default before any)."""
    recent = [float(x) for x in client.lrange(_HANDLE_TIMES, 0, -1)]
    return sum(recent) / len(recent) if recent else DEFAULT_HANDLE_SECONDS


def estimated_wait_seconds(client: redis.Redis, place: int, seats: int) -> float:
    """Erlang-free rule of thumb for one queue: the chats ahead of this one, each taking the
    recent mean handle time, shared among the seats (agents' free-able chat slots)."""
    return max(place, 1) * recent_handle_seconds(client) / max(seats, 1)


def queue_stats(client: redis.Redis, now: float) -> dict[str, dict[str, float]]:
    """Per skill: how many wait and how long the longest has waited (seconds)."""
    stats = {}
    for skill in SKILLS:
        oldest = oldest_enqueued(client, skill)
        stats[skill] = {"waiting": waiting_count(client, skill),
                        "longest_wait": round(now - oldest) if oldest else 0}
    return stats


def oldest_enqueued(client: redis.Redis, skill: str) -> float | None:
    """When the longest-waiting conversation of the skill arrived, without reading the whole
    queue: a score is its priority band plus its arrival in ms, so in each band the oldest is
    the first entry above the band's base, or one of those requeued at the very front (score
    = the base), whose records keep their first arrival."""
    bands = [(MAX_PRIORITY - p) * 1e13 for p in range(MAX_PRIORITY + 1)]
    pipe = client.pipeline(transaction=False)
    for base in bands:
        pipe.zrangebyscore(_queue_key(skill), f"({base}", base + 1e13 - 1, start=0, num=1,
                           withscores=True)
        pipe.zrangebyscore(_queue_key(skill), base, base)
    answers = pipe.execute()
    arrivals = [(score - base) / 1000 for base, first in zip(bands, answers[::2], strict=True)
                for _, score in first]
    fronts = [sender for front in answers[1::2] for sender in front]
    arrivals += [r.enqueued_at for r in records(client, fronts) if r]
    return min(arrivals, default=None)


# States where the bot waits for one particular answer instead of talking: a message to leave
# for a callback, or a satisfaction score after an agent closed the chat.
AWAITING_CALLBACK_MESSAGE, AWAITING_CSAT = "callback", "csat"


def await_answer(client: redis.Redis, sender_id: str, state: str, ttl_seconds: int,
                 handoff: Handoff | None = None) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.set(owner_key(sender_id), state, ex=ttl_seconds)
    if handoff is not None:
        pipe.set(_record_key(sender_id), handoff.to_json(), ex=ttl_seconds)
    pipe.execute()


def clear_owner(client: redis.Redis, sender_id: str, state: str) -> bool:
    """Back to the bot if the conversation is still in ``state`` (only once)."""
    return bool(client.eval(_CLEAR_IF, 2, owner_key(sender_id), _record_key(sender_id), state))


_CLEAR_IF = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
"""


def chats_of(client: redis.Redis, agent_id: str) -> set[str]:
    return set(client.smembers(chats_key(agent_id)))


def announce(client: redis.Redis | redis.client.Pipeline, kind: str, **fields: Any) -> None:
    """Tell the consoles something changed (the handoff event stream they follow)."""
    client.xadd(EVENTS, {"kind": kind, **fields}, maxlen=10_000, approximate=True)


def _on_record(client: redis.Redis | redis.client.Pipeline, sender_id: str, category: str,
               agent_id: str, detail: str = "", skill: str | None = None) -> None:
    """Into the contact record (its event stream): who took or let go of the chat, when, and
    for a pickup the skill (its reference). Speed of answer, agents' handle times and service
    targets are computed from these (operations/)."""
    events.publish(client, events.operation(
        sender_id, category, "success", f"{agent_id}: {detail}" if detail else agent_id,
        agent=agent_id, reference=skill))
