"""The contact recorder: turns the conversation event stream into contacts, touches and endings.

Rules (the product's definition of a contact):
- A customer message joins the conversation's open contact, or begins a new one when there is
  none or the open one was idle longer than the inactivity timeout (which completes it).
- A bot reply joins the conversation's latest contact (also one just completed by a goodbye);
  a bot message with no recent contact begins an outbound contact.
- ``goodbye`` and ``restart`` complete the contact; so does inactivity, found by ``sweep``.
- When the bot asks for a one-time code or password, the next customer message is masked whole.
- A channel identity that opted out (carrier STOP) or that the provider refuses says so on the
  identity (``reachability`` events), until it can be written to again.

Events are applied one by one, each in its own transaction, and acknowledged after commit.
Every write is idempotent (touch keys), so an event delivered twice is recorded once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from contacts import events, service
from contacts.models import Channel, Contact
from contacts.partitions import Leases
from switchboard import metrics
from switchboard.db import Database
from switchboard.log import get_logger

log = get_logger(__name__)

ENDING_INTENTS = {"goodbye": "customer_goodbye", "restart": "restarted"}
KEY_LENGTH = 160  # ContactTouch.key
MAX_ATTEMPTS = 5  # an event failing this often goes to the dead-letter stream


@dataclass
class _Batch:
    """One transaction's worth of events: caches what the events of the batch share."""

    session: Session
    recorded_keys: set[str]  # touch keys already in the database, looked up once per batch
    latest: dict[str, Contact | None] = field(default_factory=dict)

    def latest_contact(self, sender: str) -> Contact | None:
        if sender not in self.latest:
            self.latest[sender] = service.latest_contact(self.session, sender)
        return self.latest[sender]


@dataclass
class ContactRecorder:
    """Applies conversation events to the contact records."""

    db: Database
    timeout: timedelta

    def apply(self, event: Mapping[str, Any], event_id: str) -> None:
        """Record one Rasa event (``event_id``: its stream id, the key for bot replies)."""
        self.apply_batch([(event_id, event)])

    def apply_batch(self, batch: list[tuple[str, Mapping[str, Any]]]) -> None:
        """Record events in order, in one transaction (all or nothing)."""
        keys = [_touch_key(event, event_id) for event_id, event in batch]
        with self.db.transaction() as session:
            unit = _Batch(session, service.recorded_touch_keys(session, [k for k in keys if k]))
            for (event_id, event), key in zip(batch, keys, strict=True):
                self._apply(unit, event, event_id, key)

    def sweep(self, now: datetime | None = None) -> int:
        """Complete contacts idle past the timeout; returns how many."""
        idle_since = service.as_utc(now) - self.timeout
        with self.db.transaction() as session:
            stale = service.stale_contacts(session, idle_since)
            for contact in stale:
                service.complete_contact(session, contact, disposition="inactivity_timeout",
                                         at=contact.last_touch_at)
        return len(stale)

    def _apply(self, unit: _Batch, event: Mapping[str, Any], event_id: str,
               key: str | None) -> None:
        kind = event.get("event")
        sender = str(event.get("sender_id") or "")
        if not sender:
            return
        if key is not None:
            if key in unit.recorded_keys:
                return  # delivered before: recorded once
            unit.recorded_keys.add(key)
        if kind == "user":
            self._customer_message(unit, sender, event, key)
        elif kind == "bot":
            self._bot_message(unit, sender, event, key)
        elif kind == "agent":
            self._agent_message(unit, sender, event, key)
        elif kind == "undelivered":  # a reply the channel could not deliver
            self._undelivered(unit, sender, event, key)
        elif kind == "close":  # an agent closed the contact with a disposition code
            self._end(unit, sender, str(event.get("disposition") or "agent_closed"),
                      event.get("timestamp"))
        elif kind == "handback":  # the agent returned the conversation to the bot
            contact = unit.latest_contact(sender)
            if contact is not None and contact.status == "with_agent":
                service.set_agent(unit.session, contact, None)
        elif kind == "csat":  # the customer's rating, after an agent closed the chat
            contact = unit.latest_contact(sender)
            if contact is not None:
                service.rate_contact(unit.session, contact, int(event.get("score") or 0))
        elif kind == "note":  # an agent's internal note: on the record, never sent
            contact = unit.latest_contact(sender)
            if contact is not None:
                service.record_operation(unit.session, contact, category="agent_note",
                                         result="success", detail=str(event.get("text") or ""),
                                         at=event.get("timestamp"), key=f"op:{event_id}")
        elif kind == "reachability":  # opted out (carrier STOP), undeliverable, or back again
            service.set_reachability(
                unit.session, _channel(unit.session, event.get("channel")), sender,
                event.get("state"), reason=str(event.get("reason") or ""),
                at=event.get("timestamp"))
        elif kind == "restart":
            self._end(unit, sender, "restarted", event.get("timestamp"))
        elif kind == "slot" and event.get("name") == events.CONTACT_RECORD_SLOT:
            self._action_record(unit, sender, event, event_id)
        elif kind == "slot":
            self._secret_expected(unit, sender, event.get("value"))

    def _customer_message(
        self, unit: _Batch, sender: str, event: Mapping[str, Any], key: str | None
    ) -> None:
        at = service.as_utc(event.get("timestamp"))
        contact = self._open_contact(unit, sender, at)
        if contact is None:
            contact = service.begin_contact(
                unit.session, channel=_channel(unit.session, event.get("input_channel")),
                external_id=sender, sender_id=sender, at=at,
            )
            unit.latest[sender] = contact
        parse_data = event.get("parse_data") or {}
        intent, confidence = _intent(parse_data)
        service.touch_contact(
            unit.session, contact, direction="in", author="customer",
            text=event.get("text") or "", at=at, intent=intent, confidence=confidence, key=key,
            entities=parse_data.get("entities") or (), key_is_new=True,
        )
        if intent in ENDING_INTENTS:
            service.complete_contact(unit.session, contact, disposition=ENDING_INTENTS[intent],
                                     at=at)

    def _bot_message(
        self, unit: _Batch, sender: str, event: Mapping[str, Any], key: str | None
    ) -> None:
        at = service.as_utc(event.get("timestamp"))
        latest = unit.latest_contact(sender)
        contact = latest
        if latest is not None and at - latest.last_touch_at > self.timeout:
            self._expire(unit, latest)
            contact = None
        if contact is None:  # we speak first: an outbound contact on the last channel we know
            channel = latest.channel if latest is not None else "other"
            contact = service.begin_contact(unit.session, channel=channel, external_id=sender,
                                            sender_id=sender, at=at, interaction_mode="outbound")
            unit.latest[sender] = contact
        service.touch_contact(unit.session, contact, direction="out", author="bot",
                              text=_bot_text(event), at=at, key=key, key_is_new=True)

    def _agent_message(
        self, unit: _Batch, sender: str, event: Mapping[str, Any], key: str | None
    ) -> None:
        """An agent's reply from the console: an agent touch, and the contact is theirs."""
        contact = unit.latest_contact(sender)
        if contact is None:
            return
        if event.get("agent"):
            service.set_agent(unit.session, contact, str(event["agent"]))
        service.touch_contact(unit.session, contact, direction="out", author="agent",
                              text=str(event.get("text") or ""),
                              at=service.as_utc(event.get("timestamp")), key=key, key_is_new=True)

    def _undelivered(
        self, unit: _Batch, sender: str, event: Mapping[str, Any], key: str | None
    ) -> None:
        """A reply that never reached the customer (contacts/delivery.py): a system touch with
        the text and its delivery state, on the contact the reply belongs to."""
        contact = unit.latest_contact(sender)
        if contact is None:  # Rasa streams a turn after sending its replies: this failed reply
            # can come before the first customer message of its conversation, which joins it.
            contact = service.begin_contact(
                unit.session, channel=_channel(unit.session, event.get("channel")),
                external_id=sender, sender_id=sender, at=event.get("timestamp"))
            unit.latest[sender] = contact
        state = "final" if event.get("permanent") else "gave up retrying"
        text = (f"Not delivered ({event.get('channel')} error {event.get('code')}, {state}): "
                f"{event.get('text') or ''}")
        service.touch_contact(unit.session, contact, direction="out", author="system", text=text,
                              at=service.as_utc(event.get("timestamp")), key=key,
                              key_is_new=True)

    def _open_contact(self, unit: _Batch, sender: str, at: datetime) -> Contact | None:
        contact = unit.latest_contact(sender)
        if contact is None or not contact.is_open:
            return None
        if at - contact.last_touch_at > self.timeout:
            self._expire(unit, contact)
            return None
        return contact

    def _expire(self, unit: _Batch, contact: Contact) -> None:
        service.complete_contact(unit.session, contact, disposition="inactivity_timeout",
                                 at=contact.last_touch_at)

    def _end(self, unit: _Batch, sender: str, disposition: str, timestamp: Any) -> None:
        contact = unit.latest_contact(sender)
        if contact is not None and contact.is_open:
            service.complete_contact(unit.session, contact, disposition=disposition,
                                     at=service.as_utc(timestamp))

    def _action_record(
        self, unit: _Batch, sender: str, event: Mapping[str, Any], event_id: str
    ) -> None:
        record = event.get("value")
        contact = unit.latest_contact(sender)
        if not isinstance(record, Mapping) or contact is None:
            return  # the slot was reset (None) or nothing to attach to
        if record.get("kind") == "operation":
            self._ownership(unit, contact, record)
            service.record_operation(
                unit.session, contact, category=str(record.get("category")),
                result=str(record.get("result")), reference=record.get("reference"),
                detail=str(record.get("detail") or ""), at=event.get("timestamp"),
                key=f"op:{event_id}",
            )
        elif record.get("kind") == "authentication":
            self._authentication(unit, contact, record)

    def _ownership(self, unit: _Batch, contact: Contact, record: Mapping[str, Any]) -> None:
        """The record mirrors who holds the conversation: an agent's pickup makes the contact
        theirs (``with_agent``), a release makes it the bot's again (or queued)."""
        if not contact.is_open:
            return
        if record.get("category") == "agent_pickup" and record.get("agent"):
            service.set_agent(unit.session, contact, str(record["agent"]))
        elif record.get("category") == "agent_release":
            service.set_agent(unit.session, contact, None)

    def _authentication(self, unit: _Batch, contact: Contact, record: Mapping[str, Any]) -> None:
        """How the customer proved who they are; verified links them to their history."""
        result = str(record.get("result"))
        service.set_authentication(unit.session, contact, method=str(record.get("method")),
                                   result=result)
        msisdn = record.get("msisdn")
        if result != "verified" or not msisdn:
            return
        profile = record.get("customer") or {}
        customer = service.upsert_customer(
            unit.session, str(msisdn), name=str(profile.get("name") or ""),
            plan=profile.get("plan"), status=str(profile.get("status") or "active"))
        service.link_identity(unit.session, contact.channel, contact.identity.external_id,
                              customer)
        unit.session.refresh(contact)  # link_identity set customer_id in SQL

    def _secret_expected(self, unit: _Batch, sender: str, slot_value: Any) -> None:
        contact = unit.latest_contact(sender)
        if contact is not None and contact.is_open:
            service.expect_secret(unit.session, contact, slot_value in events.SECRET_SLOTS)


def _touch_key(event: Mapping[str, Any], event_id: str) -> str | None:
    """The idempotency key of the touch an event makes: the channel's message id for customer
    messages (a redelivered message carries it again), the stream entry id for bot replies."""
    kind = event.get("event")
    if kind == "user":
        return _bounded(f"in:{event.get('sender_id')}:{event.get('message_id')}")
    if kind in ("bot", "agent", "undelivered"):
        return _bounded(f"out:{event_id}")
    return None


def _bounded(key: str) -> str:
    """A key that fits its column (160): a conversation id and a client's message id may be
    128 characters each, so a longer key is replaced by its SHA-256 (same key, same digest)."""
    if len(key) <= KEY_LENGTH:
        return key
    return f"{key.split(':', 1)[0]}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _intent(parse_data: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """The customer's intent; for the retrieval intent ``faq`` its full key (``faq/roaming``)."""
    intent = parse_data.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence")
    selector = (parse_data.get("response_selector") or {}).get(name or "", {})
    full_key = (selector.get("response") or {}).get("intent_response_key")
    return (full_key or name), (float(confidence) if confidence is not None else None)


def _channel(session: Session, input_channel: str | None) -> str:
    """The configured channel code for Rasa's input channel name (unknown ones are ``other``)."""
    if input_channel and session.get(Channel, input_channel) is not None:
        return input_channel
    return "other"


def _bot_text(event: Mapping[str, Any]) -> str:
    """What the customer saw: the text plus button titles, so transcripts read as the chat did."""
    text = event.get("text") or ""
    buttons = ((event.get("data") or {}).get("buttons")) or []
    titles = [str(b.get("title")) for b in buttons if isinstance(b, Mapping) and b.get("title")]
    if titles:
        text = f"{text}\n" + " | ".join(f"[{t}]" for t in titles)
    return text.strip()


Entry = tuple[str, str, Any]  # (stream, entry id, fields)


@dataclass
class StreamConsumer:
    """Reads the contact event streams this recorder holds a lease on (``contacts.partitions``)
    and applies them. One holder per stream at a time, so each conversation's events stay in
    order however many recorders run; every holder reads as the same consumer of a stream's
    group (``consumer``), so a new holder inherits what a dead one read but never recorded."""

    recorder: ContactRecorder
    client: redis.Redis
    consumer: str = "recorder"
    batch: int = 200
    gather_seconds: float = 0.05
    sweep_every: float = 30.0
    lease_seconds: float = 15.0
    stop: threading.Event = field(default_factory=threading.Event)
    _failures: dict[tuple[str, str], int] = field(default_factory=dict)
    last_success: float = field(default_factory=time.time)
    leases: Leases = field(init=False)

    def __post_init__(self) -> None:
        self.leases = Leases(self.client, lease_seconds=self.lease_seconds)

    def run(self) -> None:
        """Consume until ``stop`` is set; survives Redis and database outages by retrying."""
        last_sweep = last_refresh = 0.0
        backlog: set[str] = set()  # streams whose pending entries are re-read first
        while not self.stop.is_set():
            try:
                if time.monotonic() - last_refresh > self.lease_seconds / 3:
                    backlog = self._rebalance(backlog)
                    last_refresh = time.monotonic()
                if not self.leases.held:
                    self.stop.wait(self.lease_seconds / 3)
                    continue
                entries = self._read(backlog)
                if backlog and not entries:
                    backlog = set()
                    continue
                if not entries and time.monotonic() - last_sweep > self.sweep_every:
                    last_sweep = time.monotonic()  # sweep only when caught up with the stream
                    self._sweep()
                if not self._apply_all(entries):
                    backlog = set(self.leases.held)
            except redis.RedisError as exc:
                log.warning("contact_recorder.redis_unavailable", error=type(exc).__name__)
                self.stop.wait(1.0)
            except Exception as exc:  # the database is down: retry, keep the events pending
                log.error("contact_recorder.failed", error=type(exc).__name__)
                self.stop.wait(1.0)
        self._leave()

    def lag(self) -> int:
        """Events appended but not yet recorded, every stream (for /health and tests)."""
        return events.unrecorded(self.client)

    def _rebalance(self, backlog: set[str]) -> set[str]:
        taken = self.leases.refresh()
        for stream in taken:
            self._ensure_group(stream)
            log.info("contact_recorder.took_stream", stream=stream, recorder=self.leases.owner)
        return (backlog | set(taken)) & set(self.leases.held)

    def _sweep(self) -> None:
        """Contacts past their timeout are ended by one recorder: the first stream's holder."""
        if self.leases.holds(events.streams()[0]):
            swept = self.recorder.sweep()
            if swept:
                log.info("contacts.timed_out", count=swept)

    def _leave(self) -> None:
        with contextlib.suppress(redis.RedisError):  # else the leases lapse by themselves
            self.leases.release_all()

    def _ensure_group(self, stream: str) -> None:
        try:
            self.client.xgroup_create(stream, events.GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self, backlog: set[str]) -> list[Entry]:
        if backlog:
            return self._xread({s: "0" for s in backlog}, self.batch, block=None)
        fresh = {s: ">" for s in self.leases.held}
        entries = self._xread(fresh, self.batch, block=1000)
        if entries and len(entries) < self.batch and self.gather_seconds:
            # A busy stream trickles in: wait a moment for more, so one transaction records
            # many events (the cost is per transaction far more than per event).
            self.stop.wait(self.gather_seconds)
            entries += self._xread(fresh, self.batch - len(entries), block=None)
        return entries

    def _xread(self, streams: dict[str, str], count: int, block: int | None) -> list[Entry]:
        response = self.client.xreadgroup(events.GROUP, self.consumer, streams, count=count,
                                          block=block)
        return [(stream, entry_id, fields)
                for stream, entries in response or [] for entry_id, fields in entries]

    def _apply_all(self, entries: list[Entry]) -> bool:
        """Apply a read batch in one transaction; if it fails, one event at a time, in order,
        stopping at the first failure so later events never overtake it. False if one failed."""
        batch: list[tuple[str, str, Any]] = []
        for stream, entry_id, fields in entries:
            try:
                batch.append((stream, entry_id, json.loads(fields["event"])))
            except (KeyError, ValueError, TypeError) as exc:  # also: deleted, no fields left
                self._dead_letter(stream, entry_id, fields, type(exc).__name__)
        if not batch:
            return True
        try:
            self.recorder.apply_batch([(_event_key(s, i), event) for s, i, event in batch])
        except OperationalError as exc:
            return self._database_unavailable(exc)
        except Exception:  # find the event that fails, record the others
            return all(self._apply_one(*entry) for entry in batch)
        self._done_all([(stream, entry_id) for stream, entry_id, _ in batch])
        metrics.RECORDER_EVENTS.labels("recorded").inc(len(batch))
        return True

    def _apply_one(self, stream: str, entry_id: str, event: Any) -> bool:
        try:
            self.recorder.apply(event, _event_key(stream, entry_id))
        except OperationalError as exc:
            return self._database_unavailable(exc)
        except (ValueError, TypeError, AttributeError) as exc:  # an event we cannot record
            self._dead_letter(stream, entry_id, {"event": json.dumps(event)}, type(exc).__name__)
            return True
        except Exception as exc:
            attempts = self._failures.get((stream, entry_id), 0) + 1
            self._failures[(stream, entry_id)] = attempts
            log.error("contact_event.failed", attempt=attempts, error=type(exc).__name__,
                      entry=entry_id)
            if attempts >= MAX_ATTEMPTS:
                self._dead_letter(stream, entry_id, {"event": json.dumps(event)},
                                  type(exc).__name__)
                return True
            self.stop.wait(min(0.2 * 2 ** attempts, 5.0))
            return False
        self._done(stream, entry_id)
        metrics.RECORDER_EVENTS.labels("recorded").inc()
        return True

    def _database_unavailable(self, exc: Exception) -> bool:
        """The database is unreachable: wait and retry the same events, never give up on them."""
        log.error("contact_recorder.database_unavailable", error=type(exc).__name__)
        self.stop.wait(1.0)
        return False

    def _done(self, stream: str, *entry_ids: str) -> None:
        self._done_all([(stream, entry_id) for entry_id in entry_ids])

    def _done_all(self, entries: list[tuple[str, str]]) -> None:
        """Acknowledge and remove recorded entries: one round trip for a whole batch."""
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id in entries:
            self._failures.pop((stream, entry_id), None)
            by_stream.setdefault(stream, []).append(entry_id)
        pipe = self.client.pipeline()
        for stream, ids in by_stream.items():
            pipe.xack(stream, events.GROUP, *ids)
            pipe.xdel(stream, *ids)
        pipe.execute()
        self.last_success = time.time()

    def _dead_letter(self, stream: str, entry_id: str, fields: dict[str, str] | None,
                     error: str) -> None:
        log.error("contact_event.dead_lettered", entry=entry_id, error=error)
        metrics.RECORDER_EVENTS.labels("dead_lettered").inc()
        self.client.xadd(events.DEAD_LETTERS, {**(fields or {}), "error": error,
                                               "entry": entry_id, "stream": stream})
        self._done(stream, entry_id)


def _event_key(stream: str, entry_id: str) -> str:
    """An entry's id, unique across streams (ids repeat between streams): the idempotency key
    of the bot reply it records. The stream from before partitions keeps its plain ids."""
    return entry_id if stream == events.STREAM else f"{stream.rsplit(':', 1)[1]}/{entry_id}"
