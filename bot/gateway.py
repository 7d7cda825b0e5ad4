"""The steps every inbound message takes, whichever channel it came on.

Channels (``bot/channels/``) only authenticate, parse and format; then they call ``deliver``:
deduplicate by the channel's message id (a redelivered webhook must not be answered or
recorded twice), hand the message to Rasa, and if Rasa or the action server fails, apologise
to the customer and keep the message in the contact record anyway. Touches are recorded by the
event broker (bot/contact_events.py), which sees each message with its NLU result. A
conversation queued for or with an agent (handoff/queue.py) never reaches Rasa: its messages are
recorded here and kept for the agent.
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage

from contacts import events
from handoff import queue, tracker
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client, redis_client

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
    TO_AGENT = "to_agent"  # queued for or with an agent: kept for them, not shown to Rasa
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
    owner = await async_redis_client().get(queue.owner_key(inbound.sender_id))
    if owner:  # queued for, or with, an agent: Rasa must not see it
        return await _for_agent(inbound, output, owner)
    counted = _Counting(output)
    message = UserMessage(inbound.text, counted, inbound.sender_id,
                          input_channel=inbound.channel, message_id=inbound.message_id,
                          metadata=inbound.metadata or None)
    try:
        await on_new_message(message)
    except Exception as exc:  # Rasa failed on this message: it never reached the tracker
        log.error("message.failed", channel=inbound.channel, error=type(exc).__name__,
                  conversation=conversation_ref(inbound.sender_id))
        await _keep_in_record(inbound, with_message=True)
        await output.send_text_message(inbound.sender_id, APOLOGY)
        return Outcome.FAILED
    if counted.sent == 0:  # Rasa carried on without a reply: an action failed on the way
        log.error("message.unanswered", channel=inbound.channel,
                  conversation=conversation_ref(inbound.sender_id))
        await _keep_in_record(inbound, with_message=False)
        await output.send_text_message(inbound.sender_id, APOLOGY)
        return Outcome.FAILED
    return Outcome.ANSWERED


CANCEL_WORDS = {"cancel", "stop", "stop waiting", "cancel the wait", "never mind", "nevermind"}


async def _for_agent(inbound: Inbound, output: OutputChannel, owner: str) -> Outcome:
    """While queued: the message is kept for the agent, and the customer hears their position
    (or leaves the queue with "cancel"). With an agent: it goes to that agent's console."""
    await _record(inbound)
    client = async_redis_client()
    if owner.startswith("agent:"):
        await client.publish(f"switchboard:console:{owner.split(':', 1)[1]}",
                             json.dumps({"sender_id": inbound.sender_id, "text": inbound.text}))
        return Outcome.TO_AGENT
    sync = redis_client()
    if inbound.text.strip().lower().rstrip(".!") in CANCEL_WORDS:
        await asyncio.to_thread(queue.cancel, sync, inbound.sender_id)
        await tracker.resume(inbound.sender_id)
        reply = "OK, you've left the queue. I'm here again: what can I do for you?"
    else:
        place = await asyncio.to_thread(queue.position, sync, inbound.sender_id)
        reply = ("Thanks, the agent will see that. " + (
            "You're next in the queue." if (place or 1) <= 1 else
            f"You're number {place} in the queue.") + " Type \"cancel\" to stop waiting.")
    await output.send_text_message(inbound.sender_id, reply)
    await _publish(client, {"event": "bot", "sender_id": inbound.sender_id, "text": reply,
                            "timestamp": time.time()})
    return Outcome.TO_AGENT


async def _record(inbound: Inbound) -> None:
    """The contact record gets the message even though Rasa never sees it."""
    await _publish(async_redis_client(), {
        "event": "user", "sender_id": inbound.sender_id, "text": inbound.text,
        "timestamp": time.time(), "message_id": inbound.message_id,
        "input_channel": inbound.channel, "parse_data": {}})


async def _publish(client, event: dict[str, Any]) -> None:
    await client.xadd(events.STREAM, {"event": events.encode(event)})


class _Counting(OutputChannel):
    """Passes every reply on to the channel's output and counts them."""

    def __init__(self, output: OutputChannel) -> None:
        self.output, self.sent = output, 0

    def name(self) -> str:  # type: ignore[override]  # Rasa picks channel-specific responses by it
        return self.output.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent += 1
        await self.output.send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.sent += 1
        await self.output.send_text_message(recipient_id, text, **kwargs)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        self.sent += 1
        await self.output.send_text_with_buttons(recipient_id, text, buttons, **kwargs)


async def _keep_in_record(inbound: Inbound, with_message: bool) -> None:
    """Put our apology, and the message if Rasa never saved it, in the contact record. The
    recorder skips the message if Rasa did record it after all (same message id)."""
    now = time.time()
    client = async_redis_client()
    kept = [{"event": "bot", "sender_id": inbound.sender_id, "text": APOLOGY, "timestamp": now}]
    if with_message:
        kept.insert(0, {"event": "user", "sender_id": inbound.sender_id, "text": inbound.text,
                        "timestamp": now, "message_id": inbound.message_id,
                        "input_channel": inbound.channel, "parse_data": {}})
    for event in kept:
        await client.xadd(events.STREAM, {"event": events.encode(event)})
