"""The contact service: the one API other code calls to write and read contact records.

The seed system's operations, by name: ``begin_contact``, ``touch_contact``, ``complete_contact``,
``record_operation``, ``query_contacts``, ``contact_configuration``, ``recent_contacts`` (a
customer's last two months) and ``contact_detail`` (by contact reference). Each takes the caller's
session: the caller owns the unit of work (``Database.transaction()``), so several calls can
commit together. Writes a retry could repeat take an idempotency ``key``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contacts.masking import mask_secrets
from contacts.models import (
    AUTHORS,
    CONTACT_STATUSES,
    DIRECTIONS,
    OPEN_STATUSES,
    OPERATION_RESULTS,
    REACHABILITY,
    Channel,
    ChannelIdentity,
    Contact,
    ContactOperation,
    ContactTouch,
    Customer,
    DispositionCode,
    InteractionMode,
    OperationCategory,
)

# Customer intents that say nothing about why someone got in touch (skipped for a contact's topic).
SMALL_TALK_INTENTS = ("greet", "goodbye", "thank_you", "affirm", "deny", "inform", "restart",
                      "nlu_fallback", "bot_challenge", "cancel")
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


class ContactError(ValueError):
    """A request the contact records cannot accept; the message says why, for the caller."""


class ContactNotFound(ContactError):
    pass


def utcnow() -> datetime:
    """Now as a naive UTC datetime, the form every contact table stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def as_utc(moment: datetime | float | None) -> datetime:
    """A naive UTC datetime from an aware/naive datetime or a Unix timestamp (None: now)."""
    if moment is None:
        return utcnow()
    if isinstance(moment, (int, float)):
        return datetime.fromtimestamp(moment, timezone.utc).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


# --- Customers and channel identities ---

def find_customer(session: Session, msisdn: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.msisdn == msisdn)).first()


def upsert_customer(
    session: Session, msisdn: str, *, name: str = "", plan: str | None = None,
    status: str = "active",
) -> Customer:
    """The customer with this msisdn, created or updated with the given profile."""
    customer = find_customer(session, msisdn)
    if customer is None:
        customer = Customer(msisdn=msisdn, created_at=utcnow())
        session.add(customer)
    customer.name, customer.plan, customer.status = name, plan, status
    session.flush()
    return customer


def channel_identity(session: Session, channel: str, external_id: str) -> ChannelIdentity:
    """The identity for this channel and external id, created (anonymous) on first sight."""
    _require(session, Channel, channel, "channel")
    query = select(ChannelIdentity).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
    )
    identity = session.scalars(query).first()
    if identity is None:
        identity = ChannelIdentity(channel=channel, external_id=external_id, created_at=utcnow())
        session.add(identity)
        session.flush()
    return identity


def link_identity(
    session: Session, channel: str, external_id: str, customer: Customer
) -> ChannelIdentity:
    """Link a verified channel identity to its customer; its earlier contacts join their history."""
    identity = channel_identity(session, channel, external_id)
    identity.customer_id, identity.linked_at = customer.id, utcnow()
    session.execute(
        update(Contact)
        .where(Contact.identity_id == identity.id, Contact.customer_id.is_(None))
        .values(customer_id=customer.id)
    )
    session.flush()
    return identity


# --- The seed's operations: writing ---

def begin_contact(
    session: Session, *, channel: str, external_id: str, sender_id: str | None = None,
    at: datetime | float | None = None, interaction_mode: str = "inbound",
    key: str | None = None,
) -> Contact:
    """Open a new contact for someone on a channel (anonymous until their identity is linked).
    With ``key``, a retry of the same request returns the contact the first one began."""
    _require(session, InteractionMode, interaction_mode, "interaction mode")
    if key is not None and (earlier := _begun_with(session, key)) is not None:
        return earlier
    identity = channel_identity(session, channel, external_id)
    started = as_utc(at)
    contact = Contact(
        channel=channel, identity_id=identity.id, customer_id=identity.customer_id,
        sender_id=sender_id or external_id, started_at=started, last_touch_at=started,
        status="open", handled_by="bot", interaction_mode=interaction_mode,
        expects_secret=False, begin_key=key,
    )
    try:
        _insert_with_unique_reference(session, contact, started)
    except ContactError:
        if key is not None and (earlier := _begun_with(session, key)) is not None:
            return earlier  # a concurrent retry with the same key won the race
        raise
    return contact


def _begun_with(session: Session, key: str) -> Contact | None:
    return session.scalars(select(Contact).where(Contact.begin_key == key)).first()


def touch_contact(
    session: Session, contact: Contact, *, direction: str, author: str, text: str,
    at: datetime | float | None = None, intent: str | None = None,
    confidence: float | None = None, entities: Iterable[Mapping[str, Any]] = (),
    key: str | None = None, key_is_new: bool = False,
) -> ContactTouch | None:
    """Add one message to a contact, secrets masked. Returns None if ``key`` was already stored.

    ``key_is_new``: the caller checked the key in this transaction (``recorded_touch_keys``),
    so the touch is inserted without another lookup; a racing duplicate then fails the
    transaction on the unique key instead of being skipped.
    """
    _one_of(direction, DIRECTIONS, "direction")
    _one_of(author, AUTHORS, "author")
    if key is not None and not key_is_new and _exists(session, ContactTouch, key):
        return None
    moment = as_utc(at)
    masked = mask_secrets(text or "", entities, expects_secret=contact.expects_secret
                          and direction == "in")
    touch = ContactTouch(
        contact_id=contact.id, key=key, direction=direction, author=author, text=masked,
        intent=intent if direction == "in" else None,
        confidence=confidence if direction == "in" else None, at=moment,
    )
    if direction == "in":
        contact.expects_secret = False  # the secret, if one was expected, has now been given
    contact.last_touch_at = max(contact.last_touch_at, moment)
    if contact.ended_at is not None:  # a late reply to a completed contact extends its end
        contact.ended_at = max(contact.ended_at, moment)
    if author == "agent":
        contact.handled_by = "both" if contact.handled_by in ("bot", "both") else "agent"
    if key_is_new:
        session.add(touch)
        return touch
    return touch if _insert(session, touch) else None


def complete_contact(
    session: Session, contact: Contact, *, disposition: str,
    at: datetime | float | None = None, status: str = "completed", csat: int | None = None,
) -> Contact:
    """End a contact. Completing an already ended contact changes nothing (retries are safe)."""
    _require(session, DispositionCode, disposition, "disposition code")
    _one_of(status, ("completed", "abandoned"), "final status")
    if csat is not None and not (isinstance(csat, int) and 1 <= csat <= 5):
        raise ContactError("csat must be an integer from 1 to 5")
    if not contact.is_open:
        return contact
    contact.status, contact.disposition = status, disposition
    contact.ended_at = max(as_utc(at), contact.last_touch_at)
    if csat is not None:
        contact.csat = csat
    session.flush()
    return contact


def recorded_touch_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these touch idempotency keys are already stored (one query)."""
    wanted = list(keys)
    if not wanted:
        return set()
    return set(session.scalars(select(ContactTouch.key).where(ContactTouch.key.in_(wanted))))


def record_operation(
    session: Session, contact: Contact, *, category: str, result: str,
    reference: str | None = None, detail: str = "", at: datetime | float | None = None,
    key: str | None = None,
) -> ContactOperation | None:
    """Record a business operation done or tried in a contact. None if ``key`` was stored."""
    _require(session, OperationCategory, category, "operation category")
    _one_of(result, OPERATION_RESULTS, "result")
    if key is not None and _exists(session, ContactOperation, key):
        return None
    operation = ContactOperation(
        contact_id=contact.id, key=key, category=category, result=result,
        reference=reference, detail=mask_secrets(detail), at=as_utc(at),
    )
    return operation if _insert(session, operation) else None


def rate_contact(session: Session, contact: Contact, csat: int) -> Contact:
    """The customer's satisfaction score (1 to 5), given after the contact ended too."""
    if not (isinstance(csat, int) and 1 <= csat <= 5):
        raise ContactError("csat must be an integer from 1 to 5")
    contact.csat = csat
    session.flush()
    return contact


def set_agent(session: Session, contact: Contact, agent_id: str | None) -> Contact:
    """An agent took the contact over (None: handed back to the bot)."""
    contact.agent_id = agent_id or contact.agent_id
    contact.status = "with_agent" if agent_id else "open"
    session.flush()
    return contact


def set_authentication(session: Session, contact: Contact, *, method: str, result: str) -> Contact:
    contact.auth_method, contact.auth_result = method, result
    session.flush()
    return contact


def expect_secret(session: Session, contact: Contact, expected: bool = True) -> None:
    """The bot asked for a code or password: mask the customer's next message whatever it says."""
    contact.expects_secret = expected
    session.flush()


# --- Whether a channel identity can be written to ---

def set_reachability(
    session: Session, channel: str, external_id: str, state: str | None, *, reason: str = "",
    at: datetime | float | None = None,
) -> ChannelIdentity:
    """Record that nothing may be sent to this identity (``opted_out``, ``undeliverable``) or,
    with None, that it can be written to again. Repeating the same state changes nothing."""
    if state is not None:
        _one_of(state, REACHABILITY, "reachability")
    identity = channel_identity(session, channel, external_id)
    if identity.reachability != state:
        identity.reachability = state
        identity.reachability_reason = (reason[:64] or None) if state else None
        identity.reachability_since = as_utc(at) if state else None
        session.flush()
    return identity


def find_identity(session: Session, channel: str, external_id: str) -> ChannelIdentity | None:
    """The identity if it exists (never creates one: for readers such as a sender's check)."""
    return session.scalars(select(ChannelIdentity).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)).first()


def reachability_note(identity: ChannelIdentity | None) -> str | None:
    """What an agent should know about an identity that cannot be written to (None: it can)."""
    if identity is None or identity.reachability is None:
        return None
    since = f"{identity.reachability_since:%d %b %Y %H:%M} UTC"
    reason = identity.reachability_reason or "no reason given"
    if identity.reachability == "opted_out":
        return (f"Opted out of messages ({reason}) since {since}: nothing is sent to this "
                "number until they text START.")
    return f"Messages cannot be delivered ({reason}) since {since}."


# --- The seed's operations: reading ---

@dataclass(frozen=True)
class ContactFilter:
    customer_msisdn: str | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    agent_id: str | None = None
    sender_id: str | None = None


@dataclass
class Page:
    items: list[Contact]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return (self.total + self.page_size - 1) // self.page_size


MAX_PAGE_SIZE = 500


def query_contacts(
    session: Session, filters: ContactFilter = ContactFilter(), *, page: int = 1,
    page_size: int = 50,
) -> Page:
    """Contacts matching the filters, newest first, one page at a time (pages count from 1)."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ContactError(f"page must be >= 1 and page_size 1..{MAX_PAGE_SIZE}")
    if filters.status is not None:
        _one_of(filters.status, CONTACT_STATUSES, "status")
    if filters.channel is not None and session.get(Channel, filters.channel) is None:
        channels = tuple(session.scalars(select(Channel.code).order_by(Channel.code)))
        _one_of(filters.channel, channels, "channel")  # a typo is an error, not "no contacts"
    conditions = _conditions(session, filters)
    if conditions is None:
        return Page([], 0, page, page_size)
    total = session.scalar(select(func.count()).select_from(Contact).where(*conditions))
    items = session.scalars(
        select(Contact).where(*conditions)
        .order_by(Contact.started_at.desc(), Contact.id.desc())
        .offset((page - 1) * page_size).limit(page_size)
    ).all()
    return Page(list(items), total or 0, page, page_size)


def contact_configuration(session: Session) -> dict[str, list[dict[str, str]]]:
    """Channels, interaction modes, operation categories and disposition codes, as configured."""
    tables = {"channels": Channel, "interaction_modes": InteractionMode,
              "operation_categories": OperationCategory, "disposition_codes": DispositionCode}
    return {
        name: [{"code": row.code, "name": row.name, "description": row.description}
               for row in session.scalars(select(model).order_by(model.code))]
        for name, model in tables.items()
    }


@dataclass
class ContactSummary:
    contact: Contact
    topic: str | None  # the first intent that says why the customer got in touch


@dataclass
class History:
    """Someone's contacts over a period: newest first, with counts by channel over the period."""

    since: datetime
    contacts: list[ContactSummary]
    counts_by_channel: dict[str, int] = field(default_factory=dict)
    customer: Customer | None = None

    @property
    def total(self) -> int:
        return sum(self.counts_by_channel.values())


def recent_contacts(
    session: Session, msisdn: str, *, months: int = 2, limit: int = 20,
    now: datetime | None = None,
) -> History:
    """A customer's contacts in the last ``months`` months (the seed's "two months" query)."""
    customer = find_customer(session, msisdn)
    if customer is None:
        raise ContactNotFound(f"no customer with msisdn {msisdn}")
    since = as_utc(now) - relativedelta(months=months)
    history = _history(session, Contact.customer_id == customer.id, since, limit)
    history.customer = customer
    return history


def identity_contacts(
    session: Session, channel: str, external_id: str, *, months: int = 2, limit: int = 20,
    now: datetime | None = None,
) -> History:
    """The same query for one channel identity (someone not yet verified as a customer)."""
    identity = channel_identity(session, channel, external_id)
    since = as_utc(now) - relativedelta(months=months)
    condition = (Contact.customer_id == identity.customer_id if identity.customer_id
                 else Contact.identity_id == identity.id)
    return _history(session, condition, since, limit)


@dataclass
class ContactDetail:
    contact: Contact
    touches: list[ContactTouch]
    operations: list[ContactOperation]


def contact_detail(session: Session, reference: str) -> ContactDetail:
    """A contact with its touches and operations, each in the order they happened."""
    contact = find_contact(session, reference)
    touches = session.scalars(
        select(ContactTouch).where(ContactTouch.contact_id == contact.id).order_by(ContactTouch.id)
    ).all()
    operations = session.scalars(
        select(ContactOperation).where(ContactOperation.contact_id == contact.id)
        .order_by(ContactOperation.id)
    ).all()
    return ContactDetail(contact, list(touches), list(operations))


def find_contact(session: Session, reference: str) -> Contact:
    contact = session.scalars(select(Contact).where(Contact.reference == reference)).first()
    if contact is None:
        raise ContactNotFound(f"no contact with reference {reference}")
    return contact


def latest_contact(session: Session, sender_id: str) -> Contact | None:
    """The newest contact of a conversation, open or not."""
    return session.scalars(
        select(Contact).where(Contact.sender_id == sender_id)
        .order_by(Contact.started_at.desc(), Contact.id.desc()).limit(1)
    ).first()


def conversation_touches(
    session: Session, sender_id: str, after: datetime | float, until: datetime | float,
) -> list[ContactTouch]:
    """A conversation's touches strictly between ``after`` and ``until``, in order, whichever
    contacts they belong to (e.g. what was said with an agent while Rasa's tracker was
    paused)."""
    return list(session.scalars(
        select(ContactTouch).join(Contact, Contact.id == ContactTouch.contact_id)
        .where(Contact.sender_id == sender_id, ContactTouch.at > as_utc(after),
               ContactTouch.at < as_utc(until))
        .order_by(ContactTouch.at, ContactTouch.id)))


def stale_contacts(session: Session, idle_since: datetime, limit: int = 500) -> list[Contact]:
    """Open contacts whose last touch is older than ``idle_since``."""
    return list(session.scalars(
        select(Contact).where(Contact.status.in_(OPEN_STATUSES), Contact.last_touch_at < idle_since)
        .order_by(Contact.last_touch_at).limit(limit)
    ))


# --- Helpers ---

def _history(session: Session, who: Any, since: datetime, limit: int) -> History:
    in_period = (who, Contact.started_at >= since)
    counts = dict(session.execute(
        select(Contact.channel, func.count()).where(*in_period).group_by(Contact.channel)
    ).all())
    contacts = session.scalars(
        select(Contact).where(*in_period)
        .order_by(Contact.started_at.desc(), Contact.id.desc()).limit(limit)
    ).all()
    topics = _topics(session, [c.id for c in contacts])
    return History(since, [ContactSummary(c, topics.get(c.id)) for c in contacts], counts)


def _topics(session: Session, contact_ids: list[int]) -> dict[int, str]:
    if not contact_ids:
        return {}
    first_meaningful = (
        select(func.min(ContactTouch.id))
        .where(ContactTouch.contact_id.in_(contact_ids), ContactTouch.direction == "in",
               ContactTouch.intent.is_not(None),
               ContactTouch.intent.not_in(SMALL_TALK_INTENTS))
        .group_by(ContactTouch.contact_id)
    )
    rows = session.execute(
        select(ContactTouch.contact_id, ContactTouch.intent)
        .where(ContactTouch.id.in_(first_meaningful))
    ).all()
    return dict(rows)


def _conditions(session: Session, filters: ContactFilter) -> list[Any] | None:
    """SQL conditions for the filters; None when they can match nothing (unknown customer)."""
    conditions: list[Any] = []
    if filters.customer_msisdn is not None:
        customer = find_customer(session, filters.customer_msisdn)
        if customer is None:
            return None
        conditions.append(Contact.customer_id == customer.id)
    for column, value in ((Contact.channel, filters.channel), (Contact.status, filters.status),
                          (Contact.agent_id, filters.agent_id),
                          (Contact.sender_id, filters.sender_id)):
        if value is not None:
            conditions.append(column == value)
    if filters.since is not None:
        conditions.append(Contact.started_at >= as_utc(filters.since))
    if filters.until is not None:
        conditions.append(Contact.started_at < as_utc(filters.until))
    return conditions


def _require(session: Session, model: type, code: str, what: str) -> None:
    if session.get(model, code) is None:
        known = ", ".join(session.scalars(select(model.code).order_by(model.code)))
        raise ContactError(f"unknown {what} {code!r}; configured: {known}")


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ContactError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")


def _exists(session: Session, model: type, key: str) -> bool:
    return session.scalar(select(model.id).where(model.key == key)) is not None


def _insert(session: Session, row: Any) -> bool:
    """Insert in a savepoint; False when a unique key says it is already there (a retry)."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def _insert_with_unique_reference(session: Session, contact: Contact, started: datetime) -> None:
    for _ in range(5):
        contact.reference = new_reference(started)
        if _insert(session, contact):  # a failed savepoint leaves the contact pending again
            return
    raise ContactError("could not allocate a unique contact reference")


def new_reference(started: datetime) -> str:
    """A contact reference people can read out: CT, the start date, six random characters."""
    suffix = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
    return f"CT{started:%y%m%d}-{suffix}"
