"""The action server as Switchboard runs it: rasa_sdk's app, made an internal service.

``python -m rasa_sdk`` listens on every interface and runs any action for whoever posts a
tracker, so a made-up tracker could ask for anyone's PUK. Here the same app (rasa_sdk's
``create_app``, nothing re-implemented) is bound to ``ACTION_SERVER_HOST`` (``127.0.0.1`` by
default), has no CORS, and answers ``/webhook`` and ``/actions`` only to a caller presenting
``Authorization: Bearer <ACTION_SERVER_TOKEN>`` (Rasa sends it: endpoints.yml). Its error
answers never echo the request (rasa_sdk's own handler returns the whole tracker in a 500).

Its process's entry point is ``processes/action_server.py``.
"""

from __future__ import annotations

import json
import time
import zlib

from rasa_sdk.endpoint import create_app
from sanic import Request, Sanic, response
from sanic.response import HTTPResponse

from switchboard import metrics
from switchboard.keys import action_server_token, token_matches
from switchboard.log import get_logger
from switchboard.settings import Settings

log = get_logger(__name__)
# Liveness for the launcher and orchestrators (says nothing), and the counts for Prometheus
# (no customer data; internal like the rest of this server).
OPEN_PATHS = ("/health", "/metrics")
ACTION_STATUS = {200: "ok", 400: "rejected", 404: "not_found"}  # anything else: failed


def build_app(settings: Settings) -> Sanic:
    """rasa_sdk's action app for ``actions``, with the caller check and a quiet error handler."""
    app = create_app("actions", cors_origins=None)
    token = action_server_token(settings)

    @app.middleware("request")
    async def only_rasa(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        if not token_matches(token, request.headers.get("authorization")):
            log.warning("action_server.refused", path=request.path)
            return response.json({"error": "missing or wrong bearer token"}, status=401)
        return None

    @app.exception(Exception)
    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        log.error("action_server.failed", error=type(exception).__name__, path=request.path)
        return response.json({"error": "the action failed"}, status=500)

    _measure_actions(app)
    return app


def _measure_actions(app: Sanic) -> None:
    """``GET /metrics``; each action call counted by action and status, and timed."""
    metrics.add_route(app)

    @app.middleware("request")
    async def started(request: Request) -> None:
        request.ctx.started = time.perf_counter()

    @app.middleware("response")
    async def measured(request: Request, answer: HTTPResponse) -> None:
        if request.path != "/webhook" or answer.status in (401, 404):
            return  # 401: not Rasa; 404: no such action (the name is not ours to label)
        action = _action_name(request)
        metrics.ACTIONS.labels(action, ACTION_STATUS.get(answer.status, "failed")).inc()
        metrics.ACTION_DURATION.labels(action).observe(
            time.perf_counter() - getattr(request.ctx, "started", time.perf_counter()))


def _action_name(request: Request) -> str:
    """The called action's name (Rasa may deflate the body: COMPRESS_ACTION_SERVER_REQUEST)."""
    try:
        body = request.body
        if request.headers.get("Content-Encoding") == "deflate":
            body = zlib.decompress(body)
        name = json.loads(body).get("next_action")
    except (ValueError, AttributeError, zlib.error):
        return "unknown"
    return name if isinstance(name, str) else "unknown"
