"""Account self-service and complaints: for now, recognised and held until identity verification."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.contact_records import operation_record
from switchboard.log import conversation_ref, get_logger

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


# Chats where everyone present reads the answers (the Telegram channel sets ``chat_type``).
GROUP_CHATS = frozenset({"group", "supergroup", "channel"})


def private_chat_only(metadata: dict[str, Any]) -> str:
    """Where to go instead of a group chat for account services."""
    bot = metadata.get("bot_username")
    where = f"open @{bot} and write to me there" if bot else "write to me in a private chat"
    return (f"For your privacy I can only help with your account in a private chat with me: "
            f"{where}. Here I can answer general questions about plans, roaming and coverage.")


class ActionAccountRequest(Action):
    """Note what the customer asked for; the verification form comes next (data/rules)."""

    def name(self) -> str:
        return "action_account_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from actions.verification import display_number, is_verified, verified_number

        intent = tracker.get_intent_of_latest_message() or ""
        label = SERVICE_LABELS.get(intent)
        if label is None:  # a rule routed something we have no wording for: say so plainly
            log.warning("account_request.unknown_intent", intent=intent)
            dispatcher.utter_message(response="utter_default")
            return []
        log.info("account_request", intent=intent, conversation=conversation_ref(tracker.sender_id))
        metadata = tracker.latest_message.get("metadata") or {}
        if metadata.get("chat_type") in GROUP_CHATS:  # no verification, no account data there
            dispatcher.utter_message(text=private_chat_only(metadata))
            # action_after_verification serves nothing after a refusal here
            return [SlotSet("requested_service", None), SlotSet("flow_failed", "group_chat"),
                    operation_record(OPERATION_CATEGORIES[intent], "refused", detail="group chat")]
        if not is_verified(tracker):  # the verification form asks for the number next
            dispatcher.utter_message(text=f"I can help you {label}.")
            events = [SlotSet("requested_service", intent)]
            known = metadata.get("channel_verified_msisdn")
            if known:  # the channel vouches for the number (SMS sender, Telegram contact)
                events.append(SlotSet("phone_number", str(known)))
            return events
        other = _other_number(tracker)
        if other:  # only the verified account, ever: nothing about anyone else's
            dispatcher.utter_message(
                text=f"I can only help with the account you verified in this chat, "
                     f"{display_number(verified_number(tracker))}. For "
                     f"{display_number(other)}, its owner needs to contact us.")
            return [SlotSet("requested_service", None), SlotSet("flow_failed", "other_number")]
        return [SlotSet("requested_service", intent)]


def _other_number(tracker: Tracker) -> str | None:
    """A phone number in the request that is not the verified customer's."""
    from actions.verification import normalise_msisdn, verified_number

    for value in tracker.get_latest_entity_values("phone_number"):
        msisdn = normalise_msisdn(str(value))
        if msisdn and msisdn != verified_number(tracker):
            return msisdn
    return None
