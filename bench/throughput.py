"""Throughput and latency of the assistant over the REST channel, next to a stock Rasa assistant.

N concurrent simulated customers each hold realistic multi-turn conversations. The same run,
on the same machine, measures a stock assistant made by ``rasa init --no-prompt`` (its default
config, one Sanic worker, in-memory stores), one server at a time. Prints messages/s,
p50/p95/p99 latency and CPU seconds per message (all server processes), then the ratio.

    make bench                      # or: .venv/bin/python bench/throughput.py --concurrency 20
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from processes.launcher import ManagedProcess, Stack, http_ok  # noqa: E402
from processes.ports import free_port  # noqa: E402
from switchboard.settings import Settings  # noqa: E402
from switchboard.training import ensure_model  # noqa: E402

OUR_CONVERSATIONS = [
    ["hi", "what roaming options do you have?", "and how much is the day pass", "thanks", "bye"],
    ["hello", "do you have 5g in manchester", "what's my balance", "ok thank you", "goodbye"],
    ["hey", "how do I set up voicemail", "what apn settings do I need", "cheers", "bye"],
    ["good morning", "I want to change my plan", "what plans do you offer", "thanks", "bye"],
]
STOCK_CONVERSATIONS = [
    ["hi", "I am feeling sad", "yes", "great, thanks", "bye"],
    ["hello", "I'm great", "bye"],
    ["hey", "not good", "no", "goodbye"],
    ["good morning", "are you a bot?", "I am happy", "bye"],
]


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def percentile(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000

    def row(self) -> str:
        return (f"{self.name:<10} {self.rate:>9.1f} {self.percentile(50):>8.0f} "
                f"{self.percentile(95):>8.0f} {self.percentile(99):>8.0f} "
                f"{self.cpu_seconds / self.messages * 1000:>12.1f}")


REST_TOKEN = "bench-rest-token"  # our REST channel wants a bearer token; stock Rasa ignores it


async def customer(session: aiohttp.ClientSession, url: str, sender: str, script: list[str],
                   latencies: list[float]) -> None:
    for text in script:
        start = time.perf_counter()
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            response.raise_for_status()
            await response.json()
        latencies.append(time.perf_counter() - start)


async def drive(url: str, scripts: list[list[str]], conversations: int, concurrency: int,
                prefix: str, token: str = REST_TOKEN) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    queue = itertools.islice(enumerate(itertools.cycle(scripts)), conversations)
    limit = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)


    async def one(index: int, script: list[str]) -> None:
        # Each customer is its own client with its own connection, as on a real channel.
        headers = {"Authorization": f"Bearer {token}"}
        async with limit, aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
            await customer(session, url, f"{prefix}-{index}", script, latencies)

    start = time.perf_counter()
    await asyncio.gather(*(one(i, s) for i, s in queue))
    elapsed = time.perf_counter() - start
    return len(latencies), elapsed, latencies


def cpu_of(pids: list[int]) -> float:
    """CPU seconds used so far by these processes and all their descendants."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def measure(name: str, port: int, pids: list[int], scripts: list[list[str]],
            args: argparse.Namespace) -> Result:
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    asyncio.run(drive(url, scripts, args.concurrency, args.concurrency, f"warm-{name}"))
    cpu_before = cpu_of(pids)
    count, seconds, latencies = asyncio.run(
        drive(url, scripts, args.conversations, args.concurrency, f"bench-{name}"))
    return Result(name, count, seconds, latencies, cpu_of(pids) - cpu_before)


def bench_switchboard(args: argparse.Namespace, workdir: Path) -> Result:
    env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(workdir / "switchboard"),
           "SWITCHBOARD_REDIS_PORT": str(free_port()), "RASA_PORT": str(free_port()),
           "ACTION_SERVER_PORT": str(free_port()), "REST_CHANNEL_TOKEN": REST_TOKEN}
    env.pop("REDIS_URL", None)
    settings = Settings.from_env(env)
    model = args.model or ensure_model(model_dir=settings.model_dir)
    with Stack(settings, model, log_dir=workdir / "logs") as stack:
        pids = [p.popen.pid for p in stack.processes if p.popen]
        return measure("switchboard", settings.rasa_port, pids, OUR_CONVERSATIONS, args)


def bench_stock(args: argparse.Namespace, workdir: Path) -> Result:
    project = workdir / "stock"
    print("Creating and training the stock assistant (rasa init --no-prompt) ...", flush=True)
    project.mkdir()
    subprocess.run([sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir",
                    str(project)], check=True, cwd=workdir, stdout=subprocess.DEVNULL)
    port = free_port()
    server = ManagedProcess(
        "stock-rasa",
        [sys.executable, "-m", "rasa", "run", "--model", str(project / "models"),
         "--port", str(port)],
        http_ok(f"http://127.0.0.1:{port}/webhooks/rest/"),
        startup_timeout=300, log_path=workdir / "logs" / "stock.log",
        cwd=project,  # its own endpoints.yml and credentials.yml, as `rasa init` made them
    )
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        server.wait_ready()
        assert server.popen is not None
        return measure("stock", port, [server.popen.pid], STOCK_CONVERSATIONS, args)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--model", type=Path, help="measure this model instead of config.yml's")
    parser.add_argument("--only-ours", action="store_true", help="skip the stock assistant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        workdir = Path(tmp)
        ours = bench_switchboard(args, workdir)
        if args.only_ours:
            print(ours.row())
            return
        stock = bench_stock(args, workdir)
    print(f"\n{args.concurrency} concurrent customers, {args.conversations} conversations each "
          f"run, {os.cpu_count()} cores")
    print(f"{'assistant':<10} {'msgs/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'CPU ms/msg':>12}")
    print(stock.row())
    print(ours.row())
    latency_ratios = " ".join(
        f"{ours.percentile(q) / stock.percentile(q):>7.2f}x" for q in (50, 95, 99)
    )
    cpu_ratio = (ours.cpu_seconds / ours.messages) / (stock.cpu_seconds / stock.messages)
    rate_ratio = ours.rate / stock.rate
    print(f"{'ours/stock':<10} {rate_ratio:>8.2f}x {latency_ratios} {cpu_ratio:>11.2f}x")


if __name__ == "__main__":
    main()
