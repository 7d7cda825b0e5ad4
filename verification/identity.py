"""A verified identity the action server can trust: the ``verified_msisdn`` slot is sealed.

The action server reads the tracker that Rasa posts; a slot is only a claim. Our verification
stores the number with a MAC over (conversation id, number, time verified) under a purpose key
derived from the secret key, so a tracker carrying a made-up or copied ``verified_msisdn`` (from
another conversation) opens nothing: account actions unseal it first.

Sealed form: ``<msisdn>.<unix seconds>.<32 hex digits of HMAC-SHA256>``.
"""

from __future__ import annotations

import hmac

PURPOSE = b"verified-identity"


def _mac(key: bytes, sender_id: str, msisdn: str, issued: int) -> str:
    message = f"{sender_id}|{msisdn}|{issued}".encode()
    return hmac.new(key, message, "sha256").hexdigest()[:32]


def seal(key: bytes, sender_id: str, msisdn: str, now: float) -> str:
    """The slot value for ``msisdn``, verified now in conversation ``sender_id``."""
    issued = int(now)
    return f"{msisdn}.{issued}.{_mac(key, sender_id, msisdn, issued)}"


def unseal(key: bytes, sender_id: str, value: object) -> str | None:
    """The number in a sealed value made for this conversation; None for anything else."""
    if not isinstance(value, str) or value.count(".") != 2:
        return None
    msisdn, issued, mac = value.split(".")
    if not (msisdn.isdigit() and issued.isdigit()):
        return None
    expected = _mac(key, sender_id, msisdn, int(issued))
    return msisdn if hmac.compare_digest(mac, expected) else None
