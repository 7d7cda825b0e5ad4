"""A real Redis primary, one replica and three sentinels on loopback, for failover tests
(Debian's redis-server and redis-sentinel; quick timings so a failover takes seconds)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from processes.ports import free_port

SERVICE = "switchboard"


@dataclass
class SentinelCluster:
    workdir: Path
    primary_port: int = field(default_factory=free_port)
    replica_port: int = field(default_factory=free_port)
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def sentinels(self) -> str:
        """``REDIS_SENTINELS`` for these sentinels."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def start(self) -> None:
        self._server(self.primary_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
        for port in self.sentinel_ports:
            conf = self.workdir / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 5000\n")
            self._spawn(port, [shutil.which("redis-sentinel") or "redis-sentinel", str(conf)])
        self.wait(lambda: self._replicated() and self._sentinels_agree(self.primary_port)
                  and self._sentinels_ready())

    def primary(self) -> int:
        """The port the sentinels name as the primary now."""
        answer = redis.Redis(port=self.sentinel_ports[0], decode_responses=True).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(answer[1])

    def kill(self, port: int) -> None:
        """kill -9: no shutdown save, no goodbye to the replicas."""
        self.processes[port].kill()
        self.processes[port].wait()

    def await_failover(self, old: int, timeout: float = 60.0) -> int:
        self.wait(lambda: self._sentinels_agree_not(old), timeout)
        return self.primary()

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()

    @staticmethod
    def wait(condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the Redis cluster did not reach the expected state")

    def _server(self, port: int, *extra: str) -> None:
        data = self.workdir / f"redis-{port}"
        data.mkdir()
        self._spawn(port, [shutil.which("redis-server") or "redis-server", "--port", str(port),
                           "--bind", "127.0.0.1", "--dir", str(data), "--appendonly", "yes",
                           "--save", "", *extra])

    def _spawn(self, port: int, command: list[str]) -> None:
        log = (self.workdir / f"{port}.log").open("w")
        self.processes[port] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _replicated(self) -> bool:
        info = redis.Redis(port=self.replica_port).info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_agree(self, port: int) -> bool:
        return all(self._named(s) == port for s in self.sentinel_ports)

    def _sentinels_ready(self) -> bool:
        """Every sentinel knows the replica and the other sentinels: killed before that, the
        primary has no replica to promote ("-failover-abort-no-good-slave") or no quorum.
        Sentinels learn replicas from the primary's INFO (every 10 s) and each other from
        hello messages (every 2 s)."""
        for port in self.sentinel_ports:
            flat = redis.Redis(port=port, decode_responses=True).execute_command(
                "SENTINEL", "MASTER", SERVICE)
            fields = dict(zip(flat[::2], flat[1::2], strict=True)) if isinstance(flat, list) \
                else flat
            if int(fields["num-slaves"]) < 1 or \
                    int(fields["num-other-sentinels"]) < len(self.sentinel_ports) - 1:
                return False
        return True

    def _sentinels_agree_not(self, port: int) -> bool:
        named = {self._named(s) for s in self.sentinel_ports}
        return len(named) == 1 and port not in named

    def _named(self, sentinel_port: int) -> int:
        answer = redis.Redis(port=sentinel_port, decode_responses=True).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(answer[1])


@contextmanager
def sentinel_cluster(workdir: Path) -> Iterator[SentinelCluster]:
    cluster = SentinelCluster(workdir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
