"""The small HTTP face of a process that serves nothing else (the recorder, the queue's
clock): ``GET /health`` for the launcher and Kubernetes probes, ``GET /metrics`` for
Prometheus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from switchboard import metrics

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
