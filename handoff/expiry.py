"""Waits that last too long end: the customer is told what happens next and is back with the
bot (``HANDOFF_MAX_WAIT_MINUTES``). Runs as a thread of the console process (for now the
contacts process, contacts/app.py)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import redis

from bot.channels.outbound import NoOutboundChannel, send_to_customer
from contacts import events
from handoff import queue, tracker
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import redis_client
from switchboard.settings import Settings

log = get_logger(__name__)

EXPIRED_MESSAGE = ("Sorry, no agent became free in time. I've noted that you wanted to talk to "
                   "someone: you can ask again later, call customer care on 150 (8:00-22:00), "
                   "or carry on here with me.")


def expire_once(settings: Settings, now: float | None = None) -> int:
    """One sweep: expire, tell each customer, resume the bot, record it; returns how many."""
    client = redis_client(settings)
    expired = queue.expire_waiting(client, settings.handoff_max_wait_minutes * 60,
                                   now or time.time())
    for handoff in expired:
        asyncio.run(_tell(settings, client, handoff.sender_id))
    return len(expired)


async def _tell(settings: Settings, client: redis.Redis, sender_id: str) -> None:
    log.info("handoff.expired", conversation=conversation_ref(sender_id))
    with contextlib.suppress(NoOutboundChannel):  # a REST client reads the contact record
        await send_to_customer(sender_id, EXPIRED_MESSAGE, settings=settings)
    await tracker.resume(sender_id, settings)
    now = time.time()
    events.publish(client, {"event": "bot", "sender_id": sender_id, "text": EXPIRED_MESSAGE,
                            "timestamp": now})
    events.publish(client, {"event": "slot", "sender_id": sender_id, "timestamp": now,
                            "name": events.CONTACT_RECORD_SLOT,
                            "value": {"kind": "operation", "category": "handoff_requested",
                                      "result": "failure", "detail": "expired"}})


class ExpiryWorker(threading.Thread):
    def __init__(self, settings: Settings, every: float = 15.0) -> None:
        super().__init__(name="handoff-expiry", daemon=True)
        self.settings, self.every, self.stop = settings, every, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                expire_once(self.settings)
            except redis.RedisError as exc:
                log.warning("handoff.expiry_unavailable", error=type(exc).__name__)
