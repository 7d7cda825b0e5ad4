"""Complaints: a form collects what the category needs, a complaint record gets a reference
and an SLA due date; status lookups show a customer only their own complaints."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from accounts import complaints
from actions.contact_records import operation_record
from actions.flow import FlowValidation, accept, offer_human, reject, reset_flow
from actions.human import hand_over
from actions.verification import verified_number
from switchboard.db import database

CATEGORY_WORDS = {
    "network": ("network", "signal", "coverage", "mast", "call drop", "dropped", "reception"),
    "billing": ("bill", "charge", "overcharg", "payment", "refund", "price"),
    "customer_service": ("customer service", "staff", "store", "shop", "agent", "rude",
                         "service"),
    "device": ("device", "phone", "handset", "sim", "other", "else"),
    "roaming": ("roam", "abroad"),
    "data": ("data", "internet", "4g", "5g", "slow"),
}
CATEGORY_NAMES = {"network": "network", "billing": "billing",
                  "customer_service": "customer service", "device": "device",
                  "roaming": "roaming", "data": "mobile data"}
OPERATION = {"network": "network_issue_report", "billing": "billing_dispute"}
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
REFERENCE = re.compile(r"CMP-\d{4}-\d{6}", re.IGNORECASE)


def parse_category(text: str) -> str | None:
    lowered = (text or "").lower().replace("_", " ")
    for category, words in CATEGORY_WORDS.items():
        if category.replace("_", " ") == lowered or any(w in lowered for w in words):
            return category
    return None


def parse_month(text: str, today_year: int) -> str | None:
    lowered = (text or "").lower()
    exact = re.search(r"(20\d\d)-(0[1-9]|1[0-2])", lowered)
    if exact:
        return exact.group(0)
    for number, name in enumerate(MONTHS, start=1):
        if name[:3] in lowered:
            year = re.search(r"20\d\d", lowered)
            return f"{year.group(0) if year else today_year}-{number:02d}"
    return None


def parse_pounds(text: str) -> int | None:
    match = re.search(r"(\d+(?:\.\d{1,2})?)", (text or "").replace(",", ""))
    if not match:
        return None
    pence = round(float(match.group(1)) * 100)
    return pence if 0 < pence <= 1_000_000 else None


class ValidateComplaintForm(FlowValidation):
    def name(self) -> str:
        return "validate_complaint_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        if tracker.get_slot("flow_failed"):
            return []
        needed = {"complaint_category", "complaint_description", *{
            "network": ("complaint_location", "complaint_since"),
            "billing": ("bill_period", "disputed_amount"),
        }.get(tracker.get_slot("complaint_category"), ())}
        return [slot for slot in domain_slots if slot in needed]

    async def validate_complaint_category(self, value: Any, dispatcher: CollectingDispatcher,
                                          tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        category = parse_category(str(value))
        if category is None:
            return reject(dispatcher, tracker, "complaint_category",
                          "Is it about the network, billing, customer service, a device, "
                          "roaming or mobile data?")
        return accept("complaint_category", category)

    async def validate_complaint_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value).strip()
        if len(text) < 10:
            return reject(dispatcher, tracker, "complaint_description",
                          "Please tell me a little more, so the team can act on it.")
        return accept("complaint_description", text[:2000])

    async def validate_complaint_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value).strip()
        if len(text) < 2:
            return reject(dispatcher, tracker, "complaint_location",
                          "Which town, postcode or street is it?")
        return accept("complaint_location", text[:200])

    async def validate_complaint_since(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return accept("complaint_since", str(value).strip()[:100])

    async def validate_bill_period(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        period = parse_month(str(value), _this_year())
        if period is None:
            return reject(dispatcher, tracker, "bill_period",
                          "Which month's bill? For example \"October\" or \"2026-10\".")
        return accept("bill_period", period)

    async def validate_disputed_amount(self, value: Any, dispatcher: CollectingDispatcher,
                                       tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        pence = parse_pounds(str(value))
        if pence is None:
            return reject(dispatcher, tracker, "disputed_amount",
                          "Please give the amount in pounds, for example 12.50.")
        return accept("disputed_amount", str(pence))


class ActionSubmitComplaint(Action):
    def name(self) -> str:
        return "action_submit_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        category = tracker.get_slot("complaint_category") or "device"
        operation = OPERATION.get(category, "complaint_filed")
        if tracker.get_slot("flow_failed"):
            offer_human(dispatcher, "I couldn't take the complaint down here.")
            return [*reset_flow(tracker), operation_record(operation, "failure")]
        msisdn = verified_number(tracker)
        amount = tracker.get_slot("disputed_amount")
        new = complaints.NewComplaint(
            msisdn=msisdn, category=category,
            description=tracker.get_slot("complaint_description") or "",
            location=tracker.get_slot("complaint_location"),
            since=tracker.get_slot("complaint_since"),
            bill_period=tracker.get_slot("bill_period"),
            disputed_pence=int(amount) if amount else None,
        )
        db = database()
        complaint = await asyncio.to_thread(complaints.file_complaint, db, new)
        recent = await asyncio.to_thread(complaints.recent_complaints, db, msisdn)
        dispatcher.utter_message(
            text=f"I've registered your {CATEGORY_NAMES[category]} complaint. Your reference is "
                 f"{complaint.reference}; we aim to resolve it by {complaint.due_at:%d %B %Y}.")
        done = [*reset_flow(tracker), operation_record(operation, "success",
                                                       reference=complaint.reference)]
        if category == "billing":  # a disputed charge goes to a person straight away
            dispatcher.utter_message(text="Billing disputes are best checked with a person.")
            return [*done, *await hand_over(dispatcher, tracker, "billing_dispute", "billing")]
        if recent > 1:
            dispatcher.utter_message(text=f"I see this is complaint number {recent} from you "
                                          "in 30 days; I'm sorry things keep going wrong.")
            return [*done, *await hand_over(dispatcher, tracker, "repeated_complaint",
                                            "complaints")]
        return done


class ValidateComplaintStatusForm(FlowValidation):
    def name(self) -> str:
        return "validate_complaint_status_form"

    async def validate_complaint_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        match = REFERENCE.search(str(value))
        if match is None:
            return reject(dispatcher, tracker, "complaint_reference",
                          "Complaint references look like CMP-2026-000123. Which is yours?")
        return accept("complaint_reference", match.group(0).upper())


class ActionComplaintStatus(Action):
    def name(self) -> str:
        return "action_complaint_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        reference = tracker.get_slot("complaint_reference")
        if tracker.get_slot("flow_failed") or not reference:
            offer_human(dispatcher, "I couldn't find the complaint here.")
            return [*reset_flow(tracker), operation_record("complaint_status_query", "failure")]
        complaint = await asyncio.to_thread(complaints.complaint_of, database(), reference,
                                            verified_number(tracker))
        if complaint is None:  # unknown, or someone else's: the same answer for both
            dispatcher.utter_message(text=f"I can't find a complaint {reference} on your "
                                          "account. Please check the reference.")
            return [*reset_flow(tracker), operation_record("complaint_status_query", "refused",
                                                    reference=reference)]
        state = {"open": "open and being looked at", "in_progress": "in progress",
                 "resolved": "resolved"}.get(complaint.status, complaint.status)
        dispatcher.utter_message(
            text=f"Your complaint {complaint.reference} ({CATEGORY_NAMES[complaint.category]}) "
                 f"is {state}. We aim to resolve it by {complaint.due_at:%d %B %Y}.")
        return [*reset_flow(tracker), operation_record("complaint_status_query", "success",
                                                reference=complaint.reference)]


def _this_year() -> int:
    from datetime import date

    return date.today().year
