"""How long a verified identity survives silence, per channel.

A verification ends with the contact (``contact_timeout_minutes`` of silence). Web chat is
often used on shared or public computers, and its session outlives the tab, so there a verified
identity lapses sooner: after ``webchat_verified_idle_minutes`` without a customer message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from switchboard.settings import Settings

WEBCHAT_PREFIX = "webchat:"
VERIFIED_SLOT = "verified_msisdn"  # holds the sealed number (verification/identity.py)


def verified_idle_limit(settings: Settings, sender_id: str) -> float:
    """The longest silence, in seconds, a verified identity survives in this conversation.

    ``sender_id`` is the Rasa conversation id (``webchat:<session>``, ``sms:<msisdn>``, ...):
    web chat gets the shorter of the contact timeout and the web chat idle limit, every other
    channel the contact timeout.
    """
    limit = settings.contact_timeout_minutes * 60
    if sender_id.startswith(WEBCHAT_PREFIX):
        limit = min(limit, settings.webchat_verified_idle_minutes * 60)
    return limit


def verification_current(events: Iterable[Mapping[str, Any]], timeout: float) -> bool:
    """Whether the latest verification in these events (serialised Rasa events, oldest first)
    still holds: no goodbye after it, and no silence longer than ``timeout`` seconds between it
    and any later customer message. A new contact verifies again."""
    later = None  # the timestamp of the newer customer message while walking back
    for event in reversed(list(events)):
        stamp = event.get("timestamp") or 0.0
        if later is not None and later - stamp > timeout:
            return False
        if event.get("event") == "slot" and event.get("name") == VERIFIED_SLOT:
            return bool(event.get("value"))
        if event.get("event") == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            if later is not None and intent.get("name") == "goodbye":
                return False  # an earlier goodbye ended the contact the verification was in
            later = stamp
    return False
