"""A customer message for a conversation the bot does not own: queued for an agent, with an
agent, or waiting for one answer (a message to leave for a callback, a satisfaction rating).

The gateway (bot/gateway.py) reads the owner and calls ``take``; everything here is the
handoff's rules: what a waiting customer hears, the words that leave the queue, the callback
message, the rating.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from contacts import events
from contacts.masking import mask_secrets
from handoff import inbox, queue, tracker
from switchboard.log import conversation_ref, get_logger
from switchboard.services import Services

log = get_logger(__name__)

CANCEL_WORDS = {"cancel", "stop", "stop waiting", "cancel the wait", "never mind", "nevermind"}
CALLBACK_NOTED = ("Thank you, your message is with our agents and one of them will call you "
                  "back. Is there anything else I can do for you meanwhile?")
CSAT_THANKS = "Thank you for rating us. Write again any time."

Say = Callable[[str], Awaitable[None]]  # our reply to this customer: sent and recorded


@dataclass(frozen=True)
class CustomerMessage:
    sender_id: str
    channel: str
    text: str
    message_id: str
    recorded: bool = False  # already in the contact record (Rasa's paused tracker took it)


async def take(services: Services, message: CustomerMessage, owner: str, say: Say) -> bool:
    """Handle a message of a conversation owned by ``owner`` (``queue.owner``); False when it
    is not for the handoff after all (a new conversation with the bot: Rasa takes it)."""
    if owner == queue.AWAITING_CSAT:
        return await _rating(services, message, say)
    if not message.recorded:
        await record(services.async_redis(), message)
    if owner.startswith("agent:"):
        await _to_agent(services, message, owner.split(":", 1)[1])
        return True
    if owner == queue.AWAITING_CALLBACK_MESSAGE:
        await say(await _callback(services, message))
    else:
        await say(await _in_queue(services, message))
    return True


async def record(client: aioredis.Redis, message: CustomerMessage) -> None:
    """The contact record gets the message even though Rasa never sees it (masked already: the
    stream is kept in Redis until recorded)."""
    await events.publish_async(client, events.customer_message(
        message.sender_id, mask_secrets(message.text), message.message_id, message.channel))


async def _to_agent(services: Services, message: CustomerMessage, agent: str) -> None:
    await asyncio.to_thread(queue.customer_waiting_since, services.redis, message.sender_id,
                            time.time())
    await inbox.post(services.async_redis(), agent, {
        "kind": "message", "sender_id": message.sender_id, "author": "customer",
        "text": mask_secrets(message.text)})


def cancelling(text: str) -> bool:
    return text.strip().lower().rstrip(".!") in CANCEL_WORDS


async def _in_queue(services: Services, message: CustomerMessage) -> str:
    """Waiting: the customer hears their position, or leaves the queue with "cancel"."""
    sync = services.redis
    if cancelling(message.text):
        await asyncio.to_thread(queue.cancel, sync, message.sender_id)
        await tracker.resume(message.sender_id, services.settings)
        return "OK, you've left the queue. I'm here again: what can I do for you?"
    place = await asyncio.to_thread(queue.position, sync, message.sender_id)
    return ("Thanks, the agent will see that. " + (
        "You're next in the queue." if (place or 1) <= 1 else
        f"You're number {place} in the queue.") + " Type \"cancel\" to stop waiting.")


async def _callback(services: Services, message: CustomerMessage) -> str:
    """Nobody could take the chat: this message is left for a callback (or "cancel")."""
    sync = services.redis
    handoff = await asyncio.to_thread(queue.record, sync, message.sender_id)
    if not await asyncio.to_thread(queue.clear_owner, sync, message.sender_id,
                                   queue.AWAITING_CALLBACK_MESSAGE):
        return CALLBACK_NOTED  # the offer lapsed meanwhile: the message is recorded anyway
    await tracker.resume(message.sender_id, services.settings)
    if cancelling(message.text):
        return "OK, no message left. I'm here again: what can I do for you?"
    reason = handoff.reason if handoff else "requested"
    skill = handoff.skill if handoff else "general"
    client = services.async_redis()
    await events.publish_async(client, events.operation(
        message.sender_id, "callback_request", "pending", f"{skill}: {reason}"))
    await events.publish_async(client, {"event": "close", "sender_id": message.sender_id,
                                        "timestamp": time.time(),
                                        "disposition": "callback_requested"})
    log.info("handoff.callback_requested", skill=skill, reason=reason,
             conversation=conversation_ref(message.sender_id))
    return CALLBACK_NOTED


async def _rating(services: Services, message: CustomerMessage, say: Say) -> bool:
    """After an agent closed the chat with a satisfaction question: 1 to 5 is the answer,
    anything else is a new conversation with the bot."""
    await asyncio.to_thread(queue.clear_owner, services.redis, message.sender_id,
                            queue.AWAITING_CSAT)
    score = message.text.strip().rstrip(".!")
    if score not in {"1", "2", "3", "4", "5"}:
        return False
    await events.publish_async(services.async_redis(), {
        "event": "csat", "sender_id": message.sender_id, "score": int(score),
        "timestamp": time.time()})
    await say(CSAT_THANKS)
    return True
