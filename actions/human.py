"""A customer wants a person: the conversation joins the agent queue (handoff/queue.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher
from redis.exceptions import RedisError

from actions.base import ServiceAction
from actions.contact_records import operation_record
from contacts.masking import mask_secrets
from handoff.intake import hand_over as hand_over_to_queue
from handoff.queue import Handoff
from switchboard.log import conversation_ref, get_logger
from switchboard.services import Services

log = get_logger(__name__)

# Which agents a request goes to, by what the customer was doing or asking about (a
# consultation by its FAQ key: "my bill is way too high, let me speak to someone").
SKILL_OF = {"billing_dispute": "billing", "check_bill": "billing", "check_balance": "billing",
            "faq/bill_explained": "billing", "faq/payment_methods": "billing",
            "report_network_issue": "technical", "get_puk": "technical",
            "report_lost_sim": "technical", "activate_roaming": "technical",
            "faq/coverage": "technical", "faq/data_speed": "technical",
            "faq/apn_settings": "technical", "faq/puk_code": "technical",
            "file_complaint": "complaints", "complaint_status": "complaints"}
PRIORITY_OF = {"billing": 2, "complaints": 2, "technical": 1, "general": 1}
TRANSCRIPT_TURNS = 20


def topic(tracker: Tracker) -> str | None:
    """What a mixed request for a person was about ("my bill is wrong, let me talk to
    someone": billing_dispute), from bot/components/person_request.py's ``topic`` entity."""
    return next(tracker.get_latest_entity_values("topic"), None)


def handoff_reason(tracker: Tracker) -> str:
    """Why the customer wants a human: they asked (about a topic), or the bot kept failing."""
    intent = tracker.get_intent_of_latest_message()
    if intent != "request_human":
        return "repeated_fallback"
    about = topic(tracker)
    return f"requested:{about}" if about else "requested"


def transcript(tracker: Tracker) -> list[dict[str, str]]:
    turns = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            turns.append({"from": "customer", "text": mask_secrets(event["text"])})
        elif event.get("event") == "bot" and event.get("text"):
            turns.append({"from": "bot", "text": mask_secrets(event["text"])})
    return turns[-TRANSCRIPT_TURNS:]


async def hand_over(services: Services, dispatcher: CollectingDispatcher, tracker: Tracker,
                    reason: str, skill: str | None = None,
                    priority: int | None = None) -> list[EventType]:
    """Queue the conversation for an agent (or offer a callback when nobody can answer), tell
    the customer, and pause the tracker: the bot is out until the conversation returns."""
    from actions.verification import verified_number  # it hands over too: import when used

    msisdn = verified_number(services.settings, tracker)
    about = tracker.get_slot("requested_service") or topic(tracker)
    skill = skill or SKILL_OF.get(about or "", "general")
    handoff = Handoff(
        sender_id=tracker.sender_id, channel=tracker.get_latest_input_channel() or "rest",
        skill=skill, reason=reason, priority=priority or PRIORITY_OF[skill],
        customer_msisdn=msisdn, verified=msisdn is not None,
        trigger_intent=about or tracker.get_intent_of_latest_message(),
        transcript=transcript(tracker),
    )
    conversation = conversation_ref(tracker.sender_id)
    try:
        intake = await asyncio.to_thread(hand_over_to_queue, services.redis, services.settings,
                                         handoff)
    except RedisError:
        log.error("handoff.not_queued", reason=reason, conversation=conversation)
        dispatcher.utter_message(text="Sorry, I can't reach our agents right now. Please "
                                      "call customer care on 150 (8:00-22:00).")
        return [operation_record("handoff_requested", "failure", detail=reason)]
    log.info("handoff.queued" if intake.queued else "handoff.callback_offered", reason=reason,
             skill=skill, conversation=conversation)
    dispatcher.utter_message(text=intake.message)
    if not intake.queued:  # a callback offer: the gateway takes the one message that answers
        # it; the tracker stays live so a lapsed offer leaves a working bot behind
        return [operation_record("handoff_requested", "pending", detail=reason)]
    # The tracker says what is true: the bot is out of this conversation until it returns.
    return [operation_record("handoff_requested", "success", reference=skill, detail=reason),
            ConversationPaused()]


class ActionRequestHuman(ServiceAction):
    """The customer asked for a person, or the bot failed to understand twice."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return await hand_over(self.services, dispatcher, tracker, handoff_reason(tracker))
