"""Contact records as JSON-ready dicts (for the REST API and the CLI), and time parsing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contacts.models import Contact, ContactOperation, ContactTouch, Customer
from contacts.service import ContactDetail, ContactError, History, Page, as_utc


def parse_moment(text: str | None, what: str = "time") -> datetime | None:
    """An ISO 8601 date or date-time (``2026-11-01``, ``2026-11-01T09:30Z``) as naive UTC."""
    if text is None or text == "":
        return None
    try:
        return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except (ValueError, OverflowError) as exc:  # Overflow: 9999-12-31 moved to UTC
        raise ContactError(f"{what} must be an ISO 8601 date or date-time, got {text!r}") from exc


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


def contact_dict(contact: Contact) -> dict[str, Any]:
    return {
        "reference": contact.reference,
        "channel": contact.channel,
        "sender_id": contact.sender_id,
        "customer_msisdn": contact.customer.msisdn if contact.customer_id else None,
        "started_at": iso(contact.started_at),
        "last_touch_at": iso(contact.last_touch_at),
        "ended_at": iso(contact.ended_at),
        "status": contact.status,
        "handled_by": contact.handled_by,
        "agent_id": contact.agent_id,
        "auth_method": contact.auth_method,
        "auth_result": contact.auth_result,
        "interaction_mode": contact.interaction_mode,
        "disposition": contact.disposition,
        "csat": contact.csat,
    }


def touch_dict(touch: ContactTouch) -> dict[str, Any]:
    return {
        "direction": touch.direction,
        "author": touch.author,
        "text": touch.text,
        "intent": touch.intent,
        "confidence": None if touch.confidence is None else round(touch.confidence, 4),
        "at": iso(touch.at),
    }


def operation_dict(operation: ContactOperation) -> dict[str, Any]:
    return {
        "category": operation.category,
        "result": operation.result,
        "reference": operation.reference,
        "detail": operation.detail,
        "at": iso(operation.at),
    }


def customer_dict(customer: Customer) -> dict[str, Any]:
    return {"msisdn": customer.msisdn, "name": customer.name, "plan": customer.plan,
            "status": customer.status}


def detail_dict(detail: ContactDetail) -> dict[str, Any]:
    return {
        **contact_dict(detail.contact),
        "touches": [touch_dict(t) for t in detail.touches],
        "operations": [operation_dict(o) for o in detail.operations],
    }


def page_dict(page: Page) -> dict[str, Any]:
    return {
        "items": [contact_dict(c) for c in page.items],
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
        "pages": page.pages,
    }


def history_dict(history: History) -> dict[str, Any]:
    return {
        "customer": customer_dict(history.customer) if history.customer else None,
        "since": iso(history.since),
        "total": history.total,
        "counts_by_channel": history.counts_by_channel,
        "contacts": [{**contact_dict(s.contact), "topic": s.topic} for s in history.contacts],
    }
