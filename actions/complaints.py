"""Complaints: a form collects what the category needs (taking what the customer already said:
their own description, a place, a date, a month, an amount), shows a summary to confirm, and
the complaint record gets a reference and an SLA due date. A verified customer asking for the
status hears their open complaints; status lookups show a customer only their own."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from accounts import complaints
from accounts.backend import ComplaintInfo
from actions import extract
from actions.base import ServiceAction
from actions.contact_records import operation_record
from actions.extract import ListeningForm, reask
from actions.flow import FlowValidation, accept, offer_human, reject, reset_flow
from actions.human import hand_over
from actions.verification import display_number, verified_number
from switchboard.db import Database
from switchboard.settings import Settings

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
PRESET_CATEGORY = {"report_network_issue": "network", "billing_dispute": "billing"}
# What each category needs besides the category and the description.
NEEDS = {"network": ("complaint_location", "complaint_since"),
         "billing": ("bill_period", "disputed_amount")}
REFERENCE = re.compile(r"CMP-\d{4}-\d{6}", re.IGNORECASE)


def parse_category(text: str) -> str | None:
    lowered = (text or "").lower().replace("_", " ")
    for category, words in CATEGORY_WORDS.items():
        if category.replace("_", " ") == lowered or any(w in lowered for w in words):
            return category
    return None


def known(request: str, said: list[str]) -> dict[str, Any]:
    """A complaint's values in what the customer already said: the category, their own
    description of it, and what the category needs (a place and a date, a month and an
    amount)."""
    values: dict[str, Any] = {}
    category = PRESET_CATEGORY.get(request) or extract.first(said, parse_category)
    if category:
        values["complaint_category"] = category
    text = extract.first(said, extract.description)
    if text:
        values["complaint_description"] = text
    for slot in NEEDS.get(category, ()):
        value = extract.first(said, lambda t, slot=slot: read(slot, t, _today()))
        if value is not None:
            values[slot] = value
    return values


def read(slot: str, text: str, today: date) -> str | None:
    """A complaint field's value in the text, as the form stores it."""
    if slot == "complaint_location":
        return extract.place(text)
    if slot == "complaint_since":
        when = extract.since_date(text, today)
        return _day(when) if when else None
    if slot == "bill_period":
        month = extract.bill_month(text, today)
        return _month(month) if month else None
    if slot == "disputed_amount":
        pence = extract.money_pence(text)
        return _pounds(pence) if pence else None
    return None


# Slots hold dates and amounts in words ("Monday 23 November 2026", "October 2026", "£2.50"),
# as the summary shows them: digits-only values look like codes to the tracker's masking.
def _pounds(pence: int) -> str:
    return f"£{pence / 100:.2f}"


def _day(when: date) -> str:
    return f"{when:%A} {when.day} {when:%B %Y}"


def _month(period: str) -> str:
    return f"{date.fromisoformat(period + '-01'):%B %Y}"


class ValidateComplaintForm(ListeningForm):
    listens_for = ("complaint_location", "complaint_since", "bill_period", "disputed_amount")

    def name(self) -> str:
        return "validate_complaint_form"

    async def read(self, slot: str, text: str, tracker: Tracker) -> Any | None:
        return read(slot, text, _today())

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        if tracker.get_slot("flow_failed"):
            return []
        needed = {"complaint_category", "complaint_description", "confirmed",
                  *NEEDS.get(tracker.get_slot("complaint_category"), ())}
        return [slot for slot in domain_slots if slot in needed]

    async def validate_complaint_category(self, value: Any, dispatcher: CollectingDispatcher,
                                          tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        category = parse_category(str(value))
        if category is None:
            return reask(dispatcher, tracker, "complaint_category",
                         "Is it about the network, billing, customer service, a device, "
                         "roaming or mobile data? For example \"network\".")
        return accept("complaint_category", category)

    async def validate_complaint_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value).strip()
        if len(text) < 10:
            return reask(dispatcher, tracker, "complaint_description",
                         "Please tell me a little more, so the team can act on it. For example "
                         "\"calls drop every evening at home\".")
        return accept("complaint_description", text[:2000])

    async def validate_complaint_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        where = extract.place(str(value))
        if where is None:
            return reask(dispatcher, tracker, "complaint_location",
                         "That doesn't look like a place. Which town, postcode or street is it? "
                         "For example \"Leeds\", \"LS6 2AB\" or \"12 Park Road, Leeds\".")
        return accept("complaint_location", where[:200])

    async def validate_complaint_since(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        when = extract.since_date(str(value), _today())
        if when is None:
            return reask(dispatcher, tracker, "complaint_since",
                         "Since when has it been happening? For example \"since last Monday\", "
                         "\"two days ago\" or \"3 November\".")
        return accept("complaint_since", _day(when))

    async def validate_bill_period(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        period = extract.bill_month(str(value), _today())
        if period is None:
            return reask(dispatcher, tracker, "bill_period",
                         "Which month's bill? For example \"October\" or \"last month\".")
        return accept("bill_period", _month(period))

    async def validate_disputed_amount(self, value: Any, dispatcher: CollectingDispatcher,
                                       tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        pence = extract.money_pence(str(value), bare=True)
        if pence is None:
            return reask(dispatcher, tracker, "disputed_amount",
                         "How much, in pounds? For example \"£12.50\".")
        return accept("disputed_amount", _pounds(pence))


def summary(settings: Settings, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
    """The complaint exactly as it will be filed, and buttons to file it or change a field."""
    from actions.self_service import change_button

    category = tracker.get_slot("complaint_category")
    msisdn = verified_number(settings, tracker)
    who = f" for {display_number(msisdn)}" if msisdn else ""
    lines = [f"Here's the complaint I'll file{who}:",
             f"- Type: {CATEGORY_NAMES.get(category, category)}",
             f"- What happened: {tracker.get_slot('complaint_description')}"]
    buttons = [{"title": "File it", "payload": "/affirm"},
               change_button("Change what happened", "complaint_description")]
    fields = {"complaint_location": ("Where", "Change where"),
              "complaint_since": ("Since", "Change since when"),
              "bill_period": ("Bill", "Change the bill month"),
              "disputed_amount": ("Amount disputed", "Change the amount")}
    for slot in NEEDS.get(category, ()):
        label, button = fields[slot]
        lines.append(f"- {label}: {tracker.get_slot(slot) or '-'}")
        buttons.append(change_button(button, slot))
    lines.append("Shall I file it?")
    return "\n".join(lines), buttons


class ActionSubmitComplaint(ServiceAction):
    def name(self) -> str:
        return "action_submit_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        category = tracker.get_slot("complaint_category") or "device"
        operation = OPERATION.get(category, "complaint_filed")
        if tracker.get_slot("flow_failed"):
            offer_human(dispatcher, "I couldn't take the complaint down here.")
            return [*reset_flow(tracker), operation_record(operation, "failure")]
        if tracker.get_slot("confirmed") is not True:
            dispatcher.utter_message(text="OK, I haven't filed anything.")
            return [*reset_flow(tracker), operation_record(operation, "refused",
                                                           detail="customer declined")]
        msisdn = verified_number(self.services.settings, tracker)
        if msisdn is None:  # the verification lapsed meanwhile: nothing is filed unverified
            from actions.self_service import LAPSED

            dispatcher.utter_message(text=LAPSED)
            return [*reset_flow(tracker), operation_record(operation, "refused",
                                                           detail="verification lapsed")]
        amount = extract.money_pence(tracker.get_slot("disputed_amount") or "", bare=True)
        new = complaints.NewComplaint(
            msisdn=msisdn, category=category,
            description=tracker.get_slot("complaint_description") or "",
            location=tracker.get_slot("complaint_location"),
            since=_iso_day(tracker.get_slot("complaint_since")),
            bill_period=extract.bill_month(tracker.get_slot("bill_period") or "", _today()),
            disputed_pence=amount,
        )
        db = self.services.db
        complaint = await asyncio.to_thread(complaints.file_complaint, db, new)
        recent = await asyncio.to_thread(complaints.recent_complaints, db, msisdn)
        dispatcher.utter_message(
            text=f"I've registered your {CATEGORY_NAMES[category]} complaint. Your reference is "
                 f"{complaint.reference}; we aim to resolve it by {complaint.due_at:%d %B %Y}.")
        done = [*reset_flow(tracker), operation_record(operation, "success",
                                                       reference=complaint.reference)]
        if category == "billing":  # a disputed charge goes to a person straight away
            dispatcher.utter_message(text="Billing disputes are best checked with a person.")
            return [*done, *await hand_over(self.services, dispatcher, tracker,
                                                "billing_dispute", "billing")]
        if recent > 1:
            dispatcher.utter_message(text=f"I see this is complaint number {recent} from you "
                                          "in 30 days; I'm sorry things keep going wrong.")
            return [*done, *await hand_over(self.services, dispatcher, tracker,
                                            "repeated_complaint", "complaints")]
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


class ActionComplaintStatus(ServiceAction):
    def name(self) -> str:
        return "action_complaint_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        reference = tracker.get_slot("complaint_reference")
        if tracker.get_slot("flow_failed") or not reference:
            offer_human(dispatcher, "I couldn't find the complaint here.")
            return [*reset_flow(tracker), operation_record("complaint_status_query", "failure")]
        msisdn = verified_number(self.services.settings, tracker)
        return [*reset_flow(tracker), *await _look_up(self.services.db, dispatcher, reference,
                                                      msisdn)]


async def status(db: Database, dispatcher: CollectingDispatcher, tracker: Tracker,
                 said: list[str], msisdn: str) -> list[EventType]:
    """A verified customer asks about their complaint: a reference they gave is looked up at
    once; without one, their open complaints are listed (no reference asked for)."""
    reference = extract.first(said, lambda t: (REFERENCE.search(t) or [None])[0])
    if reference:
        return await _look_up(db, dispatcher, str(reference).upper(), msisdn)
    mine = await asyncio.to_thread(complaints.open_complaints, db, msisdn)
    if not mine:  # perhaps a closed one: its reference finds it
        dispatcher.utter_message(text="You have no open complaints with us.")
        return [FollowupAction("complaint_status_form")]
    lines = [f"You have {len(mine)} open complaint{'s' if len(mine) > 1 else ''}:"]
    lines += [f"- {_status_line(c)}" for c in mine]
    dispatcher.utter_message(text="\n".join(lines))
    return [operation_record("complaint_status_query", "success", reference=mine[-1].reference,
                             detail=f"{len(mine)} open listed")]


async def _look_up(db: Database, dispatcher: CollectingDispatcher, reference: str,
                   msisdn: str | None) -> list[EventType]:
    complaint = await asyncio.to_thread(complaints.complaint_of, db, reference, msisdn)
    if complaint is None:  # unknown, or someone else's: the same answer for both
        dispatcher.utter_message(text=f"I can't find a complaint {reference} on your "
                                      "account. Please check the reference.")
        return [operation_record("complaint_status_query", "refused", reference=reference)]
    dispatcher.utter_message(text=f"Your complaint {_status_line(complaint)}")
    return [operation_record("complaint_status_query", "success",
                             reference=complaint.reference)]


def _status_line(complaint: ComplaintInfo) -> str:
    state = {"open": "open and being looked at", "in_progress": "in progress",
             "resolved": "resolved"}.get(complaint.status, complaint.status)
    return (f"{complaint.reference} ({CATEGORY_NAMES[complaint.category]}) is {state}. We aim "
            f"to resolve it by {complaint.due_at:%d %B %Y}.")


def _iso_day(said: str | None) -> str | None:
    when = extract.since_date(said or "", _today())
    return when.isoformat() if when else None


def _today() -> date:
    return date.today()
