"""Several contact recorders on one Redis and one database: the streams are shared out by
lease, each conversation stays in order, and a dead recorder's work (with what it read but
never recorded) is taken over."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from contacts import events, partitions
from contacts.recorder import ContactRecorder, StreamConsumer
from switchboard.redis_client import redis_client
from tests.test_contacts_recorder import T0, TIMEOUT, contacts_of, user

LEASE = 2.0  # seconds: short, so a takeover happens within the test


@pytest.fixture
def client(redis_settings):
    client = redis_client(redis_settings)
    leases = [k for k in client.scan_iter("switchboard:contact_events:lease:*")]
    client.delete(*events.streams(), events.DEAD_LETTERS, partitions.MEMBERS, *leases)
    return client


@contextmanager
def running(consumer: StreamConsumer) -> Iterator[StreamConsumer]:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop.set()
        thread.join(10)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def publish_conversations(client, senders: list[str], turns: int) -> None:
    for n in range(turns):  # interleaved, as live traffic is
        for sender in senders:
            events.publish(client, user(sender, f"message {n}", T0 + n, f"{sender}-{n}"))


def texts(db, sender: str) -> list[str]:
    return [t.text for detail in contacts_of(db, sender) for t in detail.touches]


def test_each_conversation_has_one_stream_and_traffic_reaches_every_stream():
    senders = [f"rest:c{n}" for n in range(200)]
    assert all(events.stream_for(s) == events.stream_for(s) for s in senders)
    assert {events.stream_for(s) for s in senders} == set(events.streams()[1:])


def test_two_recorders_share_the_streams_and_keep_each_conversation_in_order(client, db):
    first = StreamConsumer(ContactRecorder(db, TIMEOUT), client, lease_seconds=LEASE)
    second = StreamConsumer(ContactRecorder(db, TIMEOUT), client, lease_seconds=LEASE)
    senders = [f"rest:shared-{n}" for n in range(24)]
    with running(first), running(second):
        # 9 streams, shared fairly once the first has given back what is beyond its share
        wait_for(lambda: {len(first.leases.held), len(second.leases.held)} == {4, 5})
        assert not set(first.leases.held) & set(second.leases.held)
        publish_conversations(client, senders, turns=8)
        wait_for(lambda: events.unrecorded(client) == 0)
    for sender in senders:
        assert texts(db, sender) == [f"message {n}" for n in range(8)], sender


class HangingRecorder(ContactRecorder):
    """Reads, then hangs in the database call, as a recorder whose process froze or died
    mid-batch; once let go it records what it held (late, as a stalled one would)."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.inside, self.let_go = threading.Event(), threading.Event()

    def apply_batch(self, batch):
        self.inside.set()
        self.let_go.wait()
        return super().apply_batch(batch)


def test_a_dead_recorders_streams_and_unrecorded_events_are_taken_over(client, db):
    stuck = HangingRecorder(db, TIMEOUT)
    dying = StreamConsumer(stuck, client, lease_seconds=LEASE, gather_seconds=0.5)
    senders = [f"rest:takeover-{n}" for n in range(12)]
    with running(dying):
        wait_for(lambda: len(dying.leases.held) == len(events.streams()))
        publish_conversations(client, senders, turns=5)
        wait_for(stuck.inside.is_set)  # it has read entries and will never acknowledge them
        survivor = StreamConsumer(ContactRecorder(db, TIMEOUT), client, lease_seconds=LEASE)
        with running(survivor):
            wait_for(lambda: len(survivor.leases.held) == len(events.streams()))
            wait_for(lambda: events.unrecorded(client) == 0)
            for sender in senders:
                assert texts(db, sender) == [f"message {n}" for n in range(5)], sender
            stuck.let_go.set()  # the frozen one wakes up and records its old batch: no twice
            wait_for(lambda: dying.leases.held != [] or dying.stop.is_set(), timeout=10)
    for sender in senders:
        assert texts(db, sender) == [f"message {n}" for n in range(5)], sender


def test_a_recorder_that_stops_cleanly_hands_its_streams_over_at_once(client, db):
    leaving = StreamConsumer(ContactRecorder(db, TIMEOUT), client, lease_seconds=60)
    with running(leaving):
        wait_for(lambda: len(leaving.leases.held) == len(events.streams()))
    staying = StreamConsumer(ContactRecorder(db, TIMEOUT), client, lease_seconds=60)
    with running(staying):  # a 60 s lease: taken over only because it was given back
        wait_for(lambda: len(staying.leases.held) == len(events.streams()), timeout=10)
        events.publish(client, user("rest:after", "still recorded", T0, "after-1"))
        wait_for(lambda: events.unrecorded(client) == 0)
    assert texts(db, "rest:after") == ["still recorded"]
