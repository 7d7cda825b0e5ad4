"""Say something to a customer outside of Rasa (from the console or the queue worker): on their
own channel, and into the contact record."""

from __future__ import annotations

import time

from bot.channels.outbound import NoOutboundChannel, send_to_customer
from contacts import events
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client
from switchboard.settings import Settings

log = get_logger(__name__)


async def tell(settings: Settings, sender_id: str, text: str, agent: str | None = None) -> None:
    """Send ``text`` (an agent's words when ``agent`` is given, else the bot's) and record it.
    A REST conversation has no channel to write to later: it only gets the record."""
    try:
        await send_to_customer(sender_id, text, settings=settings)
    except NoOutboundChannel:
        log.info("customer.no_outbound_channel", conversation=conversation_ref(sender_id))
    event = {"event": "agent" if agent else "bot", "sender_id": sender_id, "text": text,
             "timestamp": time.time()}
    if agent:
        event["agent"] = agent
    await events.publish_async(async_redis_client(settings), event)

