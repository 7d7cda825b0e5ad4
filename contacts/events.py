"""The contact event stream: how conversation events travel from Rasa to the contact recorder.

A Redis stream (AOF-backed, ordered): the Rasa server appends, the recorder reads with a consumer
group and acknowledges only after the database committed, so an event accepted here is recorded
even if the database or the recorder is down for a while.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import redis
from redis import asyncio as aioredis

STREAM = "switchboard:contact_events"
DEAD_LETTERS = "switchboard:contact_events:dead"  # events that failed too often, kept for a human
GROUP = "contact-recorder"

# requested_slot values after which the customer's next message is a secret.
SECRET_SLOTS = frozenset({"otp_code", "service_password"})
# The slot actions set to add an operation to the contact (actions/contact_records.py).
CONTACT_RECORD_SLOT = "contact_record"


def worth_recording(event: Mapping[str, Any]) -> bool:
    """Messages in and out, restarts, the bot asking for a secret, and records from actions."""
    kind = event.get("event")
    if kind in ("user", "bot", "restart", "agent", "handback", "close"):
        return True
    return kind == "slot" and event.get("name") in ("requested_slot", CONTACT_RECORD_SLOT)


def encode(event: Mapping[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def publish(client: redis.Redis | redis.client.Pipeline, event: Mapping[str, Any]) -> None:
    """Append one event (with its ``sender_id``) to the stream (also inside a pipeline)."""
    client.xadd(STREAM, {"event": encode(event)})


async def publish_async(client: aioredis.Redis, event: Mapping[str, Any]) -> None:
    """``publish`` from asyncio code (the channel gateway, the console)."""
    await client.xadd(STREAM, {"event": encode(event)})


def operation(sender_id: str, category: str, result: str, detail: str = "",
              **extra: Any) -> dict[str, Any]:
    """The event that adds an operation to the conversation's contact: the same slot event an
    action sets (actions/contact_records.py), for code outside Rasa."""
    return {"event": "slot", "sender_id": sender_id, "timestamp": time.time(),
            "name": CONTACT_RECORD_SLOT,
            "value": {"kind": "operation", "category": category, "result": result,
                      "detail": detail, **extra}}


def undelivered(sender_id: str, text: str, channel: str, code: str | int,
                permanent: bool) -> dict[str, Any]:
    """A reply the channel could not deliver (contacts/delivery.py), with its delivery state."""
    return {"event": "undelivered", "sender_id": sender_id, "timestamp": time.time(),
            "text": text, "channel": channel, "code": str(code), "permanent": bool(permanent)}


def customer_message(sender_id: str, text: str, message_id: str, channel: str,
                     timestamp: float | None = None) -> dict[str, Any]:
    """A customer message Rasa never sees (a carrier keyword, a photo), for the record only."""
    return {"event": "user", "sender_id": sender_id, "text": text,
            "timestamp": timestamp or time.time(), "message_id": message_id,
            "input_channel": channel, "parse_data": {}}


def bot_message(sender_id: str, text: str) -> dict[str, Any]:
    """A reply sent outside Rasa (to a carrier keyword, a photo), for the record."""
    return {"event": "bot", "sender_id": sender_id, "text": text, "timestamp": time.time()}


def reachability(sender_id: str, channel: str, state: str | None,
                 reason: str = "") -> dict[str, Any]:
    """The conversation's channel identity cannot be written to (``opted_out``: a carrier STOP
    or the provider's "unsubscribed"; ``undeliverable``: the provider refuses the address), or
    can again (None). Recorded on the identity, for agents and the record; senders check
    ``contacts.delivery`` (Redis), which the channel marks at the same time."""
    return {"event": "reachability", "sender_id": sender_id, "channel": channel, "state": state,
            "reason": reason, "timestamp": time.time()}


def unrecorded(client: redis.Redis) -> int:
    """Events appended but not yet in the database (the recorder's lag)."""
    if not client.exists(STREAM):
        return 0
    groups = {g["name"]: g for g in client.xinfo_groups(STREAM)}
    info = groups.get(GROUP)
    if info is None:
        return int(client.xlen(STREAM))
    lag = info.get("lag")
    return int(info.get("pending") or 0) + (int(lag) if lag is not None else 0)


def wait_recorded(client: redis.Redis, patience: float) -> bool:
    """Block until the recorder has caught up, or ``patience`` seconds passed (False)."""
    deadline = time.monotonic() + patience
    while unrecorded(client) > 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True

