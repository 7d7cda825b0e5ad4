"""Rasa trackers in Redis at a flat cost per turn: an append-only event log per conversation.

Rasa 3.6's ``RedisTrackerStore`` keeps a conversation as one JSON value and, on every turn,
reads it whole, deserialises every session, merges and rewrites it: turn 600 costs ~16x turn 20
(the tracker is 2.6 MB by then). Here a conversation is a Redis list of events, one JSON each:

- a turn appends only its new events (``RPUSH``), masked first (``contacts.masking``): a typed
  code or password, a secret slot value and a PUK the bot gave never reach Redis, its AOF file
  or the tracker API in clear; the contact event stream gets the same masked events;
- a retrieve loads only the current session (its first event's index is kept beside the list);
- a session longer than ``CHECKPOINT_EVENTS`` gets a checkpoint: the state (slots, active form,
  pause) as it was ``KEEP_EVENTS`` back, at the start of a turn, is stored as a few events, and
  retrieves load the checkpoint plus the events after it. The policies (rules, memoization with
  a history of 4) look at the last few turns only; the list itself keeps the whole history.

So a turn reads and writes a bounded number of events however long the conversation is.
Both keys expire ``record_exp`` seconds after the last save (``TRACKER_TTL_DAYS``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from contacts.events import SECRET_SLOTS
from contacts.masking import mask_tracker_events
from switchboard.redis_client import refuse_connection_settings
from switchboard.services import installed
from verification.idle import VERIFIED_SLOT, verification_current, verified_idle_limit

T = TypeVar("T")
# A retrieve reads between KEEP_EVENTS and CHECKPOINT_EVENTS events: about as many as the 20th
# turn of a conversation holds, so turn 600 costs what turn 20 does (bench/turn_cost.py).
CHECKPOINT_EVENTS = 72  # events since the session start or the last checkpoint (~12 turns)
KEEP_EVENTS = 36  # events kept after a new checkpoint (~6 turns: more than any policy reads)
# Whether a verification still holds is judged from the events since it (a goodbye, a silence
# past the timeout), which a checkpoint drops: so it is carried across only if it still holds
# at the checkpoint, and a lapsed verification never comes back (SECURITY.md).
VERIFICATION_SLOTS = frozenset({VERIFIED_SLOT, "verification_method_used"})


class EventLogTrackerStore(RedisTrackerStore):
    """Rasa's tracker store interface over an append-only Redis list per conversation.

    Its Redis is the process's (the ``Services`` its root installed: REDIS_URL or the sentinels'
    primary), so ``endpoints.yml`` names no server. Raises ValueError if it tries to.
    """

    def __init__(self, domain: Any, host: str | None = None, event_broker: Any = None,
                 record_exp: str | float | None = None, key_prefix: str | None = None,
                 **connection: Any) -> None:
        refuse_connection_settings(host, connection)
        super().__init__(domain, event_broker=event_broker, record_exp=record_exp,
                         key_prefix=key_prefix)
        self.services = installed()  # Rasa builds the store: the root's Services
        self.red = self.services.redis

    def _meta_key(self, sender_id: str) -> str:
        return self.key_prefix.removesuffix("tracker:") + "tracker_meta:" + sender_id

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session (from its checkpoint, if it has one)."""
        key = self.key_prefix + sender_id
        snapshot, first = _window(self.red.hgetall(self._meta_key(sender_id)))
        stored = self._upgraded(key, sender_id, lambda: self.red.lrange(key, first, -1))
        if not stored:
            return None
        return self._tracker(sender_id, [*snapshot, *map(json.loads, stored)])

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        """Every session, every event (masked), as stored."""
        key = self.key_prefix + sender_id
        stored = self._upgraded(key, sender_id, lambda: self.red.lrange(key, 0, -1))
        return self._tracker(sender_id, list(map(json.loads, stored))) if stored else None

    async def save(self, tracker: DialogueStateTracker, timeout: float | None = None) -> None:
        """Append the events this turn added; stream them (masked) to the event broker."""
        key, meta_key = self.key_prefix + tracker.sender_id, self._meta_key(tracker.sender_id)
        def read() -> list[Any]:
            with self.red.pipeline(transaction=False) as pipe:
                return pipe.hgetall(meta_key).llen(key).execute()

        meta, length = self._upgraded(key, tracker.sender_id, read)
        snapshot, first = _window(meta)
        loaded = len(snapshot) + max(length - first, 0) if length else 0
        new = list(itertools.islice(tracker.events, loaded, None))
        ttl = timeout or self.record_exp
        if new:
            bodies = self._masked(new, tracker.sender_id, meta.get("asked"))
            if self.event_broker is not None:
                for body in bodies:
                    self.event_broker.publish(body)
            self.red.rpush(key, *(json.dumps(_stored(b)) for b in bodies))
            self._update_meta(tracker, meta, length, new)
        if ttl:
            with self.red.pipeline(transaction=False) as pipe:
                pipe.expire(key, int(float(ttl))).expire(meta_key, int(float(ttl))).execute()

    async def keys(self) -> Iterable[str]:
        return [k.removeprefix(self.key_prefix)
                for k in self.red.scan_iter(self.key_prefix + "*", count=1000)]

    def _tracker(self, sender_id: str, events: list[dict[str, Any]]) -> DialogueStateTracker:
        tracker = self.init_tracker(sender_id)
        tracker.recreate_from_dialogue(Dialogue.from_parameters(
            {"name": sender_id, "events": events}))
        return tracker

    @staticmethod
    def _masked(new: list[Event], sender_id: str, asked: str | None) -> list[dict[str, Any]]:
        """The new events as dicts, masked; ``asked`` is the slot the bot was asking for before
        them (a secret one masks the customer's answer)."""
        bodies = [{"event": "slot", "name": "requested_slot", "value": asked},
                  *({"sender_id": sender_id, **event.as_dict()} for event in new)]
        mask_tracker_events(bodies, SECRET_SLOTS)
        return bodies[1:]

    def _update_meta(self, tracker: DialogueStateTracker, meta: dict[str, str], length: int,
                     new: list[Event]) -> None:
        """Where the session starts, what the bot is asking for, and a new checkpoint when the
        session since the last one grew past ``CHECKPOINT_EVENTS``."""
        updates: dict[str, str] = {}
        meta_key = self._meta_key(tracker.sender_id)
        for offset, event in enumerate(new):
            if event.type_name == "session_started":
                updates["start"] = str(length + offset)
                self.red.hdel(meta_key, "checkpoint", "checkpoint_at")
                meta = {k: v for k, v in meta.items() if not k.startswith("checkpoint")}
            if event.type_name == "slot" and event.key == "requested_slot":
                updates["asked"] = str(event.value or "")
        total = length + len(new)
        since = int(meta.get("checkpoint_at", updates.get("start", meta.get("start", 0))))
        if total - since > CHECKPOINT_EVENTS:
            updates.update(self._checkpoint(tracker, total))
        if updates:
            self.red.hset(meta_key, mapping=updates)

    def _checkpoint(self, tracker: DialogueStateTracker, total: int) -> dict[str, str]:
        """The state at the start of the turn about ``KEEP_EVENTS`` back, as a few events, and
        the list index it applies from."""
        events = list(tracker.events)
        position = max(len(events) - KEEP_EVENTS, 1)
        while position > 1 and not isinstance(events[position], UserUttered):
            position -= 1  # a turn's start: the policies see whole turns after it
        before = DialogueStateTracker.from_events(tracker.sender_id, events[:position],
                                                  slots=self.domain.slots)
        stamp = events[position - 1].timestamp
        verified = verification_current(
            (e.as_dict() for e in events[:position]),
            verified_idle_limit(self.services.settings, tracker.sender_id))
        state: list[Event] = [SlotSet(name, value, timestamp=stamp)
                              for name, value in before.current_slot_values().items()
                              if value is not None
                              and (verified or name not in VERIFICATION_SLOTS)]
        if before.active_loop_name:
            state.append(ActiveLoop(before.active_loop_name, timestamp=stamp))
        if before.is_paused():
            state.append(ConversationPaused(timestamp=stamp))
        # A turn to start from, as a session start gives: without it a window of rule-predicted
        # form turns leaves the memoization policy no state (IndexError in Rasa).
        state.insert(0, ActionExecuted(ACTION_LISTEN_NAME, timestamp=stamp))
        bodies = [e.as_dict() for e in state]
        mask_tracker_events(bodies, SECRET_SLOTS)
        return {"checkpoint": json.dumps(bodies),
                "checkpoint_at": str(total - (len(events) - position))}

    def _upgraded(self, key: str, sender_id: str, read: Callable[[], T]) -> T:
        """``read()``; a tracker an earlier version stored as one JSON value answers WRONGTYPE:
        it becomes an event list once, then ``read()`` again (no extra round trip per turn)."""
        try:
            return read()
        except redis.ResponseError as exc:
            if not str(exc).startswith("WRONGTYPE"):
                raise
        self._upgrade(key, sender_id)
        return read()

    def _upgrade(self, key: str, sender_id: str) -> None:
        if self.red.type(key) != "string":
            return
        stored = self.red.get(key)
        events = json.loads(stored).get("events", []) if stored else []
        ttl = self.red.ttl(key)
        self.red.delete(key)
        if events:
            bodies = [{"sender_id": sender_id, **e} for e in events]
            mask_tracker_events(bodies, SECRET_SLOTS)
            self.red.rpush(key, *(json.dumps(_stored(b)) for b in bodies))
            if ttl > 0:
                self.red.expire(key, ttl)


def _window(meta: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """The checkpoint's events and the list index the stored events are read from."""
    start = int(meta.get("start", 0))
    if "checkpoint_at" in meta and int(meta["checkpoint_at"]) >= start:
        return json.loads(meta["checkpoint"]), int(meta["checkpoint_at"])
    return [], start


def _stored(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "sender_id"}
