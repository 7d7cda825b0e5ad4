"""The queue's clock's process: ``python -m processes.queue_clock``.

Runs ``handoff.worker.run``: expiry, requeues, auto-assignment, queue positions, retention,
swept by one replica at a time (a Redis lease): run as many as wanted for availability. Serves
``/health`` and ``/metrics`` on ``QUEUE_CLOCK_PORT``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sanic import Sanic

from handoff import worker
from processes.status_app import serve, status_app
from switchboard.lease import Lease
from switchboard.log import get_logger
from switchboard.services import Services

log = get_logger(__name__)


def build_app(services: Services) -> Sanic:
    """The clock's task (started with the server, cancelled with it) and its status app."""
    app = status_app("switchboard_queue_clock", _health)
    app.ctx.services = services
    app.ctx.lease = Lease(services.redis, worker.CLOCK_LEASE, worker.LEASE_SECONDS)
    app.register_listener(_start, "after_server_start")
    app.register_listener(_stop, "before_server_stop")
    return app


def _health(app: Sanic) -> tuple[bool, dict[str, Any]]:
    running = not app.ctx.task.done()
    holder = app.ctx.services.redis.get(worker.CLOCK_LEASE)
    return running, {"sweeping": holder == app.ctx.lease.owner}


async def _start(app: Sanic, _loop) -> None:
    app.ctx.task = app.loop.create_task(worker.run(app.ctx.services.settings,
                                                   lease=app.ctx.lease))
    log.info("queue_clock.started", holder=app.ctx.lease.owner)


async def _stop(app: Sanic, _loop) -> None:
    app.ctx.task.cancel()  # its lease is handed on as it ends
    with contextlib.suppress(asyncio.CancelledError):
        await app.ctx.task
    log.info("queue_clock.stopped")


def main() -> None:
    serve("queue-clock", lambda settings: settings.queue_clock_port, build_app)


if __name__ == "__main__":
    main()
