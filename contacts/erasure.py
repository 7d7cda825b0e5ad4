"""Erasure of one customer's data on request (``switchboard customers erase <number>``).

What goes, for a UK mobile number:
- the customer's contacts are anonymised as retention does (``contacts.retention``: texts
  emptied, identity and conversation id pseudonymised, customer link dropped; reports still
  count them), and so are the contacts of every identity linked to the customer and of the
  ``sms:``/``whatsapp:`` identities of the number even if never verified;
- those channel identities and the customer record are deleted;
- complaints filed for the number keep their reference, category, dates, status and amounts
  (the operator's complaint handling) but lose what the customer wrote: description, location,
  "since when", and the contact they were filed in;
- in Redis, everything kept for those conversations: Rasa's trackers and locks, queue records
  and ownership, the conversations' places in queues, agents' chat lists and inboxes, the
  handoff event stream, offered buttons, seen message ids, web chat sessions, contact events
  that failed recording; and for the number, its one-time code and failed-attempt counters;
- an ``erasure`` row records when, a random reference and the counts: never the number.

The operator's account of the line (``accounts``: plan, bills, PUK) is not the helpdesk's to
erase. Redis is asked to rewrite its append-only file so the erased values leave the disk too.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from sqlalchemy import false, or_, select, update
from sqlalchemy.orm import Session

from accounts.models import Complaint
from contacts import events, retention
from contacts.models import ChannelIdentity, Contact, Customer, Erasure
from contacts.service import find_customer, utcnow
from switchboard.db import Database
from switchboard.log import get_logger
from verification import attempts, codes

log = get_logger(__name__)

NUMBER_CHANNELS = ("sms", "whatsapp")  # channels whose conversation id is the number itself
RECORDER_PATIENCE = 15.0  # seconds to wait for in-flight contact events to be recorded
SCAN_COUNT = 1000
# Keys shared by conversations (queues, hashes, agents' chat sets, event streams, inboxes):
# their members or entries about the erased conversations go. The live contact event stream is
# the recorder's: erasure waits for it to be recorded instead of editing it under the recorder.
SHARED_PREFIXES = ("switchboard:handoff:", "switchboard:console:", events.DEAD_LETTERS)


class ErasureError(ValueError):
    """An erasure that cannot be done (the message says why, for the operator)."""


@dataclass
class Subject:
    """What is kept about one number, found before anything is erased."""

    msisdn: str
    customer_id: int | None
    identity_ids: list[int]
    contact_ids: list[int]
    conversations: set[str]  # Rasa conversation ids (the trackers' and the queue's keys)
    complaints: int

    @property
    def found_anything(self) -> bool:
        return bool(self.customer_id or self.identity_ids or self.contact_ids or self.complaints)


@dataclass
class Outcome:
    """What an erasure did (the ``erasure`` row's counts), and anything the operator should
    know about it (``notes``)."""

    reference: str
    rows: retention.Anonymised = field(default_factory=retention.Anonymised)
    complaints: int = 0
    redis_records: int = 0
    notes: list[str] = field(default_factory=list)

    def record(self) -> Erasure:
        return Erasure(reference=self.reference, at=utcnow(), contacts=self.rows.contacts,
                       touches=self.rows.touches, identities=self.rows.identities,
                       customers=self.rows.customers, complaints=self.complaints,
                       redis_records=self.redis_records)


def parse_number(text: str) -> str:
    """447700900001 from "07700 900001", "+447700900001" or "447700900001".

    Raises ErasureError if the text is not a UK mobile number."""
    # The assistant's own rule for numbers; imported here, not at the top, because the action
    # package brings the action server's libraries to every `switchboard` command otherwise.
    from actions.verification import normalise_msisdn

    msisdn = normalise_msisdn(text)
    if msisdn is None:
        raise ErasureError(f"{text!r} is not a UK mobile number (07700 900001, +447700900001)")
    return msisdn


def find_subject(db: Database, msisdn: str) -> Subject:
    """Everything the database keeps about this number (``msisdn``: 447700900001)."""
    with db.reading() as session:
        customer = find_customer(session, msisdn)
        customer_id = customer.id if customer else None
        identities = _identities(session, msisdn, customer_id)
        contacts = session.execute(select(Contact.id, Contact.sender_id).where(or_(
            Contact.customer_id == customer_id if customer_id else false(),
            Contact.identity_id.in_([i.id for i in identities])))).all()
        complaints = len(session.scalars(select(Complaint.id).where(
            Complaint.msisdn == msisdn)).all())
    conversations = {c.sender_id for c in contacts} | {i.external_id for i in identities}
    conversations |= {f"{channel}:{msisdn}" for channel in NUMBER_CHANNELS}
    return Subject(msisdn, customer_id, [i.id for i in identities], [c.id for c in contacts],
                   conversations, complaints)


def erase(db: Database, client: redis.Redis, subject: Subject) -> Outcome:
    """Erase what ``find_subject`` found, Redis first (a failure there leaves the database,
    which names the conversations, for a retry), then the database in one transaction.

    Raises ErasureError when the contact recorder has events it has not recorded (they could
    bring erased text back): start the helpdesk or wait, then retry."""
    if not events.wait_recorded(client, RECORDER_PATIENCE):
        raise ErasureError("the contact recorder has not caught up with its events; make sure "
                           "the helpdesk is running and try again")
    outcome = Outcome(reference=f"ER{utcnow():%y%m%d}-{secrets.token_hex(3).upper()}")
    outcome.redis_records = forget_in_redis(client, subject.conversations, subject.msisdn)
    with db.transaction() as session:
        _erase_rows(session, subject, outcome)
        session.add(outcome.record())
    _rewrite_append_only_file(client, outcome)
    log.info("customer.erased", erasure=outcome.reference, contacts=outcome.rows.contacts,
             identities=outcome.rows.identities, complaints=outcome.complaints,
             redis_records=outcome.redis_records)
    return outcome


def forget_in_redis(client: redis.Redis, conversations: Iterable[str], msisdn: str) -> int:
    """Delete every key of these conversations and this number, and remove them from shared
    hashes, sets, sorted sets and streams; returns how many records went."""
    conversations = {c for c in conversations if c}
    removed = client.delete(codes._key(msisdn), attempts._failures_key(msisdn),
                            attempts._lock_key(msisdn))
    shared = []
    for key in client.scan_iter(match="switchboard:*", count=SCAN_COUNT):
        if _names_one_of(key, conversations):
            removed += client.delete(key)
        elif key.startswith(SHARED_PREFIXES):
            shared.append(key)
    for key in shared:
        removed += _remove_members(client, key, conversations)
    return removed


# --- Database ---

def _identities(session: Session, msisdn: str, customer_id: int | None) -> list[ChannelIdentity]:
    """The customer's identities, and the number's own on SMS and WhatsApp, linked or not."""
    own = [f"{channel}:{msisdn}" for channel in NUMBER_CHANNELS] + [msisdn, f"+{msisdn}"]
    return list(session.scalars(select(ChannelIdentity).where(or_(
        ChannelIdentity.customer_id == customer_id if customer_id else false(),
        ChannelIdentity.channel.in_(NUMBER_CHANNELS) & ChannelIdentity.external_id.in_(own)))))


def _erase_rows(session: Session, subject: Subject, outcome: Outcome) -> None:
    ids = subject.contact_ids
    for start in range(0, len(ids), retention.BATCH):
        outcome.rows += retention.anonymise_contacts(session, ids[start:start + retention.BATCH])
    # Identities without contacts, and the customer, are not reached through contacts.
    identities, customers = retention.forget_unused(
        session, subject.identity_ids, [subject.customer_id] if subject.customer_id else [])
    outcome.rows += retention.Anonymised(identities=identities, customers=customers)
    if subject.customer_id and session.get(Customer, subject.customer_id) is not None:
        outcome.notes.append("the customer record is still referred to and was kept")
    outcome.complaints = session.execute(
        update(Complaint).where(Complaint.msisdn == subject.msisdn)
        .values(description="", location=None, since=None, contact_reference=None)
        .execution_options(synchronize_session=False)).rowcount


# --- Redis ---

def _names_one_of(key: str, conversations: set[str]) -> bool:
    """Whether a key belongs to one of these conversations: its last segments are the id
    (``switchboard:tracker:sms:4477...``) or the id is a segment run inside it
    (``switchboard:seen:rest:rest:alice:msg-1``)."""
    return any(key.endswith(f":{c}") or f":{c}:" in key for c in conversations)


def _remove_members(client: redis.Redis, key: str, conversations: set[str]) -> int:
    kind = client.type(key)
    members = sorted(conversations)
    if kind == "hash":
        return client.hdel(key, *members)
    if kind == "zset":
        return client.zrem(key, *members)
    if kind == "set":
        return client.srem(key, *members)
    if kind == "stream":
        return _remove_entries(client, key, conversations)
    return 0


def _remove_entries(client: redis.Redis, key: str, conversations: set[str]) -> int:
    """Delete the stream entries about these conversations (a field naming one, or a JSON
    field whose ``sender_id`` is one)."""
    doomed, start = [], "-"
    while batch := client.xrange(key, min=start, count=SCAN_COUNT):
        doomed += [entry_id for entry_id, fields in batch
                   if any(_mentions(value, conversations) for value in fields.values())]
        start = "(" + batch[-1][0]
    return client.xdel(key, *doomed) if doomed else 0


def _mentions(value: str, conversations: set[str]) -> bool:
    if value in conversations:
        return True
    if not value.startswith("{"):
        return False
    try:
        decoded = json.loads(value)
    except ValueError:
        return False
    return isinstance(decoded, dict) and decoded.get("sender_id") in conversations


def _rewrite_append_only_file(client: redis.Redis, outcome: Outcome) -> None:
    """Deleted keys stay in Redis's append-only file until it is rewritten: ask for that."""
    try:
        client.bgrewriteaof()
    except redis.RedisError:  # one is already running, or a managed Redis refuses it
        outcome.notes.append("Redis did not rewrite its append-only file now; erased values "
                             "leave its disk at its next rewrite")

