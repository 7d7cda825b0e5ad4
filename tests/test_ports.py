"""Every server of the stack gets a port it can bind, and one that cannot bind says so.

The last CI failure of this kind: the console's port, picked by ``bind(0)`` from the
kernel's ephemeral range, was taken as the local end of another process's outgoing
connection before the console bound it; Sanic logged the failure and exited 0, which read
as a clean stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from processes.ports import EPHEMERAL_RANGE, free_port


def test_picked_ports_are_distinct_and_outside_the_ephemeral_range():
    ephemeral_start = int(EPHEMERAL_RANGE.read_text().split()[0])
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(port < ephemeral_start for port in ports)
    with socket.socket() as outgoing_end:  # what the kernel gives a client's local end
        outgoing_end.bind(("127.0.0.1", 0))
        assert outgoing_end.getsockname()[1] >= ephemeral_start


@pytest.mark.parametrize("process, variable", [
    ("console", "CONSOLE_PORT"), ("recorder", "RECORDER_PORT"),
    ("queue_clock", "QUEUE_CLOCK_PORT"), ("action_server", "ACTION_SERVER_PORT"),
    ("rasa_server run", "RASA_PORT"),
])
def test_a_server_whose_port_is_taken_fails_naming_it(process, variable, tmp_path):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(tmp_path), variable: str(port)}
        env.pop("DATABASE_URL", None)
        module, *arguments = process.split()
        done = subprocess.run([sys.executable, "-m", f"processes.{module}", *arguments],
                              env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"port {port}" in done.stderr and "in use" in done.stderr
    assert "Traceback" not in done.stderr
