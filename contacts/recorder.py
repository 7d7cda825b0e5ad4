"""The contact recorder: turns the conversation event stream into contacts, touches and endings.

Rules (the product's definition of a contact):
- A customer message joins the conversation's open contact, or begins a new one when there is
  none or the open one was idle longer than the inactivity timeout (which completes it).
- A bot reply joins the conversation's latest contact (also one just completed by a goodbye);
  a bot message with no recent contact begins an outbound contact.
- ``goodbye`` and ``restart`` complete the contact; so does inactivity, found by ``sweep``.
- When the bot asks for a one-time code or password, the next customer message is masked whole.

Events are applied one by one, each in its own transaction, and acknowledged after commit.
Every write is idempotent (touch keys), so an event delivered twice is recorded once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy.orm import Session

from contacts import events, service
from contacts.models import Channel, Contact
from switchboard.db import Database
from switchboard.log import get_logger

log = get_logger(__name__)

ENDING_INTENTS = {"goodbye": "customer_goodbye", "restart": "restarted"}
MAX_ATTEMPTS = 5  # an event failing this often goes to the dead-letter stream


@dataclass
class ContactRecorder:
    """Applies conversation events to the contact records."""

    db: Database
    timeout: timedelta

    def apply(self, event: Mapping[str, Any], event_id: str) -> None:
        """Record one Rasa event (``event_id``: its stream id, the key for bot replies)."""
        kind = event.get("event")
        sender = str(event.get("sender_id") or "")
        if not sender:
            return
        with self.db.transaction() as session:
            if kind == "user":
                self._customer_message(session, sender, event)
            elif kind == "bot":
                self._bot_message(session, sender, event, event_id)
            elif kind == "restart":
                self._end(session, sender, "restarted", event.get("timestamp"))
            elif kind == "slot":
                self._secret_expected(session, sender, event.get("value"))

    def sweep(self, now: datetime | None = None) -> int:
        """Complete contacts idle past the timeout; returns how many."""
        idle_since = service.as_utc(now) - self.timeout
        with self.db.transaction() as session:
            stale = service.stale_contacts(session, idle_since)
            for contact in stale:
                service.complete_contact(session, contact, disposition="inactivity_timeout",
                                         at=contact.last_touch_at)
        return len(stale)

    def _customer_message(self, session: Session, sender: str, event: Mapping[str, Any]) -> None:
        at = service.as_utc(event.get("timestamp"))
        key = f"in:{sender}:{event.get('message_id')}"
        if service.touch_recorded(session, key):
            return
        contact = self._open_contact(session, sender, at)
        if contact is None:
            contact = service.begin_contact(
                session, channel=_channel(session, event.get("input_channel")),
                external_id=sender, sender_id=sender, at=at,
            )
        intent, confidence = _intent(event.get("parse_data") or {})
        service.touch_contact(
            session, contact, direction="in", author="customer", text=event.get("text") or "",
            at=at, intent=intent, confidence=confidence, key=key,
            entities=(event.get("parse_data") or {}).get("entities") or (),
        )
        if intent in ENDING_INTENTS:
            service.complete_contact(session, contact, disposition=ENDING_INTENTS[intent], at=at)

    def _bot_message(
        self, session: Session, sender: str, event: Mapping[str, Any], event_id: str
    ) -> None:
        at = service.as_utc(event.get("timestamp"))
        latest = service.latest_contact(session, sender)
        contact = latest
        if latest is not None and at - latest.last_touch_at > self.timeout:
            self._expire(session, latest)
            contact = None
        if contact is None:  # we speak first: an outbound contact on the last channel we know
            channel = latest.channel if latest is not None else "other"
            contact = service.begin_contact(session, channel=channel, external_id=sender,
                                            sender_id=sender, at=at, interaction_mode="outbound")
        service.touch_contact(session, contact, direction="out", author="bot",
                              text=_bot_text(event), at=at, key=f"out:{event_id}")

    def _open_contact(self, session: Session, sender: str, at: datetime) -> Contact | None:
        contact = service.latest_contact(session, sender)
        if contact is None or not contact.is_open:
            return None
        if at - contact.last_touch_at > self.timeout:
            self._expire(session, contact)
            return None
        return contact

    def _expire(self, session: Session, contact: Contact) -> None:
        service.complete_contact(session, contact, disposition="inactivity_timeout",
                                 at=contact.last_touch_at)

    def _end(self, session: Session, sender: str, disposition: str, timestamp: Any) -> None:
        contact = service.latest_contact(session, sender)
        if contact is not None and contact.is_open:
            service.complete_contact(session, contact, disposition=disposition,
                                     at=service.as_utc(timestamp))

    def _secret_expected(self, session: Session, sender: str, slot_value: Any) -> None:
        contact = service.latest_contact(session, sender)
        if contact is not None and contact.is_open:
            service.expect_secret(session, contact, slot_value in events.SECRET_SLOTS)


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


@dataclass
class StreamConsumer:
    """Reads the contact event stream and applies it; one consumer, so events stay in order."""

    recorder: ContactRecorder
    client: redis.Redis
    consumer: str = "recorder"
    batch: int = 200
    sweep_every: float = 30.0
    stop: threading.Event = field(default_factory=threading.Event)
    _failures: dict[str, int] = field(default_factory=dict)
    last_success: float = field(default_factory=time.time)

    def run(self) -> None:
        """Consume until ``stop`` is set; survives Redis and database outages by retrying."""
        last_sweep = 0.0
        backlog = True  # first re-read what this consumer had read but not acknowledged
        while not self.stop.is_set():
            try:
                self._ensure_group()
                entries = self._read(pending=backlog)
                if backlog and not entries:
                    backlog = False
                    continue
                if not entries and time.monotonic() - last_sweep > self.sweep_every:
                    last_sweep = time.monotonic()  # sweep only when caught up with the stream
                    swept = self.recorder.sweep()
                    if swept:
                        log.info("contacts.timed_out", count=swept)
                backlog = not self._apply_all(entries) or backlog
            except redis.RedisError as exc:
                log.warning("contact_recorder.redis_unavailable", error=type(exc).__name__)
                self.stop.wait(1.0)
            except Exception as exc:  # the database is down: retry, keep the events pending
                log.error("contact_recorder.failed", error=type(exc).__name__)
                self.stop.wait(1.0)

    def lag(self) -> int:
        """Events appended but not yet recorded (for /health and tests)."""
        groups = {g["name"]: g for g in self.client.xinfo_groups(events.STREAM)}
        info = groups.get(events.GROUP)
        if info is None:
            return int(self.client.xlen(events.STREAM))
        pending = int(info.get("pending") or 0)
        lag = info.get("lag")
        return pending + (int(lag) if lag is not None else 0)

    def _ensure_group(self) -> None:
        try:
            self.client.xgroup_create(events.STREAM, events.GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self, pending: bool) -> list[tuple[str, dict[str, str]]]:
        response = self.client.xreadgroup(
            events.GROUP, self.consumer, {events.STREAM: "0" if pending else ">"},
            count=self.batch, block=None if pending else 1000,
        )
        return [entry for _stream, entries in response or [] for entry in entries]

    def _apply_all(self, entries: list[tuple[str, dict[str, str]]]) -> bool:
        """Apply in order; stop at the first failure (to keep order). False if one failed."""
        for entry_id, fields in entries:
            if not fields:  # deleted before it was acknowledged: nothing left to record
                self._done(entry_id)
                continue
            try:
                event = json.loads(fields["event"])
                self.recorder.apply(event, entry_id)
            except (KeyError, ValueError, TypeError) as exc:
                self._dead_letter(entry_id, fields, type(exc).__name__)
                continue
            except Exception as exc:
                attempts = self._failures.get(entry_id, 0) + 1
                self._failures[entry_id] = attempts
                log.error("contact_event.failed", attempt=attempts, error=type(exc).__name__,
                          entry=entry_id)
                if attempts >= MAX_ATTEMPTS:
                    self._dead_letter(entry_id, fields, type(exc).__name__)
                    continue
                self.stop.wait(min(0.2 * 2 ** attempts, 5.0))
                return False
            self._done(entry_id)
        return True

    def _done(self, entry_id: str) -> None:
        self._failures.pop(entry_id, None)
        pipe = self.client.pipeline()
        pipe.xack(events.STREAM, events.GROUP, entry_id)
        pipe.xdel(events.STREAM, entry_id)
        pipe.execute()
        self.last_success = time.time()

    def _dead_letter(self, entry_id: str, fields: dict[str, str], error: str) -> None:
        log.error("contact_event.dead_lettered", entry=entry_id, error=error)
        self.client.xadd(events.DEAD_LETTERS, {**fields, "error": error, "entry": entry_id})
        self._done(entry_id)
