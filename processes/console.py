"""The console's process: ``python -m processes.console``, on ``CONSOLE_PORT``.

The agent console (``handoff/console/``) and the contacts REST API (``contacts/api.py``),
stateless between requests (sessions and live updates go through Redis): run as many as
wanted behind a load balancer. ``/health`` says whether Redis answers and how many contact
events wait to be recorded (the recorders' lag, cluster-wide); ``/metrics`` also reports the
helpdesk's state (queues, agents, recorder lag, dead letters) read from Redis when scraped.
"""

from __future__ import annotations

import time
from collections import Counter

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from contacts import events
from contacts.api import blueprint
from handoff import presence, queue
from handoff.console import blueprint as console_blueprint
from processes.status_app import serve
from switchboard import metrics
from switchboard.keys import api_token
from switchboard.log import get_logger
from switchboard.services import Services

log = get_logger(__name__)
MAX_REQUEST_BYTES = 1024 * 1024  # Sanic reads up to 100 MB unchecked otherwise


def create_app(services: Services) -> Sanic:
    """The console and API app, built on this process's services."""
    settings = services.settings
    app = Sanic("switchboard_console")
    app.config.FALLBACK_ERROR_FORMAT = "json"  # errors as JSON, never an HTML traceback
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES  # console forms and API calls are small
    app.ctx.services = services
    app.ctx.settings = settings
    app.ctx.db = services.db
    app.ctx.api_token = api_token(settings)
    app.blueprint(blueprint)
    app.blueprint(console_blueprint)  # the agent console (handoff/console/)
    app.add_route(health, "/health")
    metrics.add_route(app)  # GET /metrics, with the queue, agents and recorder read from Redis
    metrics.read_state_with(lambda: helpdesk_state(services))
    return app


async def health(request: Request) -> HTTPResponse:
    """Liveness: Redis answers; plus the contact events not yet recorded (every stream)."""
    try:
        lag = events.unrecorded(request.app.ctx.services.redis)
    except Exception as exc:  # Redis down: say so without a traceback
        return json({"status": "degraded", "redis": type(exc).__name__}, status=503)
    return json({"status": "ok", "recorder_lag": lag})


def helpdesk_state(services: Services) -> metrics.HelpdeskState:
    """The queue, the agents and the recorder as a scrape reports them (blocking Redis)."""
    settings, client, now = services.settings, services.redis, time.time()
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


def main() -> None:
    serve("console", lambda settings: settings.console_port, create_app)


if __name__ == "__main__":
    main()
