"""Switchboard as a cluster on one machine, on the production engines: haproxy in front of two
nodes (each one `make run` process tree: Rasa server, action server, console with its contact
recorder, under the launcher's supervisor), Redis behind three sentinels, PostgreSQL.

haproxy balances the Rasa servers and the action servers with health checks (every second,
down after three failures: a one-worker Rasa busy with a message may answer a check late) and
retries a request only when it never reached a server (``retry-on conn-failure``): a message a
server was processing when it died is the client's to retry, with the same message id.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from processes.launcher import ManagedProcess, Stack
from processes.ports import free_port
from switchboard.settings import Settings

SECRET_KEY = "scale-test-secret-key-0123456789abcdef"
REST_TOKEN = "scale-rest-token"
API_TOKEN = "scale-api-token"

HAPROXY = """
global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 180s
  timeout server 180s
  timeout tunnel 600s
  timeout check 5s
  retries 3
  option redispatch
  retry-on conn-failure
frontend rasa
  bind 127.0.0.1:{rasa}
  default_backend rasa
backend rasa
  balance roundrobin
  option httpchk GET /
{rasa_servers}
frontend actions
  bind 127.0.0.1:{actions}
  default_backend actions
backend actions
  balance roundrobin
  option httpchk GET /health
{action_servers}
"""


@dataclass
class Node:
    """One machine's `make run`: its Stack and the supervisor loop `switchboard run` runs."""

    name: str
    settings: Settings
    stack: Stack
    supervising: threading.Event = field(default_factory=threading.Event)
    killed: dict[str, int] = field(default_factory=dict)  # child name -> the pid killed

    def process(self, name: str) -> ManagedProcess:
        return next(p for p in self.stack.processes if p.name == name)

    def kill(self, name: str) -> None:
        """kill -9 of a child (the server process itself; its Sanic workers die with it)."""
        pid = self.process(name).popen.pid
        self.killed[name] = pid
        os.killpg(pid, signal.SIGKILL)

    def replaced(self, name: str) -> bool:
        """The supervisor started a new one in place of the killed child, and it is ready."""
        process = self.process(name)
        return (process.popen.pid != self.killed[name] and process.alive()
                and process.is_ready())

    def supervise(self) -> None:
        """`switchboard run`'s loop (processes/cli.py cmd_run), until told to stop."""
        while not self.supervising.wait(0.5):
            self.stack.supervise_once()


@dataclass
class Cluster:
    workdir: Path
    redis_env: dict[str, str]  # REDIS_SENTINELS (and its service) or REDIS_URL
    database_url: str
    model: Path
    rasa_lb: int = field(default_factory=free_port)
    actions_lb: int = field(default_factory=free_port)
    nodes: list[Node] = field(default_factory=list)
    haproxy: subprocess.Popen | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_lb}"

    def start(self, nodes: int = 2) -> None:
        """``nodes`` nodes behind haproxy, each ready, each supervised."""
        for n in range(nodes):
            self.nodes.append(self._node(f"node{n}"))
        self._start_haproxy()
        for node in self.nodes:  # one after the other: the first migrates and seeds
            node.stack.start()
            thread = threading.Thread(target=node.supervise, daemon=True)
            thread.start()
            self._threads.append(thread)
        wait_until(lambda: _answers(f"{self.rasa_url}/"), 120)

    def stop(self) -> None:
        for node in self.nodes:
            node.supervising.set()
        for thread in self._threads:
            thread.join(5)
        for node in self.nodes:
            node.stack.stop()
        if self.haproxy is not None:
            self.haproxy.kill()
            self.haproxy.wait()

    def _node(self, name: str) -> Node:
        data_dir = self.workdir / name
        data_dir.mkdir()
        env = {
            "SWITCHBOARD_DATA_DIR": str(data_dir),
            **self.redis_env,
            "DATABASE_URL": self.database_url,
            "RASA_PORT": str(free_port()),
            "ACTION_SERVER_PORT": str(free_port()),
            "CONSOLE_PORT": str(free_port()),
            "RECORDER_PORT": str(free_port()),
            "QUEUE_CLOCK_PORT": str(free_port()),
            "RASA_WORKERS": "1",
            "SWITCHBOARD_TF_THREADS": "1",
            "SWITCHBOARD_SECRET_KEY": SECRET_KEY,  # every node signs and checks the same tokens
            "REST_CHANNEL_TOKEN": REST_TOKEN,
            "RASA_API_TOKEN": API_TOKEN,
            "SWITCHBOARD_API_TOKEN": API_TOKEN,
            "ACTION_SERVER_URL": f"http://127.0.0.1:{self.actions_lb}/webhook",
            "RASA_URL": self.rasa_url,
            "HANDOFF_OPENING_HOURS": "Mon-Sun 00:00-24:00",
            "HANDOFF_AUTO_ASSIGN": "false",
        }
        settings = Settings.from_env(env)
        log_dir = data_dir / "logs"
        log_dir.mkdir()
        return Node(name, settings, Stack(settings, self.model, log_dir=log_dir))

    def _start_haproxy(self) -> None:
        def servers(port_of) -> str:
            return "\n".join(f"  server {n.name} 127.0.0.1:{port_of(n.settings)} "
                             "check inter 1s fall 3 rise 2" for n in self.nodes)

        config = self.workdir / "haproxy.cfg"
        config.write_text(HAPROXY.format(
            rasa=self.rasa_lb, actions=self.actions_lb,
            rasa_servers=servers(lambda s: s.rasa_port),
            action_servers=servers(lambda s: s.action_port)))
        log = (self.workdir / "haproxy.log").open("w")
        self.haproxy = subprocess.Popen([shutil.which("haproxy") or "haproxy", "-db", "-f",
                                         str(config)], stdout=log, stderr=subprocess.STDOUT)


def wait_until(condition, timeout: float, step: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached in {timeout} s")
        time.sleep(step)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
