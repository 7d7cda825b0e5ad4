"""The recorder's rules, fed Rasa's own event dicts, and its stream consumer on a real Redis."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from rasa.shared.core.events import BotUttered, Restarted, SlotSet, UserUttered

from contacts import events, service
from contacts.recorder import MAX_ATTEMPTS, ContactRecorder, StreamConsumer
from contacts.service import ContactFilter
from switchboard.redis_client import redis_client

T0 = 1_790_000_000.0  # a Unix timestamp
TIMEOUT = timedelta(minutes=30)


def user(sender, text, at, message_id, intent="greet", confidence=0.9, entities=(), faq=None):
    parse = {"intent": {"name": intent, "confidence": confidence}, "entities": list(entities),
             "text": text}
    if faq:
        parse["response_selector"] = {"faq": {"response": {"intent_response_key": faq}}}
    event = UserUttered(text, parse_data=parse, timestamp=at, input_channel="rest",
                        message_id=message_id)
    return {"sender_id": sender, **event.as_dict()}


def bot(sender, text, at, buttons=None):
    event = BotUttered(text, data={"buttons": buttons} if buttons else {}, timestamp=at)
    return {"sender_id": sender, **event.as_dict()}


def slot(sender, name, value, at):
    return {"sender_id": sender, **SlotSet(name, value, timestamp=at).as_dict()}


def contacts_of(db, sender):
    with db.reading() as session:
        page = service.query_contacts(session, ContactFilter(sender_id=sender))
        return [service.contact_detail(session, c.reference) for c in reversed(page.items)]


@pytest.fixture
def recorder(db):
    return ContactRecorder(db, TIMEOUT)


def test_a_conversation_is_one_contact_with_every_turn_in_order(recorder, db):
    recorder.apply(user("s", "hello", T0, "m1"), "1-0")
    recorder.apply(bot("s", "Hi! What can I do?", T0 + 1, [{"title": "Plans", "payload": "/x"}]),
                   "2-0")
    recorder.apply(user("s", "roaming prices?", T0 + 5, "m2", intent="faq", faq="faq/roaming"),
                   "3-0")
    recorder.apply(bot("s", "Roam Like Home ...", T0 + 6), "4-0")
    recorder.apply(user("s", "bye", T0 + 9, "m3", intent="goodbye"), "5-0")
    recorder.apply(bot("s", "Goodbye!", T0 + 10), "6-0")
    [detail] = contacts_of(db, "s")
    assert [(t.author, t.text, t.intent) for t in detail.touches] == [
        ("customer", "hello", "greet"), ("bot", "Hi! What can I do?\n[Plans]", None),
        ("customer", "roaming prices?", "faq/roaming"), ("bot", "Roam Like Home ...", None),
        ("customer", "bye", "goodbye"), ("bot", "Goodbye!", None)]
    contact = detail.contact
    assert (contact.status, contact.disposition, contact.channel) == (
        "completed", "customer_goodbye", "rest")
    assert contact.ended_at == service.as_utc(T0 + 10)  # the goodbye reply belongs to it


def test_a_message_after_the_timeout_begins_a_second_contact(recorder, db):
    recorder.apply(user("s", "hi", T0, "m1"), "1-0")
    recorder.apply(bot("s", "Hello", T0 + 1), "2-0")
    later = T0 + 1 + TIMEOUT.total_seconds() + 1
    recorder.apply(user("s", "hi again", later, "m2"), "3-0")
    first, second = contacts_of(db, "s")
    assert (first.contact.status, first.contact.disposition) == ("completed",
                                                                  "inactivity_timeout")
    assert first.contact.ended_at == service.as_utc(T0 + 1)
    assert [t.text for t in second.touches] == ["hi again"] and second.contact.is_open


def test_a_message_after_goodbye_begins_a_new_contact(recorder, db):
    recorder.apply(user("s", "bye", T0, "m1", intent="goodbye"), "1-0")
    recorder.apply(user("s", "wait, one more thing", T0 + 20, "m2", intent="faq"), "2-0")
    assert len(contacts_of(db, "s")) == 2


def test_redelivered_events_are_recorded_once(recorder, db):
    for _ in range(2):
        recorder.apply(user("s", "hi", T0, "m1"), "1-0")
        recorder.apply(bot("s", "Hello", T0 + 1), "2-0")
    [detail] = contacts_of(db, "s")
    assert len(detail.touches) == 2


def test_restart_completes_the_contact(recorder, db):
    recorder.apply(user("s", "hi", T0, "m1"), "1-0")
    recorder.apply({"sender_id": "s", **Restarted(timestamp=T0 + 1).as_dict()}, "2-0")
    [detail] = contacts_of(db, "s")
    assert detail.contact.disposition == "restarted"


def test_the_answer_to_a_requested_secret_is_masked(recorder, db):
    recorder.apply(user("s", "check my balance", T0, "m1", intent="check_balance"), "1-0")
    recorder.apply(slot("s", "requested_slot", "otp_code", T0 + 1), "2-0")
    recorder.apply(bot("s", "Please type the code we sent you.", T0 + 1), "3-0")
    recorder.apply(user("s", "its nine one four four two two", T0 + 5, "m2", intent="inform"),
                   "4-0")
    recorder.apply(user("s", "and my number is 0712345678", T0 + 9, "m3", intent="inform"),
                   "5-0")
    [detail] = contacts_of(db, "s")
    texts = [t.text for t in detail.touches]
    assert "[redacted]" in texts and "nine one four" not in " ".join(texts)
    assert texts[-1] == "and my number is 0712345678"  # only the one reply that was asked for


def test_operations_from_actions_join_the_current_contact(recorder, db):
    recorder.apply(user("s", "my previous chats?", T0, "m1", intent="contact_history"), "1-0")
    record = {"kind": "operation", "category": "contact_history_query", "result": "success",
              "reference": None, "detail": "2 earlier contacts"}
    recorder.apply(slot("s", events.CONTACT_RECORD_SLOT, record, T0 + 1), "2-0")
    recorder.apply(slot("s", events.CONTACT_RECORD_SLOT, record, T0 + 1), "2-0")  # redelivered
    [detail] = contacts_of(db, "s")
    assert [(o.category, o.result) for o in detail.operations] == [
        ("contact_history_query", "success")]


def test_sweep_completes_idle_contacts_only(recorder, db):
    recorder.apply(user("idle", "hi", T0, "m1"), "1-0")
    recorder.apply(user("busy", "hi", T0 + 3600, "m2"), "2-0")
    assert recorder.sweep(now=service.as_utc(T0 + 1900)) == 1
    [idle], [busy] = contacts_of(db, "idle"), contacts_of(db, "busy")
    assert idle.contact.disposition == "inactivity_timeout" and busy.contact.is_open


def test_consumer_records_the_stream_and_survives_bad_entries(recorder, db, redis_settings):
    client = redis_client(redis_settings)
    client.delete(*events.streams(), events.DEAD_LETTERS)
    events.publish(client, user("c", "hello", T0, "m1"))
    bad = client.xadd(events.STREAM, {"event": "{not json"})  # the stream before partitions
    events.publish(client, bot("c", "Hi there", T0 + 1))
    consumer = StreamConsumer(recorder, client, sweep_every=3600)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while consumer.lag() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        consumer.stop.set()
        thread.join(10)
    [detail] = contacts_of(db, "c")
    assert [t.text for t in detail.touches] == ["hello", "Hi there"]
    assert sum(map(client.xlen, events.streams())) == 0  # recorded entries are removed
    [(_, dead)] = client.xrange(events.DEAD_LETTERS)  # kept for a human, as it came
    assert dead == {"event": "{not json", "error": "JSONDecodeError", "entry": bad,
                    "stream": events.STREAM}


class CountingRecorder(ContactRecorder):
    """Counts how often it was asked to record something (one event or a batch)."""

    tries = 0

    def apply_batch(self, batch):
        self.tries += 1
        return super().apply_batch(batch)


def test_consumer_keeps_events_while_the_database_is_down(db, redis_settings, tmp_path):
    """Events published while the database cannot be written are recorded once it can."""
    client = redis_client(redis_settings)
    client.delete(*events.streams(), events.DEAD_LETTERS)  # and the streams' consumer group
    broken = CountingRecorder(type(db)(f"sqlite:///{tmp_path}/missing-dir/x.db"), TIMEOUT)
    broken.db.engine.dispose()
    events.publish(client, user("down", "are you there?", T0, "m1"))
    consumer = StreamConsumer(broken, client, sweep_every=3600)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    # An event that fails MAX_ATTEMPTS times is dead-lettered, after at most 2 tries per round
    # (the batch, then the event alone) and about 6 s of back-off. Wait until the consumer has
    # tried more often than that, however long it takes: a dead-lettered event is never tried
    # again, so then it is still pending only if it was kept.
    deadline = time.monotonic() + 60
    while broken.tries <= 2 * MAX_ATTEMPTS and consumer.lag() and time.monotonic() < deadline:
        time.sleep(0.1)
    consumer.stop.set()
    thread.join(10)
    assert broken.tries > 2 * MAX_ATTEMPTS, broken.tries
    assert consumer.lag() == 1 and client.xlen(events.DEAD_LETTERS) == 0
    assert contacts_of(db, "down") == []
    healthy = StreamConsumer(ContactRecorder(db, TIMEOUT), client, sweep_every=3600)
    thread = threading.Thread(target=healthy.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while healthy.lag() and time.monotonic() < deadline:
        time.sleep(0.1)
    healthy.stop.set()
    thread.join(10)
    [detail] = contacts_of(db, "down")
    assert [t.text for t in detail.touches] == ["are you there?"]


def test_the_longest_ids_clients_may_send_are_recorded_once(recorder, db):
    """A conversation id of 128 characters and a client's message id of 128 (what web chat and
    REST accept) made a key longer than its column: PostgreSQL refused it and every event of
    such a conversation went to the dead letters."""
    sender, message_id = "rest:" + "s" * 123, "m" * 128
    recorder.apply(user(sender, "hello", T0, message_id), "1-0")
    recorder.apply(user(sender, "hello", T0, message_id), "1-0")  # redelivered
    recorder.apply(user(sender, "again", T0 + 1, "n" * 128), "2-0")
    recorder.apply(bot(sender, "Hi there", T0 + 2), "7/" + "9" * 150 + "-0")
    [detail] = contacts_of(db, sender)
    assert [t.text for t in detail.touches] == ["hello", "again", "Hi there"]
