"""Rasa's Redis tracker store, saving with one read instead of two.

Rasa 3.6's ``RedisTrackerStore.save`` reads and deserialises the stored tracker twice per
message: once to find the new events for the event broker (``stream_events``), once to merge
with earlier conversation sessions. This subclass reads it once and does both with the same
copy; what is streamed is the same as Rasa's. What is stored is masked first
(``contacts.masking.mask_tracker_events``): a code or password the customer typed, a secret slot
value and a PUK the bot gave never reach Redis (or its AOF file, or the tracker API) in clear.
The running turn still works on the unmasked tracker in memory.
"""

from __future__ import annotations

import json

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import (
    DialogueStateTracker,
    TrackerEventDiffEngine,
    get_trackers_for_conversation_sessions,
)

from contacts.events import SECRET_SLOTS
from contacts.masking import mask_tracker_events


class SingleReadRedisTrackerStore(RedisTrackerStore):
    @staticmethod
    def serialise_tracker(tracker: DialogueStateTracker) -> str:
        dialogue = tracker.as_dialogue().as_dict()
        mask_tracker_events(dialogue["events"], SECRET_SLOTS)
        return json.dumps(dialogue)

    async def save(self, tracker: DialogueStateTracker, timeout: float | None = None) -> None:
        key = self.key_prefix + tracker.sender_id
        stored = self.red.get(key)
        prior = self.deserialise_tracker(tracker.sender_id, stored) if stored else None
        if self.event_broker is not None:
            last = _last_session(prior)
            new_events = TrackerEventDiffEngine.event_difference(last, tracker)
            asked = last.get_slot("requested_slot") if last is not None else None
            self._stream_masked(new_events, tracker.sender_id, asked)
        if prior is not None:
            tracker = self._merge_trackers(prior, tracker)
        self.red.set(key, self.serialise_tracker(tracker), ex=timeout or self.record_exp)


    def _stream_masked(self, new_events: list[Event], sender_id: str, asked: str | None) -> None:
        """Rasa's ``_stream_new_events``, masked the same way as the stored tracker: the contact
        event stream lives in Redis (and its AOF file) until the recorder has written it.
        ``asked``: the slot the bot was asking for before these events (a secret one masks the
        customer's answer)."""
        bodies = [{"event": "slot", "name": "requested_slot", "value": asked},
                  *({"sender_id": sender_id, **event.as_dict()} for event in new_events)]
        mask_tracker_events(bodies, SECRET_SLOTS)
        for body in bodies[1:]:
            self.event_broker.publish(body)


def _last_session(tracker: DialogueStateTracker | None) -> DialogueStateTracker | None:
    """What ``retrieve`` returns: the latest conversation session of a stored tracker."""
    if tracker is None:
        return None
    sessions = get_trackers_for_conversation_sessions(tracker)
    return sessions[-1] if len(sessions) > 1 else tracker
