"""Cost of one turn against the turn number: our event-log tracker store beside stock Rasa's
Redis tracker store, in the same run, on the same redis-server.

A turn here is what the tracker store does for one message: retrieve the conversation, add the
turn's events (a user message, an action, a bot reply, listen), save. The NLU and the policies
cost the same at every turn and are left out, so the figures show only what grows.

    .venv/bin/python bench/turn_cost.py [--turns 600]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rasa.core.tracker_store import RedisTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    BotUttered,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from bot.tracker_store import EventLogTrackerStore  # noqa: E402
from processes.launcher import embedded_redis  # noqa: E402
from processes.ports import free_port  # noqa: E402
from switchboard.services import Services, install  # noqa: E402
from switchboard.settings import PROJECT_ROOT, Settings  # noqa: E402

WINDOWS = ((1, 20), (100, 120), (300, 320), (580, 600))


def events_of(n: int, stamp: float) -> list:
    text = f"message number {n}, about my roaming charges and my data allowance this month"
    return [UserUttered(text, {"name": "faq", "confidence": 0.93}, timestamp=stamp),
            ActionExecuted("utter_faq", timestamp=stamp + 0.1),
            BotUttered("Roam Like Home covers the EU at no extra cost; Roam Day Pass is "
                       "£5 a day elsewhere.", timestamp=stamp + 0.2),
            ActionExecuted("action_listen", timestamp=stamp + 0.3)]


async def converse(store, domain: Domain, sender: str, turns: int) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds) of each turn's retrieve + save."""
    costs = []
    start = time.time()
    for n in range(1, turns + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        tracker = await store.retrieve(sender)
        if tracker is None:
            tracker = DialogueStateTracker.from_events(
                sender, [ActionExecuted("action_session_start", timestamp=start),
                         SessionStarted(timestamp=start),
                         ActionExecuted("action_listen", timestamp=start)], domain.slots)
        for event in events_of(n, start + n):
            tracker.update(event, domain)
        await store.save(tracker)
        costs.append((time.perf_counter() - wall, time.process_time() - cpu))
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=600)
    args = parser.parse_args()
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": workdir,
                                      "SWITCHBOARD_REDIS_PORT": str(free_port())})
        server = embedded_redis(settings, Path(workdir))
        server.start()
        server.wait_ready()
        install(Services(settings))  # what Rasa constructs takes the process's Services
        try:
            port = settings.embedded_redis_port
            stores = {"stock": RedisTrackerStore(domain, port=port, key_prefix="stock"),
                      "ours": EventLogTrackerStore(domain, key_prefix="ours")}
            results = {name: asyncio.run(converse(store, domain, f"bench-{name}", args.turns))
                       for name, store in stores.items()}
        finally:
            server.stop()
    print(f"Tracker store cost per turn (median over each window; {args.turns} turns)")
    print(f"{'turns':<10} {'stock ms':>9} {'stock CPU':>10} {'ours ms':>9} {'ours CPU':>9}")
    for low, high in WINDOWS:
        if high > args.turns:
            continue
        row = [statistics.median(c[i] for c in results[name][low - 1:high]) * 1000
               for name in ("stock", "ours") for i in (0, 1)]
        print(f"{low}-{high:<7} {row[0]:>9.2f} {row[1]:>10.2f} {row[2]:>9.2f} {row[3]:>9.2f}")
    for name in ("stock", "ours"):
        first = statistics.median(c[0] for c in results[name][:20])
        last = statistics.median(c[0] for c in results[name][-20:])
        print(f"{name}: last 20 turns / first 20 turns = {last / first:.2f}x")


if __name__ == "__main__":
    main()
