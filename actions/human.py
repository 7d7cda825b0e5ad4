"""Record a customer's request for a human agent (the queue itself comes with the handoff issue)."""

from __future__ import annotations

import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions.contact_records import operation_record
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client

log = get_logger(__name__)

# A Redis stream: durable (AOF), ordered, and readable by the console process later.
HUMAN_REQUESTS_STREAM = "switchboard:human_requests"


def handoff_reason(tracker: Tracker) -> str:
    """Why the customer wants a human: they asked, or the bot kept failing to understand."""
    intent = tracker.get_intent_of_latest_message()
    return "requested" if intent == "request_human" else "repeated_fallback"


class ActionRequestHuman(Action):
    """Store the request in Redis and tell the customer it was taken."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reason = handoff_reason(tracker)
        conversation = conversation_ref(tracker.sender_id)
        request = {
            "sender_id": tracker.sender_id,
            "channel": tracker.get_latest_input_channel() or "unknown",
            "reason": reason,
            "requested_at": f"{time.time():.3f}",
        }
        try:
            await async_redis_client().xadd(HUMAN_REQUESTS_STREAM, request)
        except RedisError:
            # The customer still gets an answer; the failure is visible to operations.
            log.error("human_request.not_recorded", reason=reason, conversation=conversation)
            result = "failure"
        else:
            log.info("human_request.recorded", reason=reason, conversation=conversation)
            result = "success"
        dispatcher.utter_message(
            text=(
                "I've noted that you'd like to talk to a person. Live chat with our agents isn't "
                "connected to this chat yet, so for help now please call customer care on 150 "
                "(8:00-22:00)."
            )
        )
        return [operation_record("handoff_requested", result, detail=reason)]
