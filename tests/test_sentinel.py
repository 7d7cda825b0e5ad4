"""Redis through Sentinel: every client of the factory, Rasa's tracker and lock stores and the
queue's Lua scripts keep working after the primary dies and a replica is promoted (real
redis-server and redis-sentinel processes on loopback)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import redis
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

import switchboard.services
from bot.lock_store import SwitchboardLockStore
from bot.tracker_store import EventLogTrackerStore
from handoff import queue
from switchboard.redis_client import async_redis_client, redis_client
from switchboard.services import Services, install
from switchboard.settings import PROJECT_ROOT, Settings
from tests.redis_sentinel import SentinelCluster, sentinel_cluster

T = TypeVar("T")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelCluster]:
    with sentinel_cluster(tmp_path_factory.mktemp("sentinel")) as running:
        yield running


@pytest.fixture
def settings(cluster, monkeypatch) -> Settings:
    settings = Settings.from_env({"REDIS_SENTINELS": cluster.sentinels,
                                  "REDIS_SENTINEL_SERVICE": "switchboard"})
    monkeypatch.setattr(switchboard.services, "_installed", None)  # uninstalled after the test
    install(Services(settings))  # Rasa's stores take the Services the process's root installed
    return settings


def eventually(call: Callable[[], T], timeout: float = 30.0) -> T:
    """``call``'s result once it stops failing: during a failover a client's command fails
    with ConnectionError until the sentinels name the new primary."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_every_client_follows_the_primary_through_a_failover(cluster, settings):
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    client = redis_client(settings)
    store = EventLogTrackerStore(domain, key_prefix="switchboard", record_exp="3600")
    locks = SwitchboardLockStore(EndpointConfig(type="bot.lock_store.SwitchboardLockStore",
                                                key_prefix="switchboard"))
    assert store.red is client and locks.red is client  # one pool, the sentinels' primary
    sender = "rest:failover"
    asyncio.run(store.save(_tracker(sender, 1)))
    queue.enqueue(client, queue.Handoff(sender_id="rest:queued", channel="rest",
                                        skill="billing", reason="test"))
    client.set("written-before", "1")
    assert client.wait(1, 5000) == 1  # replicated before the primary dies

    old = cluster.primary()
    assert old == cluster.primary_port
    cluster.kill(old)
    new = cluster.await_failover(old)
    assert new == cluster.replica_port

    # The same client objects, no restart: they ask the sentinels again.
    assert eventually(lambda: client.get("written-before")) == "1"
    assert client.info("replication")["role"] == "master"
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker is not None and tracker.latest_message.text == "message 1"
    asyncio.run(store.save(_tracker(sender, 2)))
    assert asyncio.run(store.retrieve(sender)).latest_message.text == "message 2"
    # The queue's Lua (EVAL) runs on the promoted server: the waiting chat is claimed once.
    assert queue.claim_next(client, "tom", ["billing"], capacity=2) == "rest:queued"
    assert queue.claim_next(client, "ann", ["billing"], capacity=2) is None
    # Rasa's conversation lock is taken and released on the new primary.
    ticket = locks.issue_ticket(sender)
    assert locks.get_lock(sender).now_serving == ticket
    locks.cleanup(sender, ticket)
    assert locks.get_lock(sender) is None


def test_asyncio_clients_follow_the_sentinels_too(cluster, settings):
    async def round_trip() -> str | None:
        client = async_redis_client(settings)
        await client.set("async-key", "a")
        return await client.get("async-key")

    assert eventually(lambda: asyncio.run(round_trip())) == "a"
    primary = redis.Redis(port=cluster.primary(), decode_responses=True)
    assert primary.get("async-key") == "a"  # written on the server the sentinels name


def _tracker(sender: str, turns: int) -> DialogueStateTracker:
    events = [ActionExecuted("action_session_start", timestamp=1000.0),
              ActionExecuted("action_listen", timestamp=1000.1)]
    for n in range(1, turns + 1):
        events += [UserUttered(f"message {n}", {"name": "greet", "confidence": 0.9},
                               timestamp=1000.0 + n),
                   ActionExecuted("action_listen", timestamp=1000.5 + n)]
    return DialogueStateTracker.from_events(sender, events)


def test_endpoints_yml_builds_our_stores_on_the_factory_client(settings, monkeypatch):
    """Rasa falls back to in-memory stores when a custom type fails to import: check that the
    committed endpoints.yml really yields ours, on the sentinels' primary."""
    from rasa.core.lock_store import LockStore
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import read_endpoints_from_path

    for name, value in settings.rasa_endpoint_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ACTION_SERVER_AUTHORIZATION", "Bearer x")
    endpoints = read_endpoints_from_path(PROJECT_ROOT / "endpoints.yml")
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    store = TrackerStore.create(endpoints.tracker_store, domain)
    locks = LockStore.create(endpoints.lock_store)
    assert type(store) is EventLogTrackerStore and type(locks) is SwitchboardLockStore
    assert store.red is redis_client(settings) is locks.red
    assert store.record_exp == settings.rasa_endpoint_env()["TRACKER_TTL_SECONDS"]
