"""The contact event stream: how conversation events travel from Rasa to the contact recorder.

A Redis stream (AOF-backed, ordered): the Rasa server appends, the recorder reads with a consumer
group and acknowledges only after the database committed, so an event accepted here is recorded
even if the database or the recorder is down for a while.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis

STREAM = "switchboard:contact_events"
DEAD_LETTERS = "switchboard:contact_events:dead"  # events that failed too often, kept for a human
GROUP = "contact-recorder"

# requested_slot values after which the customer's next message is a secret.
SECRET_SLOTS = frozenset({"otp_code", "service_password"})


def worth_recording(event: Mapping[str, Any]) -> bool:
    """Messages in and out, restarts, and the bot asking for a secret; nothing else is needed."""
    kind = event.get("event")
    if kind in ("user", "bot", "restart"):
        return True
    return kind == "slot" and event.get("name") == "requested_slot"


def publish(client: redis.Redis, event: Mapping[str, Any]) -> None:
    """Append one Rasa event (with its ``sender_id``) to the stream."""
    client.xadd(STREAM, {"event": json.dumps(event, separators=(",", ":"))})
