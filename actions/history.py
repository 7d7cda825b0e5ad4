"""``contact_history``: the customer's recent contacts, from the two-month query."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ServiceAction
from actions.contact_records import operation_record
from contacts import service
from contacts.service import ContactSummary
from switchboard.db import Database
from switchboard.log import conversation_ref, get_logger

log = get_logger(__name__)

SHOWN = 3
CHANNEL_NAMES = {"rest": "the API", "cmdline": "the terminal", "webchat": "web chat",
                 "telegram": "Telegram", "sms": "SMS", "whatsapp": "WhatsApp"}


class ActionContactHistory(ServiceAction):
    """Tell the customer their last contacts of the past two months, newest first."""

    def name(self) -> str:
        return "action_contact_history"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        channel = tracker.get_latest_input_channel() or "other"
        try:
            earlier = await asyncio.to_thread(previous_contacts, self.services.db, channel,
                                            tracker.sender_id)
        except Exception as exc:  # the database is down: say so, do not guess
            log.error("contact_history.failed", error=type(exc).__name__,
                      conversation=conversation_ref(tracker.sender_id))
            dispatcher.utter_message(text="Sorry, I can't look up your contact history right "
                                          "now. Please try again in a few minutes.")
            return [operation_record("contact_history_query", "failure")]
        dispatcher.utter_message(text=history_message(earlier))
        return [operation_record("contact_history_query", "success",
                                 detail=f"{len(earlier)} earlier contacts")]


def previous_contacts(db: Database, channel: str, sender_id: str) -> list[ContactSummary]:
    """The last two months of this person's contacts, without the one happening now.

    Until identity verification links them to a customer, "this person" is their identity on
    this channel; after it, their whole customer history across channels.
    """
    with db.reading() as session:
        history = service.identity_contacts(session, channel, sender_id, limit=SHOWN + 1)
        return [s for s in history.contacts
                if not (s.contact.is_open and s.contact.sender_id == sender_id)][:SHOWN]


def history_message(contacts: list[ContactSummary]) -> str:
    if not contacts:
        return "I don't see any earlier contacts from you in the last two months."
    lines = [f"Your last {len(contacts)} contact{'s' if len(contacts) > 1 else ''}:"
             if len(contacts) > 1 else "Your last contact:"]
    for summary in contacts:
        contact = summary.contact
        where = CHANNEL_NAMES.get(contact.channel, contact.channel)
        about = (summary.topic or "general chat").replace("faq/", "").replace("_", " ")
        lines.append(f"- {contact.started_at:%d %b %H:%M} UTC on {where}: {about} "
                     f"(ref {contact.reference})")
    return "\n".join(lines)
