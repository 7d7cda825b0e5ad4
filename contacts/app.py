"""The contacts and console process, on the console port: the contacts REST API, the contact
recorder, the agent console (handoff/console/) and the queue's clock (handoff/worker.py).

``python -m contacts.app`` (the launcher starts it). One process on purpose: the recorder must
be the stream's only consumer so each conversation's events are applied in order.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from contacts import events
from contacts.api import blueprint
from contacts.recorder import ContactRecorder, StreamConsumer
from handoff import presence, queue, worker
from handoff.console import blueprint as console_blueprint
from switchboard import metrics, migrate
from switchboard.db import database
from switchboard.keys import api_token
from switchboard.log import configure_logging, get_logger
from switchboard.redis_client import redis_client
from switchboard.services import Services, install
from switchboard.settings import Settings, load_settings

log = get_logger(__name__)
MAX_REQUEST_BYTES = 1024 * 1024  # Sanic reads up to 100 MB unchecked otherwise


def create_app(settings: Settings) -> Sanic:
    app = Sanic("switchboard_contacts")
    app.config.FALLBACK_ERROR_FORMAT = "json"  # errors as JSON, never an HTML traceback
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES  # console forms and API calls are small
    app.ctx.services = install(Services(settings))  # for the blueprints' handlers
    app.ctx.settings = settings
    app.ctx.db = database(settings)
    app.ctx.api_token = api_token(settings)
    recorder = ContactRecorder(app.ctx.db, timedelta(minutes=settings.contact_timeout_minutes))
    app.ctx.consumer = StreamConsumer(recorder, redis_client(settings))
    app.blueprint(blueprint)
    app.blueprint(console_blueprint)  # the agent console (handoff/console/)
    app.add_route(health, "/health")
    metrics.add_route(app)  # GET /metrics, with the queue, agents and recorder read from Redis
    metrics.read_state_with(lambda: helpdesk_state(settings))
    app.register_listener(_start_recorder, "after_server_start")
    app.register_listener(_stop_recorder, "before_server_stop")
    return app


async def health(request: Request) -> HTTPResponse:
    """Liveness plus the recorder's lag (events appended but not yet in the database)."""
    consumer: StreamConsumer = request.app.ctx.consumer
    try:
        lag = consumer.lag()
    except Exception as exc:  # Redis down: say so without a traceback
        return json({"status": "degraded", "redis": type(exc).__name__}, status=503)
    recorder_alive = request.app.ctx.recorder_thread.is_alive()
    return json({"status": "ok" if recorder_alive else "degraded", "recorder_lag": lag},
                status=200 if recorder_alive else 503)


def helpdesk_state(settings: Settings) -> metrics.HelpdeskState:
    """The queue, the agents and the recorder as a scrape reports them (blocking Redis)."""
    client, now = redis_client(settings), time.time()
    agents, chats, seats = Counter(), Counter(), Counter()
    for agent in presence.everyone(client):
        status = agent.effective_status(now, settings.agent_timeout_seconds)
        agents[status] += 1
        chats[status] += agent.load
        seats[status] += agent.capacity
    return metrics.HelpdeskState(
        queue=queue.queue_stats(client, now), agents=agents, chats=chats, seats=seats,
        recorder_lag=events.unrecorded(client), dead_letters=client.xlen(events.DEAD_LETTERS),
        max_wait_seconds=settings.handoff_max_wait_minutes * 60)


async def _start_recorder(app: Sanic, _loop) -> None:
    thread = threading.Thread(target=app.ctx.consumer.run, name="contact-recorder", daemon=True)
    app.ctx.recorder_thread = thread
    thread.start()
    app.ctx.queue_worker = app.add_task(worker.run(app.ctx.settings))  # the queue's clock
    log.info("contact_recorder.started")


async def _stop_recorder(app: Sanic, _loop) -> None:
    app.ctx.consumer.stop.set()
    app.ctx.queue_worker.cancel()
    app.ctx.recorder_thread.join(timeout=10)
    log.info("contact_recorder.stopped")


def main() -> None:
    settings = load_settings()
    configure_logging(settings)
    metrics.prepare(settings.data_dir, "console", settings.console_port)
    migrate.upgrade(database(settings))  # alembic upgrade head: safe on every start
    app = create_app(settings)
    app.run(host="0.0.0.0", port=settings.console_port, workers=1, access_log=False,
            motd=False)


if __name__ == "__main__":
    main()
