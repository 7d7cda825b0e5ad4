"""What every Switchboard input channel shares: the process's ``Services`` (settings from the
environment, not from credentials.yml), and for webhook channels a health route at the root."""

from __future__ import annotations

import re
from typing import Any

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from switchboard.services import Services, installed


class SwitchboardChannel(InputChannel):
    """A channel Rasa builds itself (credentials.yml): it keeps the Services the process's root
    installed, and passes them to everything it calls."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SwitchboardChannel:
        return cls(installed())  # settings come from the root, never from credentials.yml


class WebhookChannel(SwitchboardChannel):
    def webhook_blueprint(self) -> Blueprint:
        """The channel's blueprint with ``GET /`` answering that it is up."""
        webhook = Blueprint(f"switchboard_{self.name()}", __name__)

        @webhook.get("/")
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        return webhook


def is_text(value: str) -> bool:
    """Encodable as UTF-8: a lone surrogate (JSON allows "\\ud800") is not text, and the contact
    record could not store it (a channel answers 400 or an error frame instead)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# C0 controls but tab, line feed and carriage return; DEL; C1 controls (U+0080-U+009F).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """The text without control characters: PostgreSQL cannot store NUL (the contact recorder
    could never write the message), and escape sequences would reach the terminal of an
    operator reading the record (``switchboard contacts show``)."""
    return _CONTROLS.sub("", text)
