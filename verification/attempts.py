"""Brute-force protection: 5 wrong codes or passwords for one number within 15 minutes lock
verification for that number for 15 minutes, whichever channel or conversation they came from."""

from __future__ import annotations

import redis

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60


def _failures_key(msisdn: str) -> str:
    return f"switchboard:verify:failures:{msisdn}"


def _lock_key(msisdn: str) -> str:
    return f"switchboard:verify:locked:{msisdn}"


def is_locked(client: redis.Redis, msisdn: str) -> bool:
    return bool(client.exists(_lock_key(msisdn)))


def lock_remaining_seconds(client: redis.Redis, msisdn: str) -> int:
    return max(int(client.ttl(_lock_key(msisdn))), 0)


# Count a failure in a sliding window (a sorted set of failure times) and lock at the limit,
# atomically, so concurrent wrong guesses from several chats cannot slip past the limit.
_FAIL = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[4]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[5])
  redis.call('DEL', KEYS[1])
end
return count
"""


def record_failure(client: redis.Redis, msisdn: str, now: float, attempt_id: str) -> int:
    """Count one wrong code or password; returns the failures in the window (locks at 5)."""
    return int(client.eval(_FAIL, 2, _failures_key(msisdn), _lock_key(msisdn), now,
                           WINDOW_SECONDS, attempt_id, MAX_FAILURES, LOCK_SECONDS))


def failures_left(client: redis.Redis, msisdn: str, now: float) -> int:
    client.zremrangebyscore(_failures_key(msisdn), "-inf", now - WINDOW_SECONDS)
    return max(MAX_FAILURES - int(client.zcard(_failures_key(msisdn))), 0)


def clear_failures(client: redis.Redis, msisdn: str) -> None:
    client.delete(_failures_key(msisdn))
