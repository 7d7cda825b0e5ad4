"""Retention: contact records whose last message is older than ``CONTACT_RETENTION_DAYS`` are
anonymised by a sweep the queue's clock runs at most hourly (``run_if_due``: a Redis lease, so
several console processes sweep once). ``contacts.erasure`` anonymises one customer's contacts
the same way, at once.

What anonymised means, table by table. Reports (operations/reports.py) read only what stays, so
a period's report counts the same before and after, except what customers typed that the NLU
did not understand (``top_fallback_texts``): that text is gone.

- ``contact``: stays with its reference, channel, times, status, handler, agent, authentication
  method and result, interaction mode, disposition and CSAT. Its customer link goes; its
  conversation id and channel identity become a pseudonym, one per person per batch, random
  (nothing derived from who they were, no mapping kept), so one person's contacts of the same
  batch still count as one person. Its begin key (a caller's request id) goes.
- ``contact_touch``: the text is emptied and the idempotency key (it holds the conversation id)
  goes; direction, author, intent, confidence and time stay.
- ``contact_operation``: category, result, time and key (a stream entry id) stay; the detail
  stays only for the categories whose detail reports read and the system writes (handoff
  reasons, pickups and releases), other details (agents' notes, back-end messages) are emptied;
  so does the reference: a complaint number or a plan chosen leads back to the customer and
  goes, a queue's skill on a handoff or pickup (the service targets it is judged by) stays.
- ``channel_identity``: an identity left without contacts is deleted (who someone is on a
  channel, and which customer they were, goes with their last contact).
- ``customer``: a customer left without contacts and identities is deleted.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import redis
from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from contacts.models import ChannelIdentity, Contact, ContactOperation, ContactTouch, Customer
from contacts.service import as_utc, utcnow
from switchboard.db import Database, database
from switchboard.log import get_logger
from switchboard.redis_client import redis_client
from switchboard.settings import Settings

log = get_logger(__name__)

PSEUDONYM_PREFIX = "anonymised:"  # conversation ids and identities of anonymised contacts
PSEUDONYM_CHANNEL = "other"  # a pseudonym stands for a person, whichever channels they used
FINAL_STATUSES = ("completed", "abandoned")  # open ones are first completed by the recorder
# Operation details reports read (handoff reasons, "agent: why"), written by the system only.
KEPT_DETAILS = ("handoff_requested", "agent_pickup", "agent_release", "callback_request")
LEASE_KEY = "switchboard:retention:lease"
INTERVAL_SECONDS = 3600  # the lease's life: one sweep an hour across every console process
# Everything last touched before this moment is anonymised already: without it each sweep walks
# past every contact anonymised before. It lapses daily, so a database restored from a backup
# (older than the mark) is walked whole again within a day; correctness never depends on it.
WATERMARK_KEY = "switchboard:retention:done_until"
WATERMARK_SECONDS = 86400
BATCH = 500  # contacts per transaction (and under SQLite's 999 bound parameters)
MAX_BATCHES = 20  # per sweep: a backlog (the first sweep of an old database) spreads over hours


@dataclass
class Anonymised:
    """How many rows an anonymisation changed or removed."""

    contacts: int = 0
    touches: int = 0  # messages whose text was emptied
    identities: int = 0  # channel identities deleted
    customers: int = 0  # customer records deleted

    def __iadd__(self, other: Anonymised) -> Anonymised:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))
        return self


def anonymise_contacts(session: Session, contact_ids: Sequence[int]) -> Anonymised:
    """Anonymise these contacts (at most ``BATCH``) as the module docstring says; then delete
    their former identities and customers if nothing refers to them any more."""
    rows = session.execute(select(Contact.id, Contact.customer_id, Contact.identity_id)
                           .where(Contact.id.in_(contact_ids))).all()
    if not rows:
        return Anonymised()
    people: dict[tuple[str, int], list[int]] = {}
    for contact_id, customer_id, identity_id in rows:
        person = ("customer", customer_id) if customer_id else ("identity", identity_id)
        people.setdefault(person, []).append(contact_id)
    for ids in people.values():
        _repoint(session, ids, _pseudonymous_identity(session))
    ids = [row.id for row in rows]
    touches = _scrub_touches_and_operations(session, ids)
    identities, customers = forget_unused(session, {r.identity_id for r in rows},
                                         {r.customer_id for r in rows if r.customer_id})
    return Anonymised(len(ids), touches, identities, customers)


def forget_unused(session: Session, identity_ids: Iterable[int],
                  customer_ids: Iterable[int]) -> tuple[int, int]:
    """Delete those of these identities no contact refers to, then those of these customers
    (and of the deleted identities' customers) no contact or identity refers to. Returns how
    many identities and customers went."""
    identity_ids = list(identity_ids)
    customer_ids = set(customer_ids) | set(session.scalars(
        select(ChannelIdentity.customer_id).where(ChannelIdentity.id.in_(identity_ids),
                                                  ChannelIdentity.customer_id.is_not(None))))
    identities = session.execute(
        delete(ChannelIdentity).where(ChannelIdentity.id.in_(identity_ids),
                                      ~exists().where(Contact.identity_id == ChannelIdentity.id))
        .execution_options(synchronize_session=False)).rowcount
    customers = session.execute(
        delete(Customer).where(Customer.id.in_(customer_ids),
                               ~exists().where(Contact.customer_id == Customer.id),
                               ~exists().where(ChannelIdentity.customer_id == Customer.id))
        .execution_options(synchronize_session=False)).rowcount
    return identities, customers


def sweep(db: Database, client: redis.Redis, retention_days: float,
          now: datetime | float | None = None, max_batches: int = MAX_BATCHES) -> Anonymised:
    """Anonymise contacts last touched more than ``retention_days`` days before ``now``
    (default: the current time), ``BATCH`` per transaction, at most ``max_batches`` batches.
    Raises what the database or Redis raise (the next sweep starts again where this stopped)."""
    cutoff = as_utc(now) - timedelta(days=retention_days)
    since = _watermark(client)
    total = Anonymised()
    for _ in range(max_batches):
        with db.transaction() as session:
            batch = _expired(session, cutoff, since)
            total += anonymise_contacts(session, [contact_id for contact_id, _ in batch])
        if len(batch) < BATCH:
            since = cutoff  # nothing older is left
            break
        since = batch[-1][1]  # equal times of the next batch are found again, not redone
    if since is not None:
        _set_watermark(client, since)
    if total.contacts:
        log.info("retention.anonymised", contacts=total.contacts, touches=total.touches,
                 identities=total.identities, customers=total.customers)
    return total


def run_if_due(settings: Settings, now: datetime | float | None = None) -> Anonymised | None:
    """The hourly sweep, if no process (this one included) took the lease in the last hour;
    None when not due. For the queue's clock (``handoff.worker``)."""
    client = redis_client(settings)
    holder = f"{socket.gethostname()}:{secrets.token_hex(4)}"
    if not client.set(LEASE_KEY, holder, nx=True, ex=INTERVAL_SECONDS):
        return None
    return sweep(database(settings), client, settings.contact_retention_days, now)


# --- Helpers ---

def _expired(session: Session, cutoff: datetime,
             since: datetime | None) -> list[tuple[int, datetime]]:
    """The next batch of (id, last touch) of contacts to anonymise, oldest first."""
    query = (select(Contact.id, Contact.last_touch_at)
             .where(Contact.status.in_(FINAL_STATUSES), Contact.last_touch_at < cutoff,
                    Contact.sender_id.not_like(PSEUDONYM_PREFIX + "%"))
             .order_by(Contact.last_touch_at, Contact.id).limit(BATCH))
    if since is not None:
        query = query.where(Contact.last_touch_at >= since)
    return [(row.id, row.last_touch_at) for row in session.execute(query)]


def _watermark(client: redis.Redis) -> datetime | None:
    raw = client.get(WATERMARK_KEY)
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None  # unreadable: walk from the start once


def _set_watermark(client: redis.Redis, done_until: datetime) -> None:
    """Move the mark, keeping the lapse the first mark of the day was given."""
    left = client.ttl(WATERMARK_KEY)
    client.set(WATERMARK_KEY, done_until.isoformat(),
               ex=left if left > 0 else WATERMARK_SECONDS)


def _pseudonymous_identity(session: Session) -> ChannelIdentity:
    identity = ChannelIdentity(channel=PSEUDONYM_CHANNEL,
                               external_id=PSEUDONYM_PREFIX + secrets.token_hex(16),
                               created_at=utcnow())
    session.add(identity)
    session.flush()
    return identity


def _repoint(session: Session, contact_ids: list[int], identity: ChannelIdentity) -> None:
    session.execute(
        update(Contact).where(Contact.id.in_(contact_ids))
        .values(customer_id=None, identity_id=identity.id, sender_id=identity.external_id,
                begin_key=None)
        .execution_options(synchronize_session=False))


def _scrub_touches_and_operations(session: Session, contact_ids: list[int]) -> int:
    """Empty the contacts' texts and operation details; returns how many touches."""
    touches = session.execute(
        update(ContactTouch).where(ContactTouch.contact_id.in_(contact_ids))
        .values(text="", key=None).execution_options(synchronize_session=False)).rowcount
    session.execute(
        update(ContactOperation).where(ContactOperation.contact_id.in_(contact_ids),
                                       ContactOperation.category.not_in(KEPT_DETAILS))
        .values(detail="", reference=None).execution_options(synchronize_session=False))
    return touches
