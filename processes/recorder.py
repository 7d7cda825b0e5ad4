"""The contact recorder's process: ``python -m processes.recorder``.

Applies the contact event streams to the database (``contacts.recorder``), holding a lease on
its share of the stream partitions (``contacts.partitions``): run as many as wanted. Serves
``/health`` (its thread alive, the cluster's unrecorded events) and ``/metrics`` on
``RECORDER_PORT``.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sanic import Sanic

from contacts.recorder import ContactRecorder, StreamConsumer
from processes.status_app import serve, status_app
from switchboard.log import get_logger
from switchboard.services import Services

log = get_logger(__name__)


def build_app(services: Services) -> Sanic:
    """The recorder thread (started with the server, stopped with it) and its status app."""
    settings = services.settings
    recorder = ContactRecorder(services.db, timedelta(minutes=settings.contact_timeout_minutes))
    app = status_app("switchboard_recorder", _health)
    app.ctx.services = services
    app.ctx.consumer = StreamConsumer(recorder, services.redis)
    app.register_listener(_start, "after_server_start")
    app.register_listener(_stop, "before_server_stop")
    return app


def _health(app: Sanic) -> tuple[bool, dict[str, Any]]:
    alive = app.ctx.thread.is_alive()
    return alive, {"recorder_lag": app.ctx.consumer.lag()}


async def _start(app: Sanic, _loop) -> None:
    app.ctx.thread = threading.Thread(target=app.ctx.consumer.run, name="contact-recorder",
                                      daemon=True)
    app.ctx.thread.start()
    log.info("contact_recorder.started")


async def _stop(app: Sanic, _loop) -> None:
    app.ctx.consumer.stop.set()
    app.ctx.thread.join(timeout=10)
    log.info("contact_recorder.stopped")


def main() -> None:
    serve("recorder", lambda settings: settings.recorder_port, build_app)


if __name__ == "__main__":
    main()
