"""The steps every inbound message takes, whichever channel it came on.

Channels (``bot/channels/``) only authenticate, parse and format; then they call ``deliver``:
deduplicate by the channel's message id (a redelivered webhook must not be answered or
recorded twice), hand the message to Rasa, and if Rasa or the action server fails, apologise
to the customer and keep the message in the contact record anyway. Touches are recorded by the
event broker (bot/contact_events.py), which sees each message with its NLU result. Who owns the
conversation (bot, queue or agent) is asked here when the handoff issue lands; until then the
bot always does.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage

from contacts import events
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client

log = get_logger(__name__)

# How long a message id is remembered: longer than any channel's redelivery window.
DEDUP_SECONDS = 7 * 24 * 3600
APOLOGY = ("Sorry, something went wrong on our side while answering. Your message is saved and "
           "a colleague will see it; please try again in a moment.")


@dataclass(frozen=True)
class Inbound:
    """One customer message, as every channel hands it over."""

    channel: str  # the contact channel: rest, webchat, telegram, sms, whatsapp
    sender_id: str  # the Rasa conversation id
    text: str
    message_id: str  # the channel's own id (Telegram update_id, Twilio MessageSid, ...)
    metadata: dict[str, Any] = field(default_factory=dict)


class Outcome(enum.Enum):
    ANSWERED = "answered"
    DUPLICATE = "duplicate"
    FAILED = "failed"  # apologised; the message is in the contact record


async def first_delivery(channel: str, sender_id: str, message_id: str) -> bool:
    """True the first time this channel message is seen, False for every redelivery."""
    key = f"switchboard:seen:{channel}:{sender_id}:{message_id}"
    return bool(await async_redis_client().set(key, "1", nx=True, ex=DEDUP_SECONDS))


async def deliver(
    inbound: Inbound, output: OutputChannel,
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
) -> Outcome:
    """Deduplicate, hand to Rasa, and never let a failure reach the customer as a trace."""
    if not await first_delivery(inbound.channel, inbound.sender_id, inbound.message_id):
        return Outcome.DUPLICATE
    message = UserMessage(inbound.text, output, inbound.sender_id,
                          input_channel=inbound.channel, message_id=inbound.message_id,
                          metadata=inbound.metadata or None)
    try:
        await on_new_message(message)
    except Exception as exc:  # Rasa or the action server failed on this message
        log.error("message.failed", channel=inbound.channel, error=type(exc).__name__,
                  conversation=conversation_ref(inbound.sender_id))
        await _keep_in_record(inbound)
        await output.send_text_message(inbound.sender_id, APOLOGY)
        return Outcome.FAILED
    return Outcome.ANSWERED


async def _keep_in_record(inbound: Inbound) -> None:
    """Put the message (and our apology) in the contact record: Rasa never saved them. The
    recorder skips the message if Rasa did record it after all (same message id)."""
    now = time.time()
    client = async_redis_client()
    for event in (
        {"event": "user", "sender_id": inbound.sender_id, "text": inbound.text, "timestamp": now,
         "message_id": inbound.message_id, "input_channel": inbound.channel, "parse_data": {}},
        {"event": "bot", "sender_id": inbound.sender_id, "text": APOLOGY, "timestamp": now},
    ):
        await client.xadd(events.STREAM, {"event": events.encode(event)})
