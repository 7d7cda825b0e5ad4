"""TCP ports: one nobody uses for a test or benchmark server, and the check every process
makes before it serves.

A port picked from the kernel's ephemeral range (``bind(0)``) can be taken, between the pick
and the server's bind, as the local end of any outgoing connection (Redis clients, HTTP
calls): the server then cannot bind. Ports are therefore picked below that range
(``/proc/sys/net/ipv4/ip_local_port_range``), where the kernel never hands out local ends.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20000  # above the well-known and most registered services' ports
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nobody listens on now, outside the ephemeral range, never handed out twice
    in this process (for tests and benchmarks: their servers start after all are picked)."""
    highest = _ephemeral_start() - 1
    for _ in range(1000):
        port = random.randint(LOWEST, highest) if highest > LOWEST else _kernel_pick()
        if port not in _handed_out and _bindable("0.0.0.0", port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port between {LOWEST} and {highest}")


def ensure_free(name: str, host: str, port: int) -> None:
    """Stop the process ``name`` (exit 1, one line on stderr) if ``host:port`` cannot be
    bound now. Sanic 21.12 logs a failed bind and exits 0, as if asked to stop: the
    launcher, Kubernetes and the user must see a failure instead."""
    if not _bindable(host, port):
        raise SystemExit(f"{name}: port {port} on {host} is in use by another process; "
                         "stop it or choose another port")


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # not Linux: let the kernel pick


def _kernel_pick() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
