"""Telegram without a public URL (local development): long-poll getUpdates and hand each update
to our own webhook, so polling and webhook mode take exactly the same path.

``TELEGRAM_MODE=polling`` makes ``make run`` start it (``processes/telegram_poller.py``). An
update is acknowledged to Telegram (the offset moves past it) only after our webhook accepted
it: nothing is lost while the Rasa server restarts. Telegram's refusals of getUpdates are
waited out, not fatal: flood control (429, ``parameters.retry_after`` seconds), a conflict with
another poller or a webhook (409), no answer or a 5xx; only a wrong token (401/404) or a
forbidden bot stops the poller.
"""

from __future__ import annotations

import asyncio

import aiohttp
from telegram.error import Conflict, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram import NETWORK_RETRY_SECONDS, classify, telegram_bot
from switchboard.keys import telegram_secret
from switchboard.log import get_logger
from switchboard.settings import Settings

log = get_logger(__name__)
# The kinds the channel reads (setWebhook takes the same list); my_chat_member says a user
# blocked or unblocked the bot.
UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
CONFLICT_WAIT_SECONDS = 5.0  # another getUpdates or a webhook holds the bot: wait, then ask again


async def poll(settings: Settings) -> None:
    bot = await telegram_bot(settings)
    await bot.delete_webhook()  # Telegram refuses getUpdates while a webhook is set
    webhook = f"{settings.rasa_base_url}/webhooks/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": telegram_secret(settings)}
    offset: int | None = None
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                updates = await bot.get_updates(offset=offset, timeout=30,
                                                allowed_updates=UPDATES)
            except (RetryAfter, Conflict, NetworkError) as exc:
                await asyncio.sleep(_wait(exc))
                continue
            for update in updates:
                while not await _forward(session, webhook, headers, update.to_dict()):
                    await asyncio.sleep(2)  # the Rasa server is restarting: keep the update
                offset = update.update_id + 1


def _wait(exc: TelegramError) -> float:
    """Seconds to wait before asking for updates again after Telegram refused."""
    log.warning("telegram.get_updates_refused", error=type(exc).__name__)
    if isinstance(exc, Conflict):
        return CONFLICT_WAIT_SECONDS
    return classify(exc).retry_after or NETWORK_RETRY_SECONDS


async def _forward(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                   update: dict) -> bool:
    try:
        async with session.post(url, json=update, headers=headers) as answer:
            if answer.status >= 500:
                return False
            if answer.status >= 400:  # a malformed update: skip it, never loop on it
                log.warning("telegram.update_rejected", status=answer.status)
            return True
    except aiohttp.ClientError:
        return False
