"""How long a verified identity survives silence, per channel.

A verification ends with the contact (``contact_timeout_minutes`` of silence). Web chat is
often used on shared or public computers, and its session outlives the tab, so there a verified
identity lapses sooner: after ``webchat_verified_idle_minutes`` without a customer message.
"""

from __future__ import annotations

from switchboard.settings import Settings

WEBCHAT_PREFIX = "webchat:"


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
