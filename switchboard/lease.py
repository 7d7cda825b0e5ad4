"""A lease in Redis: at most one holder of a named job across every replica.

The holder renews it well within its life; a holder that dies stops renewing and the lease
lapses, so another takes the job over after at most ``seconds``. Redis's documented
single-instance lock pattern (SET key value NX PX; renew and release only while the value is
still ours: https://redis.io/docs/latest/develop/use/patterns/distributed-locks/).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

import redis

# Renew only a lease we still hold; give back only our own.
RENEW = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
         "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end")
RELEASE = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
           "return redis.call('DEL', KEYS[1]) else return 0 end")


def holder_id() -> str:
    """A name unique to this process: host, pid and a random part (pids repeat)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    """``key`` held by ``owner`` for ``seconds`` at a time; call ``hold`` at least every
    ``seconds / 3``. Raises redis.RedisError when Redis is unreachable."""

    client: redis.Redis
    key: str
    seconds: float
    owner: str = field(default_factory=holder_id)

    def hold(self) -> bool:
        """Renew the lease if it is ours, else take it if free: True while we hold it."""
        ms = int(self.seconds * 1000)
        if self.client.eval(RENEW, 1, self.key, self.owner, ms):
            return True
        return bool(self.client.set(self.key, self.owner, nx=True, px=ms))

    def release(self) -> None:
        """On a clean stop: the next holder takes over now, not after the lease lapses."""
        self.client.eval(RELEASE, 1, self.key, self.owner)
