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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.exceptions import RedisError

from bot import payloads
from contacts import events
from contacts.masking import mask_secrets
from handoff import inbox, queue, tracker
from handoff.intake import hand_over
from handoff.queue import Handoff
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client, redis_client
from switchboard.settings import load_settings

log = get_logger(__name__)

# How long a message id is remembered: longer than any channel's redelivery window.
DEDUP_SECONDS = 7 * 24 * 3600
APOLOGY = ("Sorry, something went wrong on our side while answering. Your message is saved and "
           "a colleague will see it; please try again in a moment.")
APOLOGY_SHORT = "Sorry, something went wrong on our side while answering."


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
    if owner:  # queued for, or with, an agent (or waiting for one answer): not for Rasa
        outcome = await _for_agent(inbound, output, owner)
        if outcome is not None:
            return outcome
    counted = _Counting(output, inbound.sender_id)
    message = UserMessage(inbound.text, counted, inbound.sender_id,
                          input_channel=inbound.channel, message_id=inbound.message_id,
                          metadata=await _trusted_metadata(inbound))
    try:
        await on_new_message(message)
    except Exception as exc:  # Rasa failed on this message: it never reached the tracker
        log.error("message.failed", channel=inbound.channel, error=type(exc).__name__,
                  conversation=conversation_ref(inbound.sender_id))
        await _fail_open(inbound, output, with_message=True)
        return Outcome.FAILED
    if counted.sent == 0:  # Rasa carried on without a reply: an action failed on the way
        log.error("message.unanswered", channel=inbound.channel,
                  conversation=conversation_ref(inbound.sender_id))
        await _fail_open(inbound, output, with_message=False)
        return Outcome.FAILED
    return Outcome.ANSWERED


async def _trusted_metadata(inbound: Inbound) -> dict[str, Any] | None:
    """The channel's metadata, with the payload mark set by us alone: only a payload the
    assistant offered in this conversation acts as an intent (bot/payloads.py)."""
    metadata = {k: v for k, v in (inbound.metadata or {}).items() if k != payloads.MARK}
    if await payloads.was_offered(async_redis_client(), inbound.sender_id, inbound.text):
        metadata[payloads.MARK] = True
    return metadata or None


async def _fail_open(inbound: Inbound, output: OutputChannel, with_message: bool) -> None:
    """The bot failed: apologise, keep the message, and pass the customer to a person (or
    offer a callback); if even the queue is down, the apology says the message is saved."""
    text = APOLOGY
    try:
        intake = await asyncio.to_thread(
            hand_over, redis_client(), load_settings(),
            Handoff(sender_id=inbound.sender_id, channel=inbound.channel, skill="general",
                    reason="bot_failure", priority=2,
                    transcript=[{"from": "customer", "text": mask_secrets(inbound.text)}]))
        text = f"{APOLOGY_SHORT} {intake.message}"
    except Exception as exc:  # noqa: BLE001  # the queue failed too: the apology still goes out
        log.error("handoff.not_queued", reason="bot_failure", error=type(exc).__name__,
                  conversation=conversation_ref(inbound.sender_id))
    await output.send_text_message(inbound.sender_id, text)  # first: whatever else is down
    try:
        if with_message:  # Rasa never saved it
            await _record(inbound)
        await _record_reply(inbound, text)
    except RedisError as exc:
        log.error("message.not_recorded", error=type(exc).__name__,
                  conversation=conversation_ref(inbound.sender_id))


CANCEL_WORDS = {"cancel", "stop", "stop waiting", "cancel the wait", "never mind", "nevermind"}
CALLBACK_NOTED = ("Thank you, your message is with our agents and one of them will call you "
                  "back. Is there anything else I can do for you meanwhile?")
CSAT_THANKS = "Thank you for rating us. Write again any time."


async def _for_agent(inbound: Inbound, output: OutputChannel, owner: str) -> Outcome | None:
    """Messages Rasa must not see: kept for the agent who has (or will have) the chat, or the
    one answer the conversation waits for (a message to leave, a rating). None: not such a
    message after all, Rasa takes it."""
    if owner == queue.AWAITING_CSAT:
        return await _rating(inbound, output)
    await _record(inbound)
    if owner.startswith("agent:"):
        agent = owner.split(":", 1)[1]
        await asyncio.to_thread(queue.customer_waiting_since, redis_client(),
                                inbound.sender_id, time.time())
        await inbox.post(async_redis_client(), agent, {
            "kind": "message", "sender_id": inbound.sender_id, "author": "customer",
            "text": mask_secrets(inbound.text)})
        return Outcome.TO_AGENT
    if owner == queue.AWAITING_CALLBACK_MESSAGE:
        reply = await _callback(inbound)
    else:
        reply = await _in_queue(inbound)
    await _say(inbound, output, reply)
    return Outcome.TO_AGENT


async def _say(inbound: Inbound, output: OutputChannel, text: str) -> None:
    """Our own reply, outside Rasa: to the customer, and into the contact record."""
    await output.send_text_message(inbound.sender_id, text)
    await _record_reply(inbound, text)


async def _record_reply(inbound: Inbound, text: str) -> None:
    await events.publish_async(async_redis_client(), {
        "event": "bot", "sender_id": inbound.sender_id, "text": text, "timestamp": time.time()})


def _cancelling(text: str) -> bool:
    return text.strip().lower().rstrip(".!") in CANCEL_WORDS


async def _in_queue(inbound: Inbound) -> str:
    """Waiting: the customer hears their position, or leaves the queue with "cancel"."""
    sync = redis_client()
    if _cancelling(inbound.text):
        await asyncio.to_thread(queue.cancel, sync, inbound.sender_id)
        await tracker.resume(inbound.sender_id)
        return "OK, you've left the queue. I'm here again: what can I do for you?"
    place = await asyncio.to_thread(queue.position, sync, inbound.sender_id)
    return ("Thanks, the agent will see that. " + (
        "You're next in the queue." if (place or 1) <= 1 else
        f"You're number {place} in the queue.") + " Type \"cancel\" to stop waiting.")


async def _callback(inbound: Inbound) -> str:
    """Nobody could take the chat: this message is left for a callback (or "cancel")."""
    sync = redis_client()
    handoff = await asyncio.to_thread(queue.record, sync, inbound.sender_id)
    if not await asyncio.to_thread(queue.clear_owner, sync, inbound.sender_id,
                                   queue.AWAITING_CALLBACK_MESSAGE):
        return CALLBACK_NOTED  # the offer lapsed meanwhile: the message is recorded anyway
    await tracker.resume(inbound.sender_id)
    if _cancelling(inbound.text):
        return "OK, no message left. I'm here again: what can I do for you?"
    reason = handoff.reason if handoff else "requested"
    skill = handoff.skill if handoff else "general"
    client = async_redis_client()
    await events.publish_async(client, events.operation(
        inbound.sender_id, "callback_request", "pending", f"{skill}: {reason}"))
    await events.publish_async(client, {"event": "close", "sender_id": inbound.sender_id,
                                          "timestamp": time.time(),
                                          "disposition": "callback_requested"})
    log.info("handoff.callback_requested", skill=skill, reason=reason,
             conversation=conversation_ref(inbound.sender_id))
    return CALLBACK_NOTED


async def _rating(inbound: Inbound, output: OutputChannel) -> Outcome | None:
    """After an agent closed the chat with a satisfaction question: 1 to 5 is the answer,
    anything else is a new conversation with the bot."""
    sync = redis_client()
    await asyncio.to_thread(queue.clear_owner, sync, inbound.sender_id, queue.AWAITING_CSAT)
    score = inbound.text.strip().rstrip(".!")
    if score not in {"1", "2", "3", "4", "5"}:
        return None
    await events.publish_async(async_redis_client(), {
        "event": "csat", "sender_id": inbound.sender_id, "score": int(score),
        "timestamp": time.time()})
    await _say(inbound, output, CSAT_THANKS)
    return Outcome.TO_AGENT


async def _record(inbound: Inbound) -> None:
    """The contact record gets the message even though Rasa never sees it (masked already: the
    stream is kept in Redis until recorded)."""
    await events.publish_async(async_redis_client(), {
        "event": "user", "sender_id": inbound.sender_id, "text": mask_secrets(inbound.text),
        "timestamp": time.time(), "message_id": inbound.message_id,
        "input_channel": inbound.channel, "parse_data": {}})


class _Counting(OutputChannel):
    """Passes every reply on to the channel's output, counts them, and remembers the buttons
    offered (the only payloads the customer may send back as intents)."""

    def __init__(self, output: OutputChannel, sender_id: str) -> None:
        self.output, self.sent, self.sender_id = output, 0, sender_id

    def name(self) -> str:  # type: ignore[override]  # Rasa picks channel-specific responses by it
        return self.output.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent += 1
        await self._offered(message.get("buttons") or message.get("quick_replies") or [])
        await self.output.send_response(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.sent += 1
        await self.output.send_text_message(recipient_id, text, **kwargs)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        self.sent += 1
        await self._offered(buttons)
        await self.output.send_text_with_buttons(recipient_id, text, buttons, **kwargs)

    async def _offered(self, buttons: list[dict[str, Any]]) -> None:
        await payloads.remember_offered(async_redis_client(), self.sender_id, buttons)
