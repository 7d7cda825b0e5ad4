"""`make run`'s supervisor (processes.launcher.Stack.supervise_once): a child that dies is
started again with backoff, a server that lost a forked worker is restarted, and the others keep
serving; on the running stack, killing the action server or the contact recorder loses nothing."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid

import psutil

from processes.launcher import ManagedProcess, Stack
from tests.conftest import PASSWORD
from tests.helpers import http

FORKS_TWO = """
import os, time
for _ in range(2):
    if os.fork() == 0:
        while True:
            time.sleep(1)
while True:
    time.sleep(1)
"""


def bare_stack(*processes: ManagedProcess) -> Stack:
    stack = Stack.__new__(Stack)  # no Redis or Rasa: just the supervision of these processes
    stack.processes = list(processes)
    return stack


def wait_for_workers(server: ManagedProcess, count: int = 2) -> None:
    """Until the server forked ``count`` workers, or ended (the caller checks which)."""
    deadline = time.monotonic() + 10
    while server.popen.poll() is None and len(
            psutil.Process(server.popen.pid).children()) < count:
        assert time.monotonic() < deadline, f"{server.name} did not fork {count} workers"
        time.sleep(0.1)


def test_a_dead_child_is_restarted_with_growing_backoff():
    dies = ManagedProcess("dies", [sys.executable, "-c", "raise SystemExit(3)"], lambda: True)
    stack = bare_stack(dies)
    dies.start()
    dies.popen.wait(10)
    try:
        assert stack.supervise_once() == ["dies"]  # first death: at once
        dies.popen.wait(10)
        assert stack.supervise_once() == []  # died again at once: wait 1 s
        time.sleep(1.1)
        assert stack.supervise_once() == ["dies"]
        dies.popen.wait(10)
        time.sleep(1.1)
        assert stack.supervise_once() == []  # now 2 s
        time.sleep(1.0)
        assert stack.supervise_once() == ["dies"] and dies.restarts == 3
    finally:
        dies.stop()


def test_a_server_that_lost_a_worker_is_restarted():
    server = ManagedProcess("forks", [sys.executable, "-c", FORKS_TWO], lambda: True,
                            workers=2, settle_seconds=0.5)
    stack = bare_stack(server)
    server.start()
    try:
        wait_for_workers(server)
        time.sleep(0.6)
        assert stack.supervise_once() == []  # healthy: left alone
        first = server.popen.pid
        os.kill(psutil.Process(first).children()[0].pid, signal.SIGKILL)
        time.sleep(0.3)
        assert stack.supervise_once() == ["forks"]
        assert server.popen.pid != first and server.alive()
    finally:
        server.stop()


LISTENS_WITH_TWO_WORKERS = """
import os, socket, sys, time
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
for _ in range(2):
    if os.fork() == 0:  # workers share the listening socket, as Sanic's do
        while True:
            time.sleep(1)
while True:
    time.sleep(1)
"""


def test_a_main_process_killed_alone_takes_its_orphaned_workers_with_it():
    """kill -9 of a server's main process only: its forked workers live on, re-parented, and
    keep its port; the supervisor stops the whole group before starting it again, so the new
    one can bind the port (found by a newcomer: Rasa restarted five times on "Address already
    in use" and the old workers outlived make run)."""
    from processes.ports import free_port

    port = free_port()
    server = ManagedProcess("listens", [sys.executable, "-c", LISTENS_WITH_TWO_WORKERS,
                                        str(port)], lambda: True, workers=2, settle_seconds=0.5)
    stack = bare_stack(server)
    server.start()
    try:
        wait_for_workers(server)
        orphans = [c.pid for c in psutil.Process(server.popen.pid).children()]
        os.kill(server.popen.pid, signal.SIGKILL)  # the main only, not its group
        server.popen.wait(10)
        assert all(psutil.pid_exists(pid) for pid in orphans)  # the workers live on
        assert stack.supervise_once() == ["listens"]
        assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status()
                       != psutil.STATUS_ZOMBIE for pid in orphans)
        wait_for_workers(server)
        assert server.alive()  # bound the port the orphans no longer hold
    finally:
        server.stop()


def process(assistant, name: str) -> ManagedProcess:
    return next(p for p in assistant.stack.processes if p.name == name)


def wait_healthy(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http("GET", url)[0] == 200:
                return
        except OSError:  # not listening yet
            pass
        assert time.monotonic() < deadline, f"{url} did not come back"
        time.sleep(0.5)


def test_a_killed_action_server_comes_back_and_serves(assistant, sender, subscriber):
    actions = process(assistant, "action-server")
    os.killpg(actions.popen.pid, signal.SIGKILL)
    actions.popen.wait(10)
    assert assistant.stack.supervise_once() == ["action-server"]
    wait_healthy(f"http://127.0.0.1:{assistant.settings.action_port}/health")
    from tests.test_self_service import verify_by_password

    answer = verify_by_password(assistant, sender, subscriber)
    assert "you're verified" in answer and PASSWORD not in answer


def test_a_killed_recorder_comes_back_and_records_what_was_said_meanwhile(assistant):
    recorder = process(assistant, "recorder")
    os.killpg(recorder.popen.pid, signal.SIGKILL)
    recorder.popen.wait(10)
    sender = f"rest:meanwhile-{uuid.uuid4().hex[:8]}"
    assistant.say(sender, "what roaming options do you have?")  # the recorder is down
    assert assistant.stack.supervise_once() == ["recorder"]
    wait_healthy(f"http://127.0.0.1:{assistant.settings.recorder_port}/health")
    [contact] = assistant.contacts(sender)
    assert [t["author"] for t in contact["touches"]] == ["customer", "bot"]
