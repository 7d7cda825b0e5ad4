"""The action server as Switchboard runs it: rasa_sdk's app, made an internal service.

``python -m rasa_sdk`` listens on every interface and runs any action for whoever posts a
tracker, so a made-up tracker could ask for anyone's PUK. Here the same app (rasa_sdk's
``create_app``, nothing re-implemented) is bound to ``ACTION_SERVER_HOST`` (``127.0.0.1`` by
default), has no CORS, and answers ``/webhook`` and ``/actions`` only to a caller presenting
``Authorization: Bearer <ACTION_SERVER_TOKEN>`` (Rasa sends it: endpoints.yml). Its error
answers never echo the request (rasa_sdk's own handler returns the whole tracker in a 500).

Run as ``python -m actions.server``; settings come from the environment (switchboard.settings).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Request, Sanic, response
from sanic.response import HTTPResponse

from switchboard.keys import action_server_token, token_matches
from switchboard.log import configure_logging, get_logger
from switchboard.settings import Settings, load_settings

log = get_logger(__name__)
OPEN_PATHS = ("/health",)  # liveness for the launcher and orchestrators: says nothing


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

    return app


def main(settings: Settings | None = None) -> None:
    settings = settings or load_settings()
    configure_logging(settings)
    app = build_app(settings)
    kwargs: dict[str, Any] = {"workers": utils.number_of_sanic_workers(), "access_log": False}
    app.run(settings.action_server_host, settings.action_port, **kwargs)


if __name__ == "__main__":
    main()
