"""Telegram, on python-telegram-bot: ``POST /webhooks/telegram/webhook`` (Telegram's Update JSON).

Transport and formatting only; the rest is ``bot.gateway.deliver``. The webhook must carry
``X-Telegram-Bot-Api-Secret-Token`` equal to ``TELEGRAM_WEBHOOK_SECRET`` (set with setWebhook;
403 otherwise). Text messages and button presses (callback queries, answered so the client
stops spinning) go to the assistant; a shared contact of the user's own number is a
channel-verified phone number for identity verification; edited messages, stickers, photos and
anything else get a short text reply and never reach the assistant. Outbound uses PTB's ``Bot``
with a configurable base URL (``TELEGRAM_API_URL``), from any process.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import TelegramError

from bot.channels.base import WebhookChannel
from bot.gateway import Inbound, deliver, first_delivery
from switchboard.keys import telegram_secret
from switchboard.log import conversation_ref, get_logger
from switchboard.settings import Settings, load_settings

log = get_logger(__name__)

NOT_TEXT = ("I can only read text messages, sorry. Please type your question, or use the "
            "buttons.")
MAX_TEXT = 4096
CALLBACK_DATA_MAX = 64  # bytes Telegram keeps of a button's callback data

_bots: dict[int, Bot] = {}  # one initialised Bot per event loop (its HTTP client is bound to it)


async def telegram_bot(settings: Settings | None = None) -> Bot:
    """This event loop's Bot, initialised once (getMe)."""
    settings = settings or load_settings()
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _bots:
        if not settings.telegram_token:
            raise TelegramError("TELEGRAM_BOT_TOKEN is not set")
        base = settings.telegram_api_url.rstrip("/")
        bot = Bot(settings.telegram_token, base_url=f"{base}/bot",
                  base_file_url=f"{base}/file/bot")
        await bot.initialize()
        _bots[loop_id] = bot
    return _bots[loop_id]


class TelegramOutput(OutputChannel):
    """Sends to one Telegram chat; usable from any process (the console, the action server)."""

    def __init__(self, chat_id: int, settings: Settings | None = None) -> None:
        self.chat_id = chat_id
        self.settings = settings or load_settings()

    @classmethod
    def name(cls) -> str:
        return "telegram"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        bot = await telegram_bot(self.settings)
        for start in range(0, len(text), MAX_TEXT):
            await bot.send_message(self.chat_id, text[start:start + MAX_TEXT])

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        rows = [[InlineKeyboardButton(b.get("title", "?"), callback_data=_callback_data(b))]
                for b in buttons]
        bot = await telegram_bot(self.settings)
        await bot.send_message(self.chat_id, text, reply_markup=InlineKeyboardMarkup(rows))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        """``{"request_contact": "<button title>", "text": "..."}``: the share-my-number button."""
        bot = await telegram_bot(self.settings)
        title = json_message.get("request_contact")
        if title:
            keyboard = ReplyKeyboardMarkup([[KeyboardButton(title, request_contact=True)]],
                                           one_time_keyboard=True, resize_keyboard=True)
            await bot.send_message(self.chat_id, json_message.get("text") or title,
                                   reply_markup=keyboard)


def _callback_data(button: dict[str, Any]) -> str:
    """The payload, or the title when the payload is longer than Telegram keeps (the assistant
    understands a button's title as typed text)."""
    payload = str(button.get("payload", ""))
    return payload if len(payload.encode()) <= CALLBACK_DATA_MAX else str(button.get("title"))


class TelegramInput(WebhookChannel):
    @classmethod
    def name(cls) -> str:
        return "telegram"


    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint()
        settings = load_settings()

        @webhook.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            if not settings.telegram_token:
                return response.json({"error": "the Telegram channel is not configured"},
                                     status=503)
            secret = request.headers.get("x-telegram-bot-api-secret-token") or ""
            if not hmac.compare_digest(secret, telegram_secret(settings)):
                return response.json({"error": "missing or wrong secret token"}, status=403)
            try:
                data = json.loads(request.body or b"")
                bot = await telegram_bot(settings)
                update = Update.de_json(data, bot) if isinstance(data, dict) else None
            except (ValueError, TypeError, KeyError):
                update = None
            if update is None or not isinstance(data.get("update_id"), int):
                return response.json({"error": "the body must be a Telegram Update"},
                                     status=400)
            try:
                await handle_update(update, settings, on_new_message)
            except RedisError:
                return response.json({"error": "temporarily unavailable"}, status=503)
            except TelegramError as exc:  # Telegram refused our reply: do not make it retry
                log.error("telegram.send_failed", error=type(exc).__name__)
            return response.json({"ok": True})

        return webhook


async def handle_update(update: Update, settings: Settings,
                        on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
    """One Update, whatever it carries; unknown kinds get the polite not-text reply."""
    bot = await telegram_bot(settings)
    chat = update.effective_chat
    if chat is None:
        return  # e.g. a poll answer or a chat member change: nothing to answer
    sender_id = f"telegram:{chat.id}"
    output = TelegramOutput(chat.id, settings)
    message_id = str(update.update_id)
    if update.callback_query is not None:
        await bot.answer_callback_query(update.callback_query.id)
        inbound = Inbound("telegram", sender_id, update.callback_query.data or "", message_id)
    elif update.message is not None and update.message.contact is not None:
        inbound = _contact_shared(update, sender_id, message_id)
    elif update.message is not None and update.message.text:
        inbound = Inbound("telegram", sender_id, update.message.text[:MAX_TEXT], message_id)
    else:  # edited messages, stickers, photos, voice, ...: answer once, never loop
        if await first_delivery("telegram", sender_id, message_id):
            log.info("telegram.not_text", conversation=conversation_ref(sender_id))
            await bot.send_message(chat.id, NOT_TEXT)
        return
    await deliver(inbound, output, on_new_message)


def _contact_shared(update: Update, sender_id: str, message_id: str) -> Inbound:
    """The user's own number (shared with the contact button) is verified by Telegram; a contact
    card of someone else is just text."""
    contact = update.message.contact
    number = "".join(ch for ch in contact.phone_number if ch.isdigit())
    own = update.effective_user is not None and contact.user_id == update.effective_user.id
    metadata = {"channel_verified_msisdn": number} if own else {}
    return Inbound("telegram", sender_id, f"+{number}", message_id, metadata)

