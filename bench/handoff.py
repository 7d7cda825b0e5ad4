"""The agent queue on a real redis-server: enqueue → console notified latency, and claims/s.

- Latency: a console-like listener blocks on the handoff event stream (XREAD) while handoffs are
  enqueued one after another; the time from calling ``enqueue`` to the listener holding the
  event, p50/p99.
- Claims/s: 5,000 queued conversations over the four skills, 50 agents (threads, each with its
  own connection) taking the next one until the queues are empty.
Stock Rasa has no agent queue (a paused conversation simply stops), so there is nothing of its to
run side by side here.

    .venv/bin/python bench/handoff.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handoff import queue  # noqa: E402
from handoff.queue import Handoff  # noqa: E402
from switchboard.launcher import embedded_redis, free_port  # noqa: E402
from switchboard.redis_client import redis_client  # noqa: E402
from switchboard.settings import Settings  # noqa: E402


def notify_latencies(settings: Settings, count: int) -> list[float]:
    client = redis_client(settings)
    sent: dict[str, float] = {}
    received: dict[str, float] = {}
    last_id = client.xadd(queue.EVENTS, {"kind": "bench-start"})
    done = threading.Event()

    def console() -> None:
        listener, cursor = redis_client(settings), last_id
        while len(received) < count:
            for _, entries in listener.xread({queue.EVENTS: cursor}, block=1000) or []:
                for entry_id, fields in entries:
                    cursor = entry_id
                    if fields.get("kind") == "enqueued":
                        received[fields["sender_id"]] = time.perf_counter()
        done.set()

    threading.Thread(target=console, daemon=True).start()
    for n in range(count):
        sender = f"latency-{n}"
        sent[sender] = time.perf_counter()
        queue.enqueue(client, Handoff(sender, "webchat", queue.SKILLS[n % 4], "requested"))
        time.sleep(0.002)  # customers arrive one by one, not in a burst
    done.wait(30)
    return [(received[s] - sent[s]) * 1000 for s in sent if s in received]


def claims_per_second(settings: Settings, conversations: int, agents: int) -> float:
    client = redis_client(settings)
    for key in client.scan_iter("switchboard:handoff:*"):  # start from empty queues
        client.delete(key)
    for n in range(conversations):
        queue.enqueue(client, Handoff(f"claim-{n}", "sms", queue.SKILLS[n % 4], "requested",
                                      priority=n % 3))
    barrier = threading.Barrier(agents + 1)
    counts: list[int] = []

    def agent(agent_id: str) -> None:
        mine, taken = redis_client(settings), 0
        barrier.wait()
        while queue.claim_next(mine, agent_id, list(queue.SKILLS), 1_000_000):
            taken += 1
        counts.append(taken)

    threads = [threading.Thread(target=agent, args=(f"agent-{n}",)) for n in range(agents)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert sum(counts) == conversations, (sum(counts), conversations)
    return conversations / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=2000, help="for the latency")
    parser.add_argument("--conversations", type=int, default=5000, help="for the claims")
    parser.add_argument("--agents", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-handoff-") as workdir:
        settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": workdir,
                                      "SWITCHBOARD_REDIS_PORT": str(free_port())})
        server = embedded_redis(settings, Path(workdir))  # AOF on, as in production
        server.start()
        server.wait_ready()
        try:
            latencies = notify_latencies(settings, args.handoffs)
            rate = claims_per_second(settings, args.conversations, args.agents)
        finally:
            server.stop()
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"enqueue -> console notified, {len(latencies)} handoffs: "
          f"p50 {quantiles[49]:.2f} ms, p99 {quantiles[98]:.2f} ms")
    print(f"claims/s, {args.agents} agents, {args.conversations} conversations: {rate:,.0f}")


if __name__ == "__main__":
    main()
