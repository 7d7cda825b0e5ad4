"""Start and stop the helpdesk's processes: embedded Redis, the action server, the Rasa server.

``switchboard run`` (behind ``make run``) and the test suite start the stack through this one
module, so what the tests exercise is what users run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil
import redis

from switchboard.keys import action_server_token, rasa_api_token
from switchboard.log import get_logger
from switchboard.redis_client import redis_client
from switchboard.settings import PROJECT_ROOT, Settings

log = get_logger(__name__)


class StartupError(RuntimeError):
    """A process of the stack did not come up; the message says which and why."""


@dataclass
class ManagedProcess:
    """One child process with a readiness probe."""

    name: str
    command: list[str]
    is_ready: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=dict)
    startup_timeout: float = 60.0
    log_path: Path | None = None
    cwd: Path = PROJECT_ROOT
    workers: int = 0  # worker child processes it forks (Sanic's): one gone means restart it
    settle_seconds: float = 30.0  # how long it may take to fork its workers
    popen: subprocess.Popen | None = None
    _log_file: IO[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self) -> None:
        output = None
        if self.log_path is not None:
            self._log_file = self.log_path.open("ab")
            output = self._log_file
        self.popen = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,  # our own process group: stop() reaches Sanic's workers too
        )
        self.started_at = time.monotonic()
        log.info("process.started", process=self.name, pid=self.popen.pid)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise StartupError(f"{self.name} exited with code {self.popen.returncode}"
                                   f"{self._log_hint()}")
            if self.is_ready():
                log.info("process.ready", process=self.name)
                return
            time.sleep(0.5)
        raise StartupError(f"{self.name} was not ready after {self.startup_timeout:.0f} s"
                           f"{self._log_hint()}")

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def lost_workers(self) -> bool:
        """Alive, but fewer worker children than it forked (Sanic does not replace them)."""
        if not self.workers or not self.alive() or \
                time.monotonic() - self.started_at < self.settle_seconds:
            return False  # still forking its workers
        try:
            main = psutil.Process(self.popen.pid)
            command = main.cmdline()
            workers = [c for c in main.children()  # forks run the same command line
                       if c.status() != psutil.STATUS_ZOMBIE and c.cmdline() == command]
        except psutil.Error:
            return False
        return len(workers) < self.workers

    def stop(self, timeout: float = 20.0) -> None:
        """Stop its whole process group, even when the main process is already dead: Sanic's
        workers outlive a main killed with -9 (re-parented, still holding the port), and
        would keep its replacement from binding."""
        if self.popen is not None:
            alive = self.alive()
            self._signal_group(signal.SIGTERM)
            if not self._group_gone(timeout):
                self._signal_group(signal.SIGKILL)
                self._group_gone(timeout)
            if alive:
                log.info("process.stopped", process=self.name, returncode=self.popen.returncode)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)  # start_new_session: its group id is its pid

    def _group_gone(self, timeout: float) -> bool:
        """Wait until no live process is left in its group (zombies do not count)."""
        deadline = time.monotonic() + timeout
        while True:
            self.popen.poll()  # reap the main process if it ended
            if not _live_members(self.popen.pid):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def _log_hint(self) -> str:
        return f" (see {self.log_path})" if self.log_path else ""


def _live_members(group: int) -> list[int]:
    """The pids of the process group's members that are not zombies."""
    members = []
    for process in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(process.pid) == group and \
                    process.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def http_ok(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    return probe


def redis_answers(settings: Settings) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return bool(redis_client(settings).ping())
        except redis.RedisError:
            return False

    return probe


def embedded_redis(settings: Settings, log_dir: Path | None) -> ManagedProcess:
    binary = shutil.which("redis-server")
    if binary is None:
        raise StartupError(
            "redis-server is not installed: run `make system-deps` (Debian package redis-server)"
            " or set REDIS_URL to an existing Redis server"
        )
    redis_dir = settings.data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    command = [
        binary,
        "--port", str(settings.embedded_redis_port),
        "--bind", "127.0.0.1",
        "--dir", str(redis_dir),
        "--appendonly", "yes",  # AOF: queued conversations and trackers survive a restart
        "--save", "",
    ]
    return ManagedProcess(
        "redis", command, redis_answers(settings), log_path=_log(log_dir, "redis")
    )


def action_server(settings: Settings, log_dir: Path | None) -> ManagedProcess:
    command = [sys.executable, "-m", "processes.action_server"]  # host, port, token: env
    return ManagedProcess(
        "action-server", command, http_ok(f"http://127.0.0.1:{settings.action_port}/health"),
        env=_child_env(settings), startup_timeout=90, log_path=_log(log_dir, "actions"),
    )


def rasa_server(settings: Settings, model: Path, log_dir: Path | None) -> ManagedProcess:
    command = [
        sys.executable, "-m", "processes.rasa_server", "run",
        "--model", str(model),
        "--endpoints", str(PROJECT_ROOT / "endpoints.yml"),
        "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        "--port", str(settings.rasa_port),
    ]
    command += ["--enable-api"]  # its token by environment (processes.rasa_server), not argv
    env = {
        **_child_env(settings),
        **rasa_env(settings),
        "SANIC_WORKERS": str(settings.rasa_workers),
        # Sanic's access log costs ~3 ms CPU per message and writes conversation ids to the log.
        "SANIC_ACCESS_LOG": "false",
    }
    return ManagedProcess(
        "rasa", command, http_ok(f"http://127.0.0.1:{settings.rasa_port}/webhooks/rest/"),
        env=env, startup_timeout=300, log_path=_log(log_dir, "rasa"),
        workers=settings.rasa_workers if settings.rasa_workers > 1 else 0,
    )


def rasa_env(settings: Settings) -> dict[str, str]:
    """What a Rasa process (server or shell) needs in its environment: the values endpoints.yml
    expands, its API token, and the header it sends the action server on every call."""
    return {**settings.rasa_endpoint_env(), "RASA_API_TOKEN": rasa_api_token(settings),
            "ACTION_SERVER_AUTHORIZATION": f"Bearer {action_server_token(settings)}"}


def console_server(settings: Settings, log_dir: Path | None) -> ManagedProcess:
    """The agent console and the contacts API (processes/console.py)."""
    return _status_server("console", "processes.console", settings.console_port, settings,
                          log_dir)


def recorder(settings: Settings, log_dir: Path | None) -> ManagedProcess:
    """The contact recorder (processes/recorder.py)."""
    return _status_server("recorder", "processes.recorder", settings.recorder_port, settings,
                          log_dir)


def queue_clock(settings: Settings, log_dir: Path | None) -> ManagedProcess:
    """The queue's clock (processes/queue_clock.py)."""
    return _status_server("queue-clock", "processes.queue_clock", settings.queue_clock_port,
                          settings, log_dir)


def _status_server(name: str, module: str, port: int, settings: Settings,
                   log_dir: Path | None) -> ManagedProcess:
    return ManagedProcess(
        name, [sys.executable, "-m", module], http_ok(f"http://127.0.0.1:{port}/health"),
        env=_child_env(settings), startup_timeout=60, log_path=_log(log_dir, name),
    )


def telegram_poller(settings: Settings, log_dir: Path | None) -> ManagedProcess:
    """Long-polls Telegram for local development (TELEGRAM_MODE=polling)."""
    command = [sys.executable, "-m", "processes.telegram_poller"]
    return ManagedProcess("telegram-poller", command, lambda: True, env=_child_env(settings),
                          log_path=_log(log_dir, "telegram-poller"))


def _child_env(settings: Settings) -> dict[str, str]:
    threads = str(settings.tf_threads)
    return {
        **settings.to_env(),
        "TF_INTRA_OP_PARALLELISM_THREADS": threads,
        "TF_INTER_OP_PARALLELISM_THREADS": threads,
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def _log(log_dir: Path | None, name: str) -> Path | None:
    if log_dir is None:
        return None
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"{name}.log"


HEALTHY_SECONDS = 60.0  # up this long: the next death starts the backoff afresh


def _backoff(restarts: int) -> float:
    return 0.0 if restarts == 0 else min(2.0 ** (restarts - 1), 60.0)


def make_private(data_dir: Path) -> None:
    """Everything under the data directory (database, Redis AOF, keys, logs, outbox) readable by
    its owner only: the directory 0700, files 0600, and this process and its children create
    new ones that way (umask 077). Tightens what an earlier version left open."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    for path in [data_dir, *data_dir.rglob("*")]:
        if not path.is_symlink():
            path.chmod(stat.S_IMODE(path.stat().st_mode) & 0o700)


class Stack:
    """The running helpdesk: started in dependency order, stopped in reverse."""

    def __init__(self, settings: Settings, model: Path, log_dir: Path | None = None) -> None:
        make_private(settings.data_dir)
        self.settings = settings
        self.processes: list[ManagedProcess] = []
        if settings.embedded_redis:
            self.processes.append(embedded_redis(settings, log_dir))
        self.processes.append(console_server(settings, log_dir))
        self.processes.append(recorder(settings, log_dir))
        self.processes.append(queue_clock(settings, log_dir))
        self.processes.append(action_server(settings, log_dir))
        self.processes.append(rasa_server(settings, model, log_dir))
        if settings.telegram_token and settings.telegram_mode == "polling":
            self.processes.append(telegram_poller(settings, log_dir))

    def start(self) -> None:
        from switchboard import migrate
        from switchboard.db import database

        migrate.upgrade(database(self.settings))  # before any process touches the database
        if self.settings.demo_data:
            from accounts.demo import seed_demo
            from handoff.agents import seed_demo_agents

            seed_demo(database(self.settings))
            with database(self.settings).transaction() as session:
                seed_demo_agents(session)
        try:
            for process in self.processes:
                process.start()
                if process.name == "redis":  # everything after needs Redis up
                    process.wait_ready()
            for process in self.processes:
                process.wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def first_dead(self) -> ManagedProcess | None:
        return next((p for p in self.processes if not p.alive()), None)

    def supervise_once(self, now: float | None = None) -> list[str]:
        """Restart each child that died or lost a worker, with backoff (1 s, doubling to 60 s
        while it keeps dying within a minute of starting); the others keep serving. Returns
        the names restarted."""
        now = time.monotonic() if now is None else now
        restarted = []
        for process in self.processes:
            dead, crippled = not process.alive(), process.lost_workers()
            if not (dead or crippled):
                if now - process.started_at > HEALTHY_SECONDS:
                    process.restarts = 0
                continue
            if now < process.started_at + _backoff(process.restarts):
                continue
            log.error("process.died" if dead else "process.lost_worker", process=process.name,
                      returncode=process.popen.returncode if process.popen else None,
                      restarts=process.restarts)
            process.stop()
            process.restarts += 1
            process.start()
            restarted.append(process.name)
        return restarted

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
