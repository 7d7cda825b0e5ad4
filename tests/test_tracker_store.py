"""The event-log tracker store (bot/tracker_store.py) on a real Redis: a long conversation is
retrieved in the state a full replay gives, from a bounded number of events; nothing secret is
stored; a tracker an earlier version stored whole is upgraded in place."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

import switchboard.services
from bot.tracker_store import CHECKPOINT_EVENTS, KEEP_EVENTS, EventLogTrackerStore
from switchboard.services import Services, install
from switchboard.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain"))


@pytest.fixture
def store(redis_settings, domain, monkeypatch) -> EventLogTrackerStore:
    monkeypatch.setattr(switchboard.services, "_installed", None)  # uninstalled after the test
    install(Services(redis_settings))  # as the Rasa server's root does: Rasa builds the store
    return EventLogTrackerStore(domain, key_prefix="switchboard", record_exp="3600")


def test_endpoints_cannot_name_a_redis_server_the_store_would_ignore(domain):
    with pytest.raises(ValueError, match="REDIS_SENTINELS"):
        EventLogTrackerStore(domain, host="cache.internal", key_prefix="switchboard")
    with pytest.raises(ValueError, match="port"):
        EventLogTrackerStore(domain, port=6380, key_prefix="switchboard")


def turn(n: int, stamp: float) -> list:
    return [UserUttered(f"message {n}", {"name": "greet", "confidence": 0.9}, timestamp=stamp),
            ActionExecuted("utter_greet", timestamp=stamp + 0.1),
            BotUttered(f"answer {n}", timestamp=stamp + 0.2),
            ActionExecuted("action_listen", timestamp=stamp + 0.3)]


def converse(store: EventLogTrackerStore, domain: Domain, sender: str, turns: int,
             extra: dict[int, list] | None = None) -> tuple[DialogueStateTracker, list[int]]:
    """``turns`` turns, each retrieved, extended and saved as Rasa does; returns the final
    tracker and how many events each retrieve loaded."""
    loaded, start = [], 1_000_000.0

    async def run() -> DialogueStateTracker:
        tracker = None
        for n in range(turns):
            tracker = await store.retrieve(sender)
            if tracker is None:
                tracker = DialogueStateTracker.from_events(
                    sender, [ActionExecuted("action_session_start", timestamp=start),
                             SessionStarted(timestamp=start),
                             ActionExecuted("action_listen", timestamp=start)], domain.slots)
            loaded.append(len(tracker.events))
            for event in [*turn(n, start + n), *(extra or {}).get(n, [])]:
                tracker.update(event, domain)
            await store.save(tracker)
        return tracker

    return asyncio.run(run()), loaded


def test_a_long_conversation_is_retrieved_with_its_state_from_a_bounded_window(store, domain):
    sender = f"rest:long-{uuid.uuid4().hex[:8]}"
    extra = {3: [SlotSet("requested_service", "check_balance", timestamp=1_000_003.5),
                 SlotSet("verified_msisdn", "447700900001.1.ab", timestamp=1_000_003.6)],
             150: [ActiveLoop("verification_form", timestamp=1_000_150.5),
                   SlotSet("requested_slot", "phone_number", timestamp=1_000_150.6)]}
    final, loaded = converse(store, domain, sender, 300, extra)
    assert max(loaded) <= CHECKPOINT_EVENTS + 2 * KEEP_EVENTS  # flat, not 1,200 events
    again = asyncio.run(store.retrieve(sender))
    # Still current at every checkpoint (no goodbye, no silence): carried across.
    assert again.current_slot_values() == final.current_slot_values()
    assert again.get_slot("verified_msisdn") == "447700900001.1.ab"
    assert again.active_loop_name == "verification_form"
    assert again.latest_message.text == "message 299"
    full = asyncio.run(store.retrieve_full_tracker(sender))
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == [
        f"message {n}" for n in range(300)]


def test_a_verification_ended_by_a_goodbye_is_not_carried_across_a_checkpoint(store, domain):
    """Verified, then "bye", then small talk past a checkpoint: the checkpoint drops the goodbye,
    so it must drop the verification too (a lapsed one coming back gave a PUK away)."""
    sender = f"rest:lapsed-{uuid.uuid4().hex[:8]}"
    bye = UserUttered("bye", {"name": "goodbye", "confidence": 0.99}, timestamp=1_000_005.5)
    extra = {3: [SlotSet("verified_msisdn", "447700900001.1.ab", timestamp=1_000_003.6)],
             5: [bye, ActionExecuted("utter_goodbye", timestamp=1_000_005.6),
                 ActionExecuted("action_listen", timestamp=1_000_005.7)]}
    converse(store, domain, sender, 60, extra)
    again = asyncio.run(store.retrieve(sender))
    assert again.get_slot("verified_msisdn") is None


def test_a_new_session_starts_the_window_afresh(store, domain):
    sender = f"rest:session-{uuid.uuid4().hex[:8]}"
    converse(store, domain, sender, 5)

    async def new_session() -> DialogueStateTracker:
        tracker = await store.retrieve(sender)
        for event in [ActionExecuted("action_session_start", timestamp=2_000_000),
                      SessionStarted(timestamp=2_000_000),
                      ActionExecuted("action_listen", timestamp=2_000_000),
                      *turn(99, 2_000_001)]:
            tracker.update(event, domain)
        await store.save(tracker)
        return await store.retrieve(sender)

    latest = asyncio.run(new_session())
    assert [e.text for e in latest.events if isinstance(e, UserUttered)] == ["message 99"]


def test_secrets_are_masked_in_the_log(store, domain):
    sender = f"rest:secret-{uuid.uuid4().hex[:8]}"
    extra = {1: [SlotSet("requested_slot", "service_password", timestamp=1_000_001.5)],
             2: [SlotSet("service_password", "message 2", timestamp=1_000_002.5),
                 SlotSet("requested_slot", None, timestamp=1_000_002.6)]}
    converse(store, domain, sender, 4, extra)
    stored = " ".join(store.red.lrange(store.key_prefix + sender, 0, -1))
    assert "message 2" not in stored and "[redacted]" in stored
    assert "message 3" in stored  # the answer after the secret one is kept


def test_a_tracker_stored_whole_by_an_earlier_version_is_upgraded(store, domain):
    sender = f"rest:old-{uuid.uuid4().hex[:8]}"
    old = DialogueStateTracker.from_events(sender, turn(0, 1_000_000.0), domain.slots)
    store.red.set(store.key_prefix + sender, json.dumps(old.as_dialogue().as_dict()))
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker.latest_message.text == "message 0"
    assert store.red.type(store.key_prefix + sender) == "list"
