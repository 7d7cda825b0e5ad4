"""Send to a customer on the channel of their conversation, from any process (the action server,
the agent console): the conversation id says the channel and the address."""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import OutputChannel

from bot import payloads
from bot.channels.sms import SmsOutput
from bot.channels.telegram import TelegramOutput
from bot.channels.telegram import chat_of as telegram_chat
from bot.channels.webchat import WebchatOutput
from switchboard.redis_client import async_redis_client
from switchboard.settings import Settings, load_settings


class NoOutboundChannel(ValueError):
    """This conversation's channel cannot be written to later (REST answers in its response)."""


def output_for(sender_id: str, settings: Settings | None = None) -> OutputChannel:
    settings = settings or load_settings()
    channel, _, address = sender_id.partition(":")
    if channel == "telegram" and (chat := telegram_chat(address)) is not None:
        return TelegramOutput(chat, settings)  # <chat>, or <chat>:<member> in a group
    if channel == "sms" and address:
        return SmsOutput(address, settings)
    if channel == "whatsapp" and address:
        return SmsOutput(f"whatsapp:{address}", settings)
    if channel == "webchat" and address:
        return WebchatOutput(address)
    raise NoOutboundChannel(f"no outbound channel for conversations like {channel or sender_id!r}")


async def send_to_customer(sender_id: str, text: str, buttons: list[dict[str, Any]] | None = None,
                           settings: Settings | None = None) -> None:
    output = output_for(sender_id, settings)
    if buttons:  # offered here, so pressable later (bot/payloads.py)
        await payloads.remember_offered(async_redis_client(settings), sender_id, buttons)
        await output.send_text_with_buttons(sender_id, text, buttons)
    else:
        await output.send_text_message(sender_id, text)
