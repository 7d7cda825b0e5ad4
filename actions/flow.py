"""What every multi-step flow (a Rasa form) shares: the services, retries, cancel, giving up.

A form re-prompts on a bad value; after ``MAX_RETRIES`` bad values in a row it gives up
(``flow_failed``), the form ends, and the follow-up action offers a human instead of looping.
"""

from __future__ import annotations

import abc
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import UsesServices

MAX_RETRIES = 3
# Slots a flow fills; cleared when it ends, however it ends.
FLOW_SLOTS = ("phone_number", "verification_method", "otp_code", "service_password",
              "plan_choice", "pack_choice", "vas_choice", "confirmed", "complaint_category",
              "complaint_description", "complaint_location", "complaint_since", "bill_period",
              "disputed_amount", "complaint_reference", "flow_failed", "form_retries")
HUMAN_BUTTONS = [{"title": "Talk to an agent", "payload": "/request_human"},
                 {"title": "No thanks", "payload": "/deny"}]


def reset_flow(tracker: Tracker) -> list[EventType]:
    """Clear the flow's slots that hold a value (clearing an empty one would count as an answer
    to validate, if a form starts right after)."""
    return [SlotSet(name, None) for name in FLOW_SLOTS if tracker.get_slot(name) is not None]


def reject(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, message: str,
    limit: int = MAX_RETRIES,
) -> dict[str, Any]:
    """Re-prompt for a bad value, or give up after ``limit`` bad values in a row."""
    retries = int(tracker.get_slot("form_retries") or 0) + 1
    if retries >= limit:
        dispatcher.utter_message(text=f"{message} Let's stop here rather than go round in "
                                      "circles.")
        return {slot: None, "form_retries": None, "flow_failed": "too_many_retries"}
    dispatcher.utter_message(text=message)
    return {slot: None, "form_retries": retries}


def accept(slot: str, value: Any) -> dict[str, Any]:
    return {slot: value, "form_retries": None}


def offer_human(dispatcher: CollectingDispatcher, text: str) -> None:
    dispatcher.utter_message(text=f"{text} Would you like to talk to one of our agents?",
                             buttons=HUMAN_BUTTONS)


class FlowValidation(UsesServices, FormValidationAction):
    """A form's validation that ends the form once the flow has given up (``flow_failed``)."""

    @abc.abstractmethod  # abstract: rasa_sdk registers every concrete Action it finds
    def name(self) -> str: ...

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        return [] if tracker.get_slot("flow_failed") else domain_slots

    async def validate_confirmed(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """Yes or no, from the affirm/deny intents: nothing to check."""
        return {"confirmed": value}


class ActionCancelFlow(Action):
    """``cancel`` in the middle of a flow: stop it, change nothing, say so."""

    def name(self) -> str:
        return "action_cancel_flow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text="OK, I've stopped there and nothing was changed. "
                                      "What else can I do for you?")
        return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_flow(tracker)]


class ActionSwitchFlow(Action):
    """Another account request typed inside a flow: stop this one unchanged, the rules then
    serve the new request (data/rules/forms.yml)."""

    def name(self) -> str:
        return "action_switch_flow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text="OK, let's leave that (nothing was changed) and do this "
                                      "instead.")
        return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_flow(tracker)]


class ActionLeaveFlow(Action):
    """A goodbye inside a flow: stop it unchanged and say nothing of its own (the goodbye
    follows, data/rules/forms.yml), so the flow's question is not asked again."""

    def name(self) -> str:
        return "action_leave_flow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_flow(tracker)]
