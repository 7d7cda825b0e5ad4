"""What the console, the recorder and the queue clock share: their composition root
(``serve``) and, for the two that serve nothing else, a small HTTP face (``status_app``):
``GET /health`` for the launcher and Kubernetes probes, ``GET /metrics`` for Prometheus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from processes.ports import ensure_free
from switchboard import metrics, migrate
from switchboard.log import configure_logging
from switchboard.services import Services
from switchboard.settings import Settings, load_settings

Health = Callable[[Sanic], tuple[bool, dict[str, Any]]]


def status_app(name: str, health: Health) -> Sanic:
    """A Sanic app named ``name``; ``health(app)`` says (healthy, details): 200 or 503."""
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"  # errors as JSON, never an HTML traceback
    app.config.REQUEST_MAX_SIZE = 64 * 1024  # nothing here takes a body

    async def health_route(request: Request) -> HTTPResponse:
        try:
            healthy, details = health(request.app)
        except Exception as exc:  # Redis down: say so without a traceback
            return json({"status": "degraded", "error": type(exc).__name__}, status=503)
        return json({"status": "ok" if healthy else "degraded", **details},
                    status=200 if healthy else 503)

    app.add_route(health_route, "/health", methods=["GET"])
    metrics.add_route(app)
    return app


def serve(name: str, port: Callable[[Settings], int], build: Callable[[Services], Sanic]) -> None:
    """A process's root: the settings read once, logging, its metrics directory, the schema
    (alembic upgrade head under its lock: safe on every start), then ``build(services)``
    served on ``port(settings)`` with one worker."""
    services = Services(load_settings())
    settings = services.settings
    ensure_free(name, "0.0.0.0", port(settings))
    configure_logging(settings)
    metrics.prepare(settings.data_dir, name, port(settings))
    migrate.upgrade(services.db)
    build(services).run(host="0.0.0.0", port=port(settings), workers=1, access_log=False,
                        motd=False)
