"""Which recorder reads which contact event stream: one lease-holder per stream, rebalanced.

Each recorder registers itself with a heartbeat and holds at most its fair share of the
streams (``ceil(streams / live recorders)``): it renews the leases it holds, gives back those
beyond its share (so a newcomer gets some), and takes free ones up to it. A recorder that dies
stops renewing; its leases lapse after ``lease_seconds`` and the others take its streams, with
what it had read but not acknowledged (every holder of a stream reads as the same consumer of
its group, so those entries are the new holder's pending ones, re-read first, in order).

A holder whose lease lapsed while it was stuck (a database stall longer than the lease) may
finish one batch after the next holder started: the recorder's idempotency keys keep that from
recording an event twice. Redis's own guidance on such leases: https://redis.io/docs/latest/
develop/use/patterns/distributed-locks/ (single instance; we need no more than that here).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import redis

from contacts import events
from switchboard.lease import RELEASE, RENEW, holder_id

MEMBERS = "switchboard:contact_recorders"  # sorted set: recorder id -> last heartbeat (seconds)
_LEASE = "switchboard:contact_events:lease:"



@dataclass
class Leases:
    """The streams this recorder holds. ``refresh`` every ``lease_seconds / 3`` or more often."""

    client: redis.Redis
    owner: str = field(default_factory=holder_id)
    lease_seconds: float = 15.0
    held: list[str] = field(default_factory=list)

    def refresh(self, now: float | None = None) -> list[str]:
        """Heartbeat, renew, rebalance; returns the streams newly taken (to re-read first).
        Raises redis.RedisError when Redis is unreachable (the caller retries)."""
        now = time.time() if now is None else now
        share = self._fair_share(now)
        self.held = [s for s in self.held if self._renew(s)]
        for extra in self.held[share:]:
            self.client.eval(RELEASE, 1, _LEASE + extra, self.owner)
        self.held = self.held[:share]
        taken = []
        for stream in events.streams():
            if len(self.held) >= share:
                break
            if stream not in self.held and self.client.set(
                    _LEASE + stream, self.owner, nx=True, px=self._ms):
                self.held.append(stream)
                taken.append(stream)
        return taken

    def release_all(self) -> None:
        """On a clean stop: the others take over now, not after the lease lapses."""
        for stream in self.held:
            self.client.eval(RELEASE, 1, _LEASE + stream, self.owner)
        self.client.zrem(MEMBERS, self.owner)
        self.held = []

    def holds(self, stream: str) -> bool:
        return stream in self.held

    @property
    def _ms(self) -> int:
        return int(self.lease_seconds * 1000)

    def _renew(self, stream: str) -> bool:
        return bool(self.client.eval(RENEW, 1, _LEASE + stream, self.owner, self._ms))

    def _fair_share(self, now: float) -> int:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zadd(MEMBERS, {self.owner: now})
            pipe.zremrangebyscore(MEMBERS, "-inf", now - self.lease_seconds)
            pipe.zcard(MEMBERS)
            live = pipe.execute()[-1]
        return math.ceil(len(events.streams()) / max(int(live), 1))
