"""The contact event stream: how conversation events travel from Rasa to the contact recorder.

Redis streams (AOF-backed, ordered): the Rasa server appends, recorders read with a consumer
group and acknowledge only after the database committed, so an event accepted here is recorded
even if the database or every recorder is down for a while.

A conversation's events go to one of ``PARTITIONS`` streams, chosen by a hash of its sender id,
so several recorders can share the work and each conversation's events stay in order: one
recorder at a time holds a partition (``contacts.partitions``). Changing ``PARTITIONS`` moves
conversations between streams, so it is a constant, not a setting.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Mapping
from typing import Any

import redis
from redis import asyncio as aioredis

STREAM = "switchboard:contact_events"  # before partitions: still drained, never appended to
DEAD_LETTERS = "switchboard:contact_events:dead"  # events that failed too often, kept for a human
GROUP = "contact-recorder"
PARTITIONS = 8


def stream_for(sender_id: str) -> str:
    """The partition stream of a conversation (CRC-32 of its sender id: stable everywhere)."""
    return f"{STREAM}:{zlib.crc32(sender_id.encode()) % PARTITIONS}"


def streams() -> list[str]:
    """Every stream a recorder drains: the one an earlier version appended to, then the
    partitions."""
    return [STREAM, *(f"{STREAM}:{n}" for n in range(PARTITIONS))]


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
    """Append one event (with its ``sender_id``) to its conversation's stream (also inside a
    pipeline)."""
    client.xadd(stream_for(event["sender_id"]), {"event": encode(event)})


async def publish_async(client: aioredis.Redis, event: Mapping[str, Any]) -> None:
    """``publish`` from asyncio code (the channel gateway, the console)."""
    await client.xadd(stream_for(event["sender_id"]), {"event": encode(event)})


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
    """Events appended but not yet in the database (the recorders' lag, every stream)."""
    return sum(_unrecorded(client, stream) for stream in streams())


def _unrecorded(client: redis.Redis, stream: str) -> int:
    if not client.exists(stream):
        return 0
    groups = {g["name"]: g for g in client.xinfo_groups(stream)}
    info = groups.get(GROUP)
    if info is None:
        return int(client.xlen(stream))
    lag = info.get("lag")
    return int(info.get("pending") or 0) + (int(lag) if lag is not None else 0)


def appended(client: redis.Redis) -> list[dict[str, Any]]:
    """Every event still in the streams (not yet recorded), each stream in order."""
    return [json.loads(fields["event"]) for stream in streams()
            for _, fields in client.xrange(stream) if "event" in fields]


def wait_recorded(client: redis.Redis, patience: float) -> bool:
    """Block until the recorder has caught up, or ``patience`` seconds passed (False)."""
    deadline = time.monotonic() + patience
    while unrecorded(client) > 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True

