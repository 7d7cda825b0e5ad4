"""Account self-service and complaints: recognised, and held until identity verification (with
the number the customer already gave, if any)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import extract
from actions.base import ServiceAction
from actions.contact_records import operation_record
from switchboard.log import conversation_ref, get_logger
from switchboard.settings import Settings

log = get_logger(__name__)

# What each account intent asks us to do, in the customer's words ("To <label>, I first ...").
SERVICE_LABELS: dict[str, str] = {
    "check_balance": "check your balance",
    "check_data_usage": "check your data usage",
    "check_bill": "look up your bill",
    "check_plan": "look up your current plan",
    "change_plan": "change your plan",
    "buy_data_pack": "add a data pack to your line",
    "activate_roaming": "turn on roaming for your line",
    "report_lost_sim": "block your lost or stolen SIM",
    "unsubscribe_vas": "cancel your value-added subscriptions",
    "get_puk": "give you your PUK code",
    "file_complaint": "register your complaint",
    "complaint_status": "check on your complaint",
    "report_network_issue": "log your network problem",
    "billing_dispute": "look into the charge you're disputing",
}


# The contact-record operation category of each request (contacts' configuration data).
OPERATION_CATEGORIES: dict[str, str] = {
    "check_balance": "balance_query",
    "check_data_usage": "data_usage_query",
    "check_bill": "bill_query",
    "check_plan": "plan_query",
    "change_plan": "plan_change",
    "buy_data_pack": "data_pack_purchase",
    "activate_roaming": "roaming_activation",
    "report_lost_sim": "sim_suspension",
    "unsubscribe_vas": "vas_unsubscription",
    "get_puk": "puk_request",
    "file_complaint": "complaint_filed",
    "complaint_status": "complaint_status_query",
    "report_network_issue": "network_issue_report",
    "billing_dispute": "billing_dispute",
}


# Requests that change the account, and words that make a message about each: a short or
# secret-looking message taken for one of these ("service password", "yes ok") is not acted on.
CHANGE_WORDS: dict[str, re.Pattern[str]] = {
    intent: re.compile(words, re.IGNORECASE) for intent, words in {
        "change_plan": r"plan|tariff|contract|package|deal|bundle|upgrade|downgrade|switch|move",
        "buy_data_pack": r"data|gb|gig|boost|bundle|add-?on|bolt|internet|top",
        "activate_roaming": r"roam|abroad|travel|trip|overseas|holiday",
        "report_lost_sim": r"lost|stolen|nicked|block|bar|suspend|freeze|missing|robbed|"
                           r"pickpocket|taken|lock|deactivate",
        "unsubscribe_vas": r"unsubscri|subscription|cancel|stop|remove|premium|charg|opt|club|"
                           r"texts|ringtone|service",
    }.items()}


def unclear_change(intent: str, text: str) -> bool:
    """A message that should not start a change to the account although it was classified as
    one: it names or holds a secret, or is a couple of words with nothing about the change."""
    if intent not in CHANGE_WORDS:
        return False
    if extract.secret_looking(text):
        return True
    return len(re.findall(r"[A-Za-z']+", text)) <= 2 and not CHANGE_WORDS[intent].search(text)


# Chats where everyone present reads the answers (the Telegram channel sets ``chat_type``).
GROUP_CHATS = frozenset({"group", "supergroup", "channel"})


def private_chat_only(metadata: dict[str, Any]) -> str:
    """Where to go instead of a group chat for account services."""
    bot = metadata.get("bot_username")
    where = f"open @{bot} and write to me there" if bot else "write to me in a private chat"
    return (f"For your privacy I can only help with your account in a private chat with me: "
            f"{where}. Here I can answer general questions about plans, roaming and coverage.")


class ActionAccountRequest(ServiceAction):
    """Note what the customer asked for; the verification form comes next (data/rules)."""

    def name(self) -> str:
        return "action_account_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from actions.verification import display_number, is_verified, verified_number

        intent = extract.implied_request(tracker.get_intent_of_latest_message(),
                                         tracker.latest_message.get("entities") or []) or ""
        label = SERVICE_LABELS.get(intent)
        if label is None:  # a rule routed something we have no wording for: say so plainly
            log.warning("account_request.unknown_intent", intent=intent)
            dispatcher.utter_message(response="utter_default")
            return []
        log.info("account_request", intent=intent, conversation=conversation_ref(tracker.sender_id))
        if unclear_change(intent, tracker.latest_message.get("text") or ""):
            dispatcher.utter_message(response="utter_unclear_request")
            return [FollowupAction("action_listen")]  # nothing starts: the customer says more
        metadata = tracker.latest_message.get("metadata") or {}
        if metadata.get("chat_type") in GROUP_CHATS:  # no verification, no account data there
            dispatcher.utter_message(text=private_chat_only(metadata))
            # action_after_verification serves nothing after a refusal here
            return [SlotSet("requested_service", None), SlotSet("flow_failed", "group_chat"),
                    operation_record(OPERATION_CATEGORIES[intent], "refused", detail="group chat")]
        settings = self.services.settings
        if not is_verified(settings, tracker):  # the verification form asks for the number next
            dispatcher.utter_message(text=f"I can help you {label}.")
            events = [SlotSet("requested_service", intent)]
            known = metadata.get("channel_verified_msisdn") or _number_given(tracker)
            if known:  # vouched for by the channel (SMS sender, Telegram contact), or said
                events.append(SlotSet("phone_number", str(known)))
            return events
        other = _other_number(settings, tracker)
        if other:  # only the verified account, ever: nothing about anyone else's
            dispatcher.utter_message(
                text=f"I can only help with the account you verified in this chat, "
                     f"{display_number(verified_number(settings, tracker))}. For "
                     f"{display_number(other)}, its owner needs to contact us.")
            return [SlotSet("requested_service", None), SlotSet("flow_failed", "other_number")]
        return [SlotSet("requested_service", intent)]


def _number_given(tracker: Tracker) -> str | None:
    """The mobile number the customer typed in the request itself ("my number is ... can I
    get ..."), which verification then checks like a typed answer: a code or password is still
    asked. Numbers said earlier may be anyone's (a shared contact card): those are asked for."""
    numbers = extract.phone_numbers(tracker.latest_message.get("text") or "")
    return numbers[-1] if numbers else None


def _other_number(settings: Settings, tracker: Tracker) -> str | None:
    """A phone number in the request that is not the verified customer's."""
    from actions.verification import normalise_msisdn, verified_number

    for value in tracker.get_latest_entity_values("phone_number"):
        msisdn = normalise_msisdn(str(value))
        if msisdn and msisdn != verified_number(settings, tracker):
            return msisdn
    return None
