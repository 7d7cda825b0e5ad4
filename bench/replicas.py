"""Throughput of 1 vs 2 Switchboard nodes behind haproxy, on this machine, same run.

Each node is one `make run` process tree (Rasa server with one Sanic worker, action server,
console, recorder and queue clock) on a shared Redis and PostgreSQL; haproxy balances the Rasa
servers and the action servers (the cluster of tests/test_scale.py, without the killing). The same
concurrent REST customers as ``bench/throughput.py`` drive 1 node, then 2. Prints messages/s,
p50/p95/p99 latency and CPU ms per message over every process of the cluster, then the ratio:
on a machine with fewer cores than nodes x busy processes the second node adds no CPU, and the
ratio says so.

    make bench-replicas      # or: .venv/bin/python bench/replicas.py --concurrency 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throughput import OUR_CONVERSATIONS, Result, cpu_of, drive  # noqa: E402
from processes.launcher import embedded_redis  # noqa: E402
from processes.ports import free_port  # noqa: E402
from switchboard.settings import Settings  # noqa: E402
from switchboard.training import ensure_model  # noqa: E402
from tests.postgres import TemporaryPostgres  # noqa: E402
from tests.scale_cluster import REST_TOKEN, Cluster  # noqa: E402


def bench_nodes(nodes: int, args: argparse.Namespace, workdir: Path, redis_url: str,
                database_url: str, model: Path) -> Result:
    cluster = Cluster(workdir / f"{nodes}-nodes", {"REDIS_URL": redis_url}, database_url, model)
    cluster.workdir.mkdir()
    try:
        cluster.start(nodes)
        pids = [p.popen.pid for n in cluster.nodes for p in n.stack.processes if p.popen]
        url = f"{cluster.rasa_url}/webhooks/rest/webhook"
        asyncio.run(drive(url, OUR_CONVERSATIONS, args.concurrency, args.concurrency,
                          f"warm-{nodes}", REST_TOKEN))
        before = cpu_of(pids)
        count, seconds, latencies = asyncio.run(drive(
            url, OUR_CONVERSATIONS, args.conversations, args.concurrency, f"bench-{nodes}",
            REST_TOKEN))
        return Result(f"{nodes} node{'s' if nodes > 1 else ''}", count, seconds, latencies,
                      cpu_of(pids) - before)
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--model", type=Path, help="measure this model instead of config.yml's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="switchboard-replicas-") as tmp:
        workdir = Path(tmp)
        settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": str(workdir / "redis"),
                                      "SWITCHBOARD_REDIS_PORT": str(free_port())})
        model = args.model or ensure_model(model_dir=settings.model_dir)
        redis = embedded_redis(settings, None)
        postgres = TemporaryPostgres()
        redis.start()
        postgres.start()
        try:
            redis.wait_ready()
            results = [bench_nodes(n, args, workdir, settings.effective_redis_url, postgres.url,
                                   model) for n in (1, 2)]
        finally:
            postgres.stop()
            redis.stop()
    one, two = results
    print(f"\n{args.concurrency} concurrent customers, {args.conversations} conversations, "
          f"{os.cpu_count()} cores, haproxy in front")
    print(f"{'cluster':<10} {'msgs/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'CPU ms/msg':>12}")
    print(one.row())
    print(two.row())
    print(f"{'2 / 1':<10} {two.rate / one.rate:>8.2f}x "
          + " ".join(f"{two.percentile(q) / one.percentile(q):>7.2f}x" for q in (50, 95, 99))
          + f" {(two.cpu_seconds / two.messages) / (one.cpu_seconds / one.messages):>11.2f}x")


if __name__ == "__main__":
    main()
