"""What every Switchboard webhook channel shares: settings from the environment (not from
credentials.yml) and a health route at the channel's root."""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse


class WebhookChannel(InputChannel):
    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebhookChannel:
        return cls()  # settings come from switchboard.settings, never from credentials.yml

    def webhook_blueprint(self) -> Blueprint:
        """The channel's blueprint with ``GET /`` answering that it is up."""
        webhook = Blueprint(f"switchboard_{self.name()}", __name__)

        @webhook.get("/")
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        return webhook
