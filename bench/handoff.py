"""The agent queue on a real redis-server: enqueue → console notified latency, and claims/s.

- Latency: a console-like listener blocks on the handoff event stream (XREAD) while handoffs are
  enqueued one after another; the time from calling ``enqueue`` to the listener holding the
  event, p50/p99.
- End to end: the same, but to a real agent console: the console process runs, an agent logs in
  and holds the live WebSocket a console page holds; the time from ``enqueue`` until the
  snapshot listing that conversation arrives on the socket, with 500 others already waiting.
- Claims/s: 5,000 queued conversations over the four skills, 50 agents (threads, each with its
  own connection) taking the next one until the queues are empty.
Stock Rasa has no agent queue (a paused conversation simply stops), so there is nothing of its to
run side by side here.

    .venv/bin/python bench/handoff.py
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.concurrency import run_together  # noqa: E402
from handoff import queue  # noqa: E402
from handoff.queue import Handoff  # noqa: E402
from processes.launcher import embedded_redis  # noqa: E402
from processes.ports import free_port  # noqa: E402
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


def console_latencies(settings: Settings, workdir: Path, count: int, backlog: int) -> list[float]:
    """enqueue -> the snapshot on a logged-in agent's console socket, through the console."""
    import asyncio

    from handoff import agents
    from processes.launcher import console_server
    from switchboard import migrate
    from switchboard.db import database

    db = database(settings)
    migrate.upgrade(db)
    with db.transaction() as session:
        agents.add_agent(session, "bench", display_name="Bench", password="bench-password-1",
                         skills=list(queue.SKILLS), capacity=3)
    client = redis_client(settings)
    for n in range(backlog):
        queue.enqueue(client, Handoff(f"backlog-{n}", "sms", queue.SKILLS[n % 4], "requested"))
    console = console_server(settings, workdir)
    console.start()
    console.wait_ready()
    try:
        cookie = _log_in(settings, "bench", "bench-password-1")
        return asyncio.run(_measure_socket(settings, cookie, count))
    finally:
        console.stop()


def _log_in(settings: Settings, agent: str, password: str) -> str:
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), Stay)
    base = f"http://127.0.0.1:{settings.console_port}/console"
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf": token, "agent": agent, "password": password})
    try:
        opener.open(f"{base}/login", data=form.encode())
    except urllib.error.HTTPError as answer:  # the redirect to the queue page
        assert answer.code == 302, answer.code
    return "; ".join(f"{c.name}={c.value}" for c in jar if c.name == "sb_session")


async def _measure_socket(settings: Settings, cookie: str, count: int) -> list[float]:
    import asyncio
    import json

    import websockets

    client = redis_client(settings)
    latencies = []
    url = f"ws://127.0.0.1:{settings.console_port}/console/live"
    async with websockets.connect(url, extra_headers={"Cookie": cookie},
                                  max_size=2**24) as socket:
        await socket.recv()  # the first snapshot
        for n in range(count):
            sender = f"console-{n}"
            started = time.perf_counter()
            await asyncio.to_thread(queue.enqueue, client,
                                    Handoff(sender, "webchat", "general", "requested",
                                            priority=9))
            while True:
                frame = json.loads(await socket.recv())
                if frame.get("kind") == "snapshot" and any(
                        row["sender_id"] == sender for row in frame["queue"]):
                    break
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.to_thread(queue.cancel, client, sender)
            await asyncio.sleep(0.01)
    return latencies


def claims_per_second(settings: Settings, conversations: int, agents: int) -> float:
    client = redis_client(settings)
    for key in client.scan_iter("switchboard:handoff:*"):  # start from empty queues
        client.delete(key)
    for n in range(conversations):
        queue.enqueue(client, Handoff(f"claim-{n}", "sms", queue.SKILLS[n % 4], "requested",
                                      priority=n % 3))
    counts: list[int] = []

    def agent(agent_id: str) -> None:
        mine, taken = redis_client(settings), 0
        while queue.claim_next(mine, agent_id, list(queue.SKILLS), 1_000_000):
            taken += 1
        counts.append(taken)

    elapsed = run_together([functools.partial(agent, f"agent-{n}") for n in range(agents)])
    assert sum(counts) == conversations, (sum(counts), conversations)
    return conversations / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=2000, help="for the latency")
    parser.add_argument("--conversations", type=int, default=5000, help="for the claims")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=500, help="waiting during the console run")
    parser.add_argument("--console-handoffs", type=int, default=200,
                        help="for the end-to-end latency through a console socket")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-handoff-") as workdir:
        settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": workdir,
                                      "SWITCHBOARD_REDIS_PORT": str(free_port()),
                                      "CONSOLE_PORT": str(free_port()),
                                      "LOG_LEVEL": "WARNING"})
        server = embedded_redis(settings, Path(workdir))  # AOF on, as in production
        server.start()
        server.wait_ready()
        try:
            latencies = notify_latencies(settings, args.handoffs)
            end_to_end = console_latencies(settings, Path(workdir), args.console_handoffs,
                                           backlog=args.backlog)
            rate = claims_per_second(settings, args.conversations, args.agents)
        finally:
            server.stop()
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"enqueue -> console notified, {len(latencies)} handoffs: "
          f"p50 {quantiles[49]:.2f} ms, p99 {quantiles[98]:.2f} ms")
    quantiles = statistics.quantiles(end_to_end, n=100)
    print(f"enqueue -> snapshot on an agent's console socket ({args.backlog} others waiting), "
          f"{len(end_to_end)} handoffs: p50 {quantiles[49]:.2f} ms, p99 {quantiles[98]:.2f} ms")
    print(f"claims/s, {args.agents} agents, {args.conversations} conversations: {rate:,.0f}")


if __name__ == "__main__":
    main()
