"""One-time codes: 6 digits, valid 5 minutes, single use, kept in Redis only as an HMAC.

The key is the deployment's secret key, so a Redis dump does not reveal codes (a plain hash of
6 digits would be guessed in a millisecond).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import redis

CODE_TTL_SECONDS = 5 * 60
CODE_DIGITS = 6


def _key(msisdn: str) -> str:
    return f"switchboard:otp:{msisdn}"


def _digest(secret_key: str, msisdn: str, code: str) -> str:
    return hmac.new(secret_key.encode(), f"{msisdn}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(client: redis.Redis, secret_key: str, msisdn: str) -> str:
    """A fresh code for this number (replacing any earlier one); the caller sends it by SMS."""
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    client.set(_key(msisdn), _digest(secret_key, msisdn, code), ex=CODE_TTL_SECONDS)
    return code


# Compare and delete in one step: a right code works once, even if two requests race.
_CONSUME = """
local stored = redis.call('GET', KEYS[1])
if stored and stored == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


def consume_code(client: redis.Redis, secret_key: str, msisdn: str, code: str) -> bool:
    """True if ``code`` is this number's current, unexpired code; it is used up if so."""
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != CODE_DIGITS:
        return False
    return bool(client.eval(_CONSUME, 1, _key(msisdn), _digest(secret_key, msisdn, digits)))


SENDS_PER_HOUR = 3  # codes texted to one number in an hour, whoever asks (SMS costs; lockouts)


def may_send(client: redis.Redis, msisdn: str) -> bool:
    """Count one code sent to this number; False once it had SENDS_PER_HOUR this hour (anyone
    could otherwise text a subscriber codes without end, and void the one they wait for)."""
    key = f"switchboard:otp_sends:{msisdn}"
    with client.pipeline() as pipe:
        count, _ = pipe.incr(key).expire(key, 3600, nx=True).execute()
    return int(count) <= SENDS_PER_HOUR
