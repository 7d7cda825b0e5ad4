"""A Rasa event broker that feeds the unified contact record.

Why here: the tracker store streams every event of every conversation to the event broker,
whichever channel it came on (REST, web chat, Telegram, SMS, rasa shell), and the customer's
message arrives with its NLU result (intent and confidence) next to every bot reply. No other
single place sees all of that. The broker only appends to a Redis stream (``contacts.events``);
the contact recorder writes the database, so a slow or absent database never slows a reply.
"""

from __future__ import annotations

from asyncio import AbstractEventLoop
from typing import Any

import redis
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from contacts import events
from switchboard import metrics
from switchboard.log import conversation_ref, get_logger
from switchboard.services import installed

log = get_logger(__name__)


class ContactEventBroker(EventBroker):
    """Appends the events the contact record needs to the contact event stream."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: AbstractEventLoop | None = None
    ) -> ContactEventBroker:
        return cls(installed().redis)  # Rasa builds the broker: the root's Services

    def publish(self, event: dict[str, Any]) -> None:
        metrics.nlu_result(event)  # switchboard_nlu_messages_total: the fallback rate
        if not events.worth_recording(event):
            return
        try:
            events.publish(self.client, event)
        except redis.RedisError as exc:
            metrics.redis_error("contact_event_broker")
            # Redis also holds the trackers: if it is down, Rasa fails this message loudly anyway.
            log.error("contact_event.not_published", event=event.get("event"),
                      conversation=conversation_ref(str(event.get("sender_id"))),
                      error=type(exc).__name__)
            raise

    def is_ready(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False
