"""The REST channel for integrations and tests: ``POST /webhooks/rest/webhook``.

Body: ``{"sender": "<conversation id>", "message": "<text>", "message_id": "<optional id>"}``.
Unlike Rasa's own REST channel it validates the payload (400 with the reason), takes the
client's message id so a retried request is answered once and recorded once, and never puts
customer text in the logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from bot.gateway import first_delivery
from switchboard.log import conversation_ref, get_logger

log = get_logger(__name__)

MAX_TEXT = 4096
MAX_ID = 128
APOLOGY = ("Sorry, something went wrong on our side while answering. Your message is saved; "
           "please try again in a moment.")


class PayloadError(ValueError):
    pass


class RestInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("switchboard_rest", __name__)

        @webhook.get("/")
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, message_id, metadata = parse_payload(request)
            except PayloadError as exc:
                return response.json({"error": str(exc)}, status=400)
            try:
                if not await first_delivery(self.name(), sender, message_id):
                    return response.json([])  # answered already: no second reply
            except RedisError:
                return response.json({"error": "temporarily unavailable, retry"}, status=503)
            collector = CollectingOutputChannel()
            message = UserMessage(text, collector, sender, input_channel=self.name(),
                                  message_id=message_id, metadata=metadata)
            try:
                await on_new_message(message)
            except Exception as exc:  # the customer gets an apology, never a stack trace
                log.error("rest.message_failed", conversation=conversation_ref(sender),
                          error=type(exc).__name__)
                return response.json([{"recipient_id": sender, "text": APOLOGY}])
            return response.json(collector.messages)

        return webhook


def parse_payload(request: Request) -> tuple[str, str, str, dict[str, Any] | None]:
    """Sender, text, message id and metadata from the body; PayloadError says what is wrong."""
    try:
        body = request.json
    except Exception as exc:  # Sanic's own error for malformed JSON
        raise PayloadError("the body must be JSON") from exc
    if not isinstance(body, dict):
        raise PayloadError("the body must be a JSON object")
    sender, text = body.get("sender"), body.get("message")
    message_id = body.get("message_id") or uuid.uuid4().hex
    metadata = body.get("metadata")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_ID:
        raise PayloadError(f"'sender' must be a non-empty string of at most {MAX_ID} characters")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise PayloadError(f"'message' must be a string of at most {MAX_TEXT} characters")
    if not isinstance(message_id, str) or len(message_id) > MAX_ID:
        raise PayloadError(f"'message_id' must be a string of at most {MAX_ID} characters")
    if metadata is not None and not isinstance(metadata, dict):
        raise PayloadError("'metadata' must be an object")
    return sender, text, message_id, metadata
