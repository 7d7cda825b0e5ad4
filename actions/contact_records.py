"""How actions add to the contact record: a ``contact_record`` slot event.

The event travels with the conversation's other events through the tracker store and the event
broker, so the recorder applies it after the customer message that triggered the action, in
order, and exactly once. Actions never write contact tables themselves.
"""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from contacts.events import CONTACT_RECORD_SLOT


def operation_record(
    category: str, result: str, *, reference: str | None = None, detail: str = ""
) -> SlotSet:
    """Record a business operation (a category from the contact configuration) and its result."""
    return SlotSet(CONTACT_RECORD_SLOT, {
        "kind": "operation", "category": category, "result": result,
        "reference": reference, "detail": detail,
    })


def authentication_record(
    method: str, result: str, msisdn: str, customer: dict[str, str] | None = None
) -> SlotSet:
    """Record how the customer was (or was not) verified. A verified result also links this
    conversation's channel identity to the customer, with the back end's profile of them."""
    return SlotSet(CONTACT_RECORD_SLOT, {
        "kind": "authentication", "method": method, "result": result, "msisdn": msisdn,
        "customer": customer,
    })
