"""A customer wants a person: the conversation joins the agent queue (handoff/queue.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions.contact_records import operation_record
from contacts.masking import mask_secrets
from handoff import queue
from handoff.queue import Handoff
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import redis_client

log = get_logger(__name__)

# Which agents a request goes to, by what the customer was doing.
SKILL_OF = {"billing_dispute": "billing", "check_bill": "billing", "check_balance": "billing",
            "report_network_issue": "technical", "get_puk": "technical",
            "report_lost_sim": "technical", "activate_roaming": "technical",
            "file_complaint": "complaints", "complaint_status": "complaints"}
PRIORITY_OF = {"billing": 2, "complaints": 2, "technical": 1, "general": 1}
AVERAGE_HANDLE_MINUTES = 4  # until the console measures real handle times
TRANSCRIPT_TURNS = 20


def handoff_reason(tracker: Tracker) -> str:
    """Why the customer wants a human: they asked, or the bot kept failing to understand."""
    intent = tracker.get_intent_of_latest_message()
    return "requested" if intent == "request_human" else "repeated_fallback"


def transcript(tracker: Tracker) -> list[dict[str, str]]:
    turns = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            turns.append({"from": "customer", "text": mask_secrets(event["text"])})
        elif event.get("event") == "bot" and event.get("text"):
            turns.append({"from": "bot", "text": mask_secrets(event["text"])})
    return turns[-TRANSCRIPT_TURNS:]


class ActionRequestHuman(Action):
    """Queue the conversation for an agent and tell the customer where they stand."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reason = handoff_reason(tracker)
        skill = SKILL_OF.get(tracker.get_slot("requested_service") or "", "general")
        handoff = Handoff(
            sender_id=tracker.sender_id, channel=tracker.get_latest_input_channel() or "rest",
            skill=skill, reason=reason, priority=PRIORITY_OF[skill],
            customer_msisdn=tracker.get_slot("verified_msisdn"),
            verified=bool(tracker.get_slot("verified_msisdn")),
            trigger_intent=tracker.get_slot("requested_service"), transcript=transcript(tracker),
        )
        conversation = conversation_ref(tracker.sender_id)
        try:
            position = await asyncio.to_thread(queue.enqueue, redis_client(), handoff)
        except RedisError:
            log.error("handoff.not_queued", reason=reason, conversation=conversation)
            dispatcher.utter_message(text="Sorry, I can't reach our agents right now. Please "
                                          "call customer care on 150 (8:00-22:00).")
            return [operation_record("handoff_requested", "failure", detail=reason)]
        log.info("handoff.queued", reason=reason, skill=skill, conversation=conversation)
        dispatcher.utter_message(text=queue_message(position))
        # The tracker says what is true: the bot is out of this conversation until it returns.
        return [operation_record("handoff_requested", "success", detail=reason),
                ConversationPaused()]


def queue_message(position: int) -> str:
    minutes = max(position, 1) * AVERAGE_HANDLE_MINUTES
    ahead = "You're next" if position <= 1 else f"You're number {position} in the queue"
    return (f"I'm passing you to one of our agents. {ahead}; the wait is about {minutes} "
            "minutes. Anything you write now goes to the agent. Type \"cancel\" to stop "
            "waiting and continue with me.")
