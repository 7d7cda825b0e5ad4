"""Say something to a customer outside of Rasa (from the console or the queue worker): on their
own channel, and into the contact record."""

from __future__ import annotations

import time

from bot.channels.outbound import NoOutboundChannel, send_to_customer
from bot.channels.webchat import publish_event
from contacts import events
from handoff.models import Agent
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


async def joined(settings: Settings, sender_id: str, agent: Agent) -> None:
    """Tell a web chat customer that a person joined (the widget shows "Tom joined the chat")."""
    await _webchat_frame(settings, sender_id, {"type": "agent", "event": "joined",
                                               "name": agent.first_name})


async def left(settings: Settings, sender_id: str, agent: Agent, to: str) -> None:
    """Tell a web chat customer that the agent left: back to the assistant, to the queue, or to
    a colleague (who joins next)."""
    await _webchat_frame(settings, sender_id, {"type": "agent", "event": "left",
                                               "name": agent.first_name, "to": to})


async def _webchat_frame(settings: Settings, sender_id: str, frame: dict) -> None:
    try:
        await publish_event(sender_id, frame, settings)
    except Exception as exc:  # a courtesy line: never fails the agent's action
        log.warning("console.webchat_frame_failed", error=type(exc).__name__)
