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

from contacts import events
from contacts.masking import mask_secrets
from handoff import inbox, queue, tracker
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client, redis_client

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


async def take(message: CustomerMessage, owner: str, say: Say) -> bool:
    """Handle a message of a conversation owned by ``owner`` (``queue.owner``); False when it
    is not for the handoff after all (a new conversation with the bot: Rasa takes it)."""
    if owner == queue.AWAITING_CSAT:
        return await _rating(message, say)
    if not message.recorded:
        await record(message)
    if owner.startswith("agent:"):
        await _to_agent(message, owner.split(":", 1)[1])
        return True
    if owner == queue.AWAITING_CALLBACK_MESSAGE:
        await say(await _callback(message))
    else:
        await say(await _in_queue(message))
    return True


async def record(message: CustomerMessage) -> None:
    """The contact record gets the message even though Rasa never sees it (masked already: the
    stream is kept in Redis until recorded)."""
    await events.publish_async(async_redis_client(), events.customer_message(
        message.sender_id, mask_secrets(message.text), message.message_id, message.channel))


async def _to_agent(message: CustomerMessage, agent: str) -> None:
    await asyncio.to_thread(queue.customer_waiting_since, redis_client(), message.sender_id,
                            time.time())
    await inbox.post(async_redis_client(), agent, {
        "kind": "message", "sender_id": message.sender_id, "author": "customer",
        "text": mask_secrets(message.text)})


def cancelling(text: str) -> bool:
    return text.strip().lower().rstrip(".!") in CANCEL_WORDS


async def _in_queue(message: CustomerMessage) -> str:
    """Waiting: the customer hears their position, or leaves the queue with "cancel"."""
    sync = redis_client()
    if cancelling(message.text):
        await asyncio.to_thread(queue.cancel, sync, message.sender_id)
        await tracker.resume(message.sender_id)
        return "OK, you've left the queue. I'm here again: what can I do for you?"
    place = await asyncio.to_thread(queue.position, sync, message.sender_id)
    return ("Thanks, the agent will see that. " + (
        "You're next in the queue." if (place or 1) <= 1 else
        f"You're number {place} in the queue.") + " Type \"cancel\" to stop waiting.")


async def _callback(message: CustomerMessage) -> str:
    """Nobody could take the chat: this message is left for a callback (or "cancel")."""
    sync = redis_client()
    handoff = await asyncio.to_thread(queue.record, sync, message.sender_id)
    if not await asyncio.to_thread(queue.clear_owner, sync, message.sender_id,
                                   queue.AWAITING_CALLBACK_MESSAGE):
        return CALLBACK_NOTED  # the offer lapsed meanwhile: the message is recorded anyway
    await tracker.resume(message.sender_id)
    if cancelling(message.text):
        return "OK, no message left. I'm here again: what can I do for you?"
    reason = handoff.reason if handoff else "requested"
    skill = handoff.skill if handoff else "general"
    client = async_redis_client()
    await events.publish_async(client, events.operation(
        message.sender_id, "callback_request", "pending", f"{skill}: {reason}"))
    await events.publish_async(client, {"event": "close", "sender_id": message.sender_id,
                                        "timestamp": time.time(),
                                        "disposition": "callback_requested"})
    log.info("handoff.callback_requested", skill=skill, reason=reason,
             conversation=conversation_ref(message.sender_id))
    return CALLBACK_NOTED


async def _rating(message: CustomerMessage, say: Say) -> bool:
    """After an agent closed the chat with a satisfaction question: 1 to 5 is the answer,
    anything else is a new conversation with the bot."""
    await asyncio.to_thread(queue.clear_owner, redis_client(), message.sender_id,
                            queue.AWAITING_CSAT)
    score = message.text.strip().rstrip(".!")
    if score not in {"1", "2", "3", "4", "5"}:
        return False
    await events.publish_async(async_redis_client(), {
        "event": "csat", "sender_id": message.sender_id, "score": int(score),
        "timestamp": time.time()})
    await say(CSAT_THANKS)
    return True
