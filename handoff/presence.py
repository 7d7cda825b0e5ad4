"""Which agents are here: online, away or offline, with their skills, capacity and load.

The console sets an agent's status (online at login, away or online by choice, offline at
logout) and refreshes ``seen`` while its page is open (a WebSocket heartbeat). An agent whose
page stopped talking for longer than the timeout counts as offline (handoff/worker.py then
requeues their chats). Kept in Redis beside the queue, so the action server can ask "is anyone
there for billing?" without the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import redis

from handoff import queue

STATUSES = ("online", "away", "offline")
_AGENTS = "switchboard:handoff:presence"  # agent id -> "status|skills|capacity|seen|since"


@dataclass(frozen=True)
class Presence:
    agent_id: str
    status: str
    skills: tuple[str, ...]
    capacity: int
    seen: float  # the last heartbeat (epoch seconds)
    load: int = 0  # chats held now
    since: float = 0.0  # when the status was last changed (epoch seconds)

    @property
    def free(self) -> int:
        return max(self.capacity - self.load, 0)

    def effective_status(self, now: float, timeout: float) -> str:
        """Online or away only while the page keeps talking."""
        return "offline" if now - self.seen > timeout else self.status

    def status_since(self, now: float, timeout: float) -> float:
        """When the effective status began (epoch seconds): a page gone silent has been
        offline since its last heartbeat."""
        return self.seen if now - self.seen > timeout else (self.since or self.seen)


def set_status(client: redis.Redis, agent_id: str, status: str, skills: list[str],
               capacity: int, now: float | None = None) -> None:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    before, now = get(client, agent_id), now or time.time()
    since = before.since if before is not None and before.status == status else now
    _store(client, Presence(agent_id, status, tuple(skills), capacity, now, since=since))
    if before is None or before.status != status:  # consoles redraw who is here
        queue.announce(client, "presence", agent=agent_id, status=status)


def heartbeat(client: redis.Redis, agent_id: str, now: float | None = None) -> None:
    """The agent's page is still open: only ``seen`` moves (the status stays as set)."""
    current = get(client, agent_id)
    if current is not None and current.status != "offline":
        _store(client, replace(current, seen=now or time.time()))


def _store(client: redis.Redis, presence: Presence) -> None:
    client.hset(_AGENTS, presence.agent_id, f"{presence.status}|{','.join(presence.skills)}|"
                                            f"{presence.capacity}|{presence.seen}|"
                                            f"{presence.since}")


def get(client: redis.Redis, agent_id: str) -> Presence | None:
    raw = client.hget(_AGENTS, agent_id)
    return _parse(agent_id, raw) if raw else None


def everyone(client: redis.Redis) -> list[Presence]:
    """Every agent who has logged in at least once, with their current load."""
    rows = client.hgetall(_AGENTS)
    loads = _loads(client, list(rows))
    return sorted((_parse(agent_id, raw, loads[agent_id]) for agent_id, raw in rows.items()),
                  key=lambda p: p.agent_id)


def available(client: redis.Redis, skill: str, timeout: float,
              now: float | None = None) -> list[Presence]:
    """Online agents with the skill, least loaded first (ties: who has more room)."""
    now = now or time.time()
    here = [p for p in everyone(client)
            if p.effective_status(now, timeout) == "online" and skill in p.skills]
    return sorted(here, key=lambda p: (p.load / max(p.capacity, 1), -p.free, p.agent_id))


def anyone_online(client: redis.Redis, skill: str, timeout: float) -> bool:
    """Someone online who could take this skill's chats (now or when a chat ends)."""
    return bool(available(client, skill, timeout))


def gone_silent(client: redis.Redis, timeout: float, now: float | None = None) -> list[str]:
    """Agents marked online or away whose page stopped talking: they count as offline now."""
    now = now or time.time()
    return [p.agent_id for p in everyone(client)
            if p.status != "offline" and p.effective_status(now, timeout) == "offline"]


def _loads(client: redis.Redis, agent_ids: list[str]) -> dict[str, int]:
    pipe = client.pipeline(transaction=False)
    for agent_id in agent_ids:
        pipe.scard(queue.chats_key(agent_id))
    return dict(zip(agent_ids, pipe.execute(), strict=True))


def _parse(agent_id: str, raw: str, load: int = 0) -> Presence:
    status, skills, capacity, seen, *since = raw.split("|")  # no since: written by an older one
    return Presence(agent_id, status, tuple(s for s in skills.split(",") if s), int(capacity),
                    float(seen), load, float(since[0]) if since else 0.0)
