"""Console logins, kept in Redis: throttling wrong passwords, and the sessions a login opens.

Throttling counts per agent name and per client address in a sliding window of
``console_login_lock_minutes``. Each attempt takes its place in the window *before* the password
is checked (one atomic script), so guesses sent in parallel cannot pass the limit; a right
password gives its place back (and forgets the name's failures). ``console_login_max_failures``
failures lock the name for ``console_login_lock_minutes``; an address may fail
``ADDRESS_FACTOR`` times as often (an office behind one NAT shares it). Wrong passwords are
answered after a growing delay (``failure_delay``). Locks are listed for the supervisor.

Sessions: the cookie holds a random id (256 bits); Redis holds the session under the id's
SHA-256 (a copy of Redis does not give working cookies), with an idle timeout that slides with
every request and an absolute cap of ``SESSION_SECONDS``. Each agent has an index of their
sessions so a password change can end them all.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

import redis

from switchboard.settings import Settings

PREFIX = "switchboard:console_auth:"  # apart from the agents' inboxes (switchboard:console:<id>)
LOCKS = PREFIX + "locks"  # sorted set: "agent:<id>" / "address:<ip>" -> locked until (epoch s)
ADDRESS_FACTOR = 4  # an address may fail this many times as often as one agent name
SESSION_SECONDS = 12 * 3600  # a session ends this long after its login, however busy
FIRST_DELAY, MAX_DELAY = 0.25, 4.0  # seconds; the delay doubles with each failure


@dataclass(frozen=True)
class Lock:
    subject: str  # "agent:<id>" or "address:<ip>"
    seconds_left: int
    new: bool = False  # set by the attempt that met it (log it once)

    @property
    def kind(self) -> str:
        return self.subject.split(":", 1)[0]

    @property
    def name(self) -> str:
        return self.subject.split(":", 1)[1]


@dataclass(frozen=True)
class Outcome:
    """What a wrong password did: the failures it counts as, and the lock it set, if any."""
    level: int  # failures on the scale of one agent name (address counts divided down)
    lock: Lock | None


def _subjects(agent_id: str | None, address: str) -> list[str]:
    return ([f"agent:{agent_id}"] if agent_id else []) + [f"address:{address}"]


def _limits(settings: Settings, subjects: list[str]) -> list[int]:
    most = settings.console_login_max_failures
    return [most * (ADDRESS_FACTOR if s.startswith("address:") else 1) for s in subjects]


def _keys(subjects: list[str]) -> list[str]:
    """Attempts (sorted sets) then locks, one each per subject, then the index of locks."""
    return ([PREFIX + "attempts:" + s for s in subjects] + [PREFIX + "locked:" + s
                                                             for s in subjects] + [LOCKS])


# Shared by both scripts: lock subject i (its attempts forgotten, listed in the index).
_LOCK = """
local function lock(n, i, now, seconds)
  redis.call('SET', KEYS[n + i], '1', 'PX', math.floor(seconds * 1000))
  redis.call('DEL', KEYS[i])
  redis.call('ZADD', KEYS[2 * n + 1], now + seconds, ARGV[4 + n + i])
  return {i, math.ceil(seconds), 1}
end
local n = (#KEYS - 1) / 2
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
"""

# ARGV: now, window (s), attempt id, lock seconds, limit per subject..., subject names...
# Returns {i, seconds left, 1 if locked now} when subject i is locked, else {0, 0, 0}.
_BEGIN = _LOCK + """
for i = 1, n do
  local left = redis.call('PTTL', KEYS[n + i])
  if left > 0 then return {i, math.ceil(left / 1000), 0} end
end
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[4 + i]) then
    return lock(n, i, now, tonumber(ARGV[4]))
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[i], math.floor(window * 1000))
end
return {0, 0, 0}
"""

# Same ARGV. The attempt failed: lock what reached its limit. Returns {i, seconds} of a lock
# set now ({0, 0} if none), then each subject's failures in the window.
_FAILED = _LOCK + """
local counts, locked = {}, {0, 0, 0}
for i = 1, n do
  counts[i] = redis.call('ZCARD', KEYS[i])
  if locked[1] == 0 and counts[i] >= tonumber(ARGV[4 + i]) then
    locked = lock(n, i, now, tonumber(ARGV[4]))
  end
end
return {locked[1], locked[2], unpack(counts)}
"""


def _run(client: redis.Redis, script: str, settings: Settings, subjects: list[str],
         attempt: str, now: float) -> list[int]:
    lock_seconds = settings.console_login_lock_minutes * 60
    return client.eval(script, len(subjects) * 2 + 1, *_keys(subjects), now, lock_seconds,
                       attempt, lock_seconds, *_limits(settings, subjects), *subjects)


def new_attempt() -> str:
    """An id for one login attempt (its place in the windows until it succeeds)."""
    return secrets.token_hex(8)


def begin(client: redis.Redis, settings: Settings, agent_id: str | None, address: str,
          attempt: str, now: float | None = None) -> Lock | None:
    """Take the attempt's place before checking the password; the lock that refuses it, if the
    name or address is locked (or this attempt is one too many: then it locks them now).
    ``agent_id`` None: a name no agent can have, counted for the address only."""
    subjects = _subjects(agent_id, address)
    index, seconds, new = _run(client, _BEGIN, settings, subjects, attempt, now or time.time())
    return Lock(subjects[index - 1], int(seconds), bool(new)) if index else None


def failed(client: redis.Redis, settings: Settings, agent_id: str | None, address: str,
           attempt: str, now: float | None = None) -> Outcome:
    """Count the attempt as a failure (it already holds its place); locks at the limit."""
    subjects = _subjects(agent_id, address)
    index, seconds, *counts = _run(client, _FAILED, settings, subjects, attempt,
                                   now or time.time())
    scale = [limit / settings.console_login_max_failures for limit in _limits(settings, subjects)]
    level = max(math.ceil(count / factor) for count, factor in zip(counts, scale, strict=True))
    return Outcome(level, Lock(subjects[index - 1], int(seconds), True) if index else None)


def succeeded(client: redis.Redis, agent_id: str, address: str, attempt: str) -> None:
    """A right password: the name's failures are forgotten, the address's kept (one account's
    owner must not be able to reset the address's count for guesses at others)."""
    client.delete(PREFIX + f"attempts:agent:{agent_id}")
    client.zrem(PREFIX + f"attempts:address:{address}", attempt)


def failure_delay(level: int) -> float:
    """Seconds to wait before answering a wrong password: 0.25 s doubling, at most 4 s."""
    return min(FIRST_DELAY * 2 ** max(level - 1, 0), MAX_DELAY)


def locks(client: redis.Redis, now: float | None = None) -> list[Lock]:
    """The names and addresses locked now, soonest unlocked first."""
    now = now or time.time()
    client.zremrangebyscore(LOCKS, "-inf", now)
    return [Lock(subject, math.ceil(until - now))
            for subject, until in client.zrange(LOCKS, 0, -1, withscores=True)]


def unlock(client: redis.Redis, subject: str) -> bool:
    """Lift a lock early and forget the failures (a supervisor's decision); ``subject`` is
    ``agent:<id>`` or ``address:<ip>``. False if it was not locked."""
    client.delete(PREFIX + "locked:" + subject, PREFIX + "attempts:" + subject)
    return client.zrem(LOCKS, subject) > 0


# --- sessions ---

@dataclass(frozen=True)
class ConsoleSession:
    agent: str
    csrf: str
    created: float  # epoch seconds
    seen: float  # epoch seconds of the last request


def _session_key(token: str) -> str:
    return PREFIX + "session:" + hashlib.sha256(token.encode()).hexdigest()


def _index_key(agent_id: str) -> str:
    return PREFIX + "agent-sessions:" + agent_id


def open_session(client: redis.Redis, agent_id: str, idle_seconds: float,
                 now: float | None = None) -> str:
    """A new session for the agent; returns the cookie's value (the only copy of the id)."""
    now, token = now or time.time(), secrets.token_urlsafe(32)
    key = _session_key(token)
    with client.pipeline() as pipe:
        pipe.hset(key, mapping={"agent": agent_id, "csrf": secrets.token_urlsafe(24),
                                "created": now, "seen": now})
        pipe.pexpire(key, int(min(idle_seconds, SESSION_SECONDS) * 1000))
        pipe.sadd(_index_key(agent_id), key)
        pipe.expire(_index_key(agent_id), SESSION_SECONDS)
        pipe.execute()
    return token


def session_of(client: redis.Redis, token: str | None, idle_seconds: float,
               now: float | None = None) -> ConsoleSession | None:
    """The session a cookie names, if it is still alive; using it restarts its idle time."""
    if not token or len(token) > 128:
        return None
    now, key = now or time.time(), _session_key(token)
    fields = client.hgetall(key)
    if not fields:
        return None
    session = ConsoleSession(fields["agent"], fields["csrf"], float(fields["created"]),
                             float(fields["seen"]))
    left = min(session.seen + idle_seconds, session.created + SESSION_SECONDS) - now
    if left <= 0:
        _delete(client, key, session.agent)
        return None
    with client.pipeline() as pipe:
        pipe.hset(key, "seen", now)
        pipe.pexpire(key, int(min(idle_seconds, session.created + SESSION_SECONDS - now) * 1000))
        pipe.execute()
    return session


def end_session(client: redis.Redis, token: str | None) -> None:
    """Log out: the cookie's session is gone, so the cookie is worthless from now on."""
    if token and len(token) <= 128:
        key = _session_key(token)
        agent = client.hget(key, "agent")
        _delete(client, key, agent)


def _delete(client: redis.Redis, key: str, agent_id: str | None) -> None:
    client.delete(key)
    if agent_id:
        client.srem(_index_key(agent_id), key)


def revoke_all(client: redis.Redis, agent_id: str) -> int:
    """End every session of the agent (their password changed); returns how many were open."""
    keys = list(client.smembers(_index_key(agent_id)))
    ended = client.delete(*keys) if keys else 0
    client.delete(_index_key(agent_id))
    return int(ended)
