"""The handoff queue on a real Redis: ordering, positions, claims, cancel, requeue, the race."""

from __future__ import annotations

import threading
import time

import pytest

from handoff import queue
from handoff.queue import Handoff
from switchboard.redis_client import redis_client


@pytest.fixture
def client(redis_settings):
    client = redis_client(redis_settings)
    for key in client.scan_iter("switchboard:handoff:*"):
        client.delete(key)
    return client


def waiting_one(client, sender, skill="general", priority=1, at=None):
    return queue.enqueue(client, Handoff(sender, "webchat", skill, "requested", priority,
                                         enqueued_at=at or time.time()))


def test_positions_follow_priority_then_age(client):
    now = time.time()
    assert waiting_one(client, "old", at=now - 60) == 1
    assert waiting_one(client, "new", at=now) == 2
    assert waiting_one(client, "urgent", priority=5, at=now + 1) == 1
    assert [queue.position(client, s) for s in ("urgent", "old", "new")] == [1, 2, 3]
    assert waiting_one(client, "old") == 2  # enqueued again: stays where it was
    assert queue.owner(client, "old") == "queued" and queue.owner(client, "nobody") == "bot"


def test_claim_next_takes_the_best_across_the_agents_skills_within_capacity(client):
    now = time.time()
    waiting_one(client, "bill-old", "billing", at=now - 100)
    waiting_one(client, "tech-older", "technical", at=now - 200)
    waiting_one(client, "tech-urgent", "technical", priority=3, at=now)
    assert queue.claim_next(client, "ann", ["billing"], capacity=2) == "bill-old"
    assert queue.claim_next(client, "bob", ["billing", "technical"], capacity=1) == "tech-urgent"
    assert queue.claim_next(client, "bob", ["technical"], capacity=1) is None  # full
    assert queue.owner(client, "tech-urgent") == "agent:bob"
    assert queue.chats_of(client, "ann") == {"bill-old"}


def test_pick_from_the_list_cancel_and_requeue_at_the_front(client):
    now = time.time()
    waiting_one(client, "a", at=now - 10)
    waiting_one(client, "b", at=now)
    assert queue.claim(client, "cat", "b", capacity=3)
    assert not queue.claim(client, "dan", "b", capacity=3)  # taken already
    assert queue.cancel(client, "a") and queue.owner(client, "a") == "bot"
    waiting_one(client, "c", at=now - 1000)
    queue.requeue_front(client, "cat", "b")  # cat went offline
    assert queue.waiting(client, "general") == ["b", "c"]
    assert queue.owner(client, "b") == "queued" and queue.chats_of(client, "cat") == set()
    queue.claim(client, "dan", "b", capacity=3)
    queue.return_to_bot(client, "dan", "b")
    assert queue.owner(client, "b") == "bot" and queue.record(client, "b") is None


def test_fifty_agents_racing_for_a_thousand_conversations(client, redis_settings):
    now = time.time()
    pipe_total = 1000
    for n in range(pipe_total):
        waiting_one(client, f"conv-{n}", queue.SKILLS[n % 4], priority=n % 3, at=now + n)
    claimed: dict[str, list[str]] = {}
    start = threading.Barrier(50)

    def agent(agent_id: str) -> None:
        mine = redis_client(redis_settings)  # each agent its own connection
        start.wait()
        taken = []
        while (sender := queue.claim_next(mine, agent_id, list(queue.SKILLS), 10_000)):
            taken.append(sender)
        claimed[agent_id] = taken

    threads = [threading.Thread(target=agent, args=(f"agent-{n}",)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [s for taken in claimed.values() for s in taken]
    assert len(everything) == pipe_total and len(set(everything)) == pipe_total
    assert all(queue.owner(client, s).startswith("agent:") for s in everything)
    assert sum(len(queue.waiting(client, s)) for s in queue.SKILLS) == 0
    assert sum(1 for taken in claimed.values() if taken) > 1  # they really raced


def test_transfer_moves_a_chat_to_the_front_of_another_skill(client):
    now = time.time()
    waiting_one(client, "billing-old", "billing", at=now - 500)
    waiting_one(client, "chat", "technical", at=now)
    assert queue.claim(client, "tom", "chat", capacity=3)
    assert not queue.transfer(client, "ana", "chat", "billing")  # not ana's to transfer
    assert queue.transfer(client, "tom", "chat", "billing")
    assert queue.waiting(client, "billing") == ["chat", "billing-old"]
    assert queue.record(client, "chat").skill == "billing"
    assert queue.chats_of(client, "tom") == set()
    with pytest.raises(ValueError):
        queue.transfer(client, "tom", "chat", "cooking")


def test_the_longest_wait_is_found_in_any_band_and_among_requeued_chats(client):
    now = time.time()
    assert queue.queue_stats(client, now)["billing"] == {"waiting": 0, "longest_wait": 0}
    waiting_one(client, "urgent-new", "billing", priority=5, at=now - 10)
    waiting_one(client, "low-old", "billing", priority=0, at=now - 300)  # at the back
    assert queue.queue_stats(client, now)["billing"] == {"waiting": 2, "longest_wait": 300}
    waiting_one(client, "requeued", "billing", priority=1, at=now - 900)
    assert queue.claim(client, "ana", "requeued", capacity=3)
    queue.requeue_front(client, "ana", "requeued")  # at the front, its first arrival kept
    assert queue.waiting(client, "billing")[1] == "requeued"
    assert queue.queue_stats(client, now)["billing"] == {"waiting": 3, "longest_wait": 900}


def test_time_in_status_runs_from_the_last_change_of_status(client):
    """The supervisor board's "time in status": a heartbeat or setting the same status again
    does not restart it, a change does; a page gone silent is offline since its last beat; a
    presence written before statuses kept their start still reads (since its last beat)."""
    from handoff import presence

    presence.set_status(client, "ana", "online", ["billing"], 3, now=1000.0)
    presence.heartbeat(client, "ana", now=1030.0)
    presence.set_status(client, "ana", "online", ["billing"], 3, now=1060.0)
    ana = presence.get(client, "ana")
    assert ana.status_since(1070.0, timeout=90) == 1000.0
    presence.set_status(client, "ana", "away", ["billing"], 3, now=1100.0)
    presence.heartbeat(client, "ana", now=1150.0)
    assert presence.get(client, "ana").status_since(1160.0, timeout=90) == 1100.0
    assert presence.get(client, "ana").effective_status(1300.0, timeout=90) == "offline"
    assert presence.get(client, "ana").status_since(1300.0, timeout=90) == 1150.0
    client.hset("switchboard:handoff:presence", "old", "online|billing|3|1200.0")
    old = presence.get(client, "old")
    assert (old.status, old.capacity, old.status_since(1210.0, timeout=90)) == ("online", 3,
                                                                                1200.0)


def test_the_queue_clock_ticks_on_one_replica_at_a_time(client, redis_settings, monkeypatch):
    """Three replicas run the clock for a while: only the lease holder sweeps; when it stops,
    another takes over at once (a clean stop gives the lease back); a holder that died without
    giving it back is replaced once its lease lapses."""
    import asyncio

    from handoff import worker
    from switchboard.lease import Lease

    sweeps: list[str] = []

    async def sweep(settings, now=None):  # which replica swept: its task's name
        sweeps.append(asyncio.current_task().get_name())
        return {}

    monkeypatch.setattr(worker, "sweep", sweep)

    async def replica(name: str) -> None:
        asyncio.current_task().set_name(name)
        # A lease far longer than a tick: a busy machine delaying one renewal must not let
        # another replica in while the holder lives.
        lease = Lease(client, worker.CLOCK_LEASE, 5.0, owner=name)
        await worker.run(redis_settings, every=0.05, lease=lease)

    async def scenario() -> None:
        first = asyncio.create_task(replica("a"))
        await asyncio.sleep(0.3)
        others = [asyncio.create_task(replica(n)) for n in ("b", "c")]
        await asyncio.sleep(1.0)
        assert set(sweeps) == {"a"}, sweeps  # the others waited
        first.cancel()  # a clean stop hands the lease on: long before the 5 s lapse
        await asyncio.gather(first, return_exceptions=True)
        del sweeps[:]
        for _ in range(60):  # up to 3 s
            if sweeps:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert len(set(sweeps)) == 1 and sweeps[0] in ("b", "c"), sweeps
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    asyncio.run(scenario())
    dead = Lease(client, worker.CLOCK_LEASE, 0.3, owner="dead")
    assert dead.hold()
    heir = Lease(client, worker.CLOCK_LEASE, 0.3, owner="heir")
    assert not heir.hold()  # the dead holder's lease has not lapsed yet
    time.sleep(0.4)
    assert heir.hold() and not dead.hold()
