"""Send to a customer on the channel of their conversation, from any process (the action server,
the agent console): the conversation id says the channel and the address, and the channel's
own module says how (bot/channels/registry.py)."""

from __future__ import annotations

from typing import Any

from bot import payloads
from bot.channels.registry import NoOutboundChannel, output_for
from switchboard.redis_client import async_redis_client
from switchboard.settings import Settings

__all__ = ["NoOutboundChannel", "output_for", "send_to_customer"]


async def send_to_customer(sender_id: str, text: str, buttons: list[dict[str, Any]] | None = None,
                           *, settings: Settings) -> None:
    """Send on the conversation's own channel (bot/channels/registry.py), with the calling
    process's ``settings``. Raises NoOutboundChannel for a conversation that cannot be written
    to later."""
    output = output_for(sender_id, settings)
    if buttons:  # offered here, so pressable later (bot/payloads.py)
        await payloads.remember_offered(async_redis_client(settings), sender_id, buttons)
        await output.send_text_with_buttons(sender_id, text, buttons)
    else:
        await output.send_text_message(sender_id, text)
