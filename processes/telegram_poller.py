"""The Telegram poller's process (local development, ``TELEGRAM_MODE=polling``):
``python -m processes.telegram_poller``; ``bot/channels/telegram_poller.py`` does the polling."""

from __future__ import annotations

import asyncio

from telegram.error import TelegramError

from bot.channels.telegram_poller import poll
from switchboard.log import configure_logging, get_logger
from switchboard.services import Services
from switchboard.settings import load_settings

log = get_logger(__name__)


def main() -> None:
    services = Services(load_settings())
    configure_logging(services.settings)
    try:
        asyncio.run(poll(services.settings))
    except TelegramError as exc:  # a wrong token or a forbidden bot: nothing to retry
        log.error("telegram.polling_failed", error=type(exc).__name__)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
