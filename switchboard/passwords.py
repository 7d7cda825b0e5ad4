"""Slow password hashing (scrypt, from the standard library) for service passwords and agents."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

# scrypt cost: ~50 ms and 16 MiB per check on a server core, too slow for guessing in bulk.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r),
                               p=int(p))
    return hmac.compare_digest(candidate, _unb64(digest))


def verify_known_password(password: str, stored: str | None) -> bool:
    """Like ``verify_password``, but for a login whose account may not exist (``stored`` None):
    the same slow hash runs either way, so the time taken does not tell which names exist."""
    return verify_password(password, stored or _dummy_hash()) and stored is not None


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())
