"""The REST channel for integrations and tests: ``POST /webhooks/rest/webhook``.

Body: ``{"sender": "<conversation id>", "message": "<text>", "message_id": "<optional id>",
"metadata": {...optional}}``, with ``Authorization: Bearer <REST_CHANNEL_TOKEN>``: integrations
are trusted systems that hold the token (401 without it). Their conversations live in their
own namespace: ``sender`` ``4711`` is the conversation ``rest:4711``, so no REST caller can
address a conversation of another channel (``sms:...``, ``webchat:...``). Sender ids are
1-123 of ``A-Z a-z 0-9 _ . : @ -`` (400 otherwise), so the id is the same in every path that
carries it (URLs included). Client metadata is kept under ``metadata["client"]`` and never
carries trust (it cannot claim a verified number or a button press).
Unlike Rasa's own REST channel it validates the payload (400 with the reason), takes the
client's message id so a retried request is answered once and recorded once (a retry of a
message still being answered gets 409, one that failed with 503 is processed afresh), and never
puts customer text in the logs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from bot.channels.base import WebhookChannel, is_text, printable
from bot.gateway import Inbound, Outcome, deliver, to_completion
from switchboard.keys import rest_token, token_matches

MAX_TEXT = 4096
MAX_ID = 128
NAMESPACE = "rest:"
# The contact record keeps conversation ids of up to 128 characters: "rest:" plus 123.
MAX_SENDER = 128 - len(NAMESPACE)
SENDER = re.compile(rf"[A-Za-z0-9_.:@-]{{1,{MAX_SENDER}}}")


MAX_METADATA_DEPTH = 20


def _depth(value: Any, limit: int = MAX_METADATA_DEPTH + 1) -> int:
    """How deeply ``value`` nests (objects and arrays), counted no further than ``limit``."""
    if limit == 0 or not isinstance(value, (dict, list)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(item, limit - 1) for item in items), default=0)


class PayloadError(ValueError):
    pass


class RestInput(WebhookChannel):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint()
        token = rest_token(self.services.settings)

        @webhook.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            if not token_matches(token, request.headers.get("authorization")):
                return response.json({"error": "missing or wrong bearer token"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
            try:
                sender, text, message_id, metadata = parse_payload(request)
            except PayloadError as exc:
                return response.json({"error": str(exc)}, status=400)
            collector = CollectingOutputChannel()
            inbound = Inbound(self.name(), NAMESPACE + sender, text, message_id,
                              {"client": metadata} if metadata else {})
            try:
                outcome = await to_completion(deliver(inbound, collector, on_new_message,
                                                      self.services))
            except RedisError:
                return response.json({"error": "temporarily unavailable, retry"}, status=503,
                                     headers={"Retry-After": "1"})
            if outcome is Outcome.BUSY:  # the same message id, still being answered
                return response.json({"error": "this message is being answered; retry"},
                                     status=409, headers={"Retry-After": "1"})
            return response.json(collector.messages)  # empty for a redelivered message

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
    message_id = body.get("message_id")
    if message_id is None:  # absent: a retry is a new message (README)
        message_id = uuid.uuid4().hex
    metadata = body.get("metadata")
    if not isinstance(sender, str) or not SENDER.fullmatch(sender):
        raise PayloadError(f"'sender' must be 1 to {MAX_SENDER} of the characters A-Z a-z 0-9 "
                           "_ . : @ -")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise PayloadError(f"'message' must be a string of at most {MAX_TEXT} characters")
    if not printable(text).strip():  # "", spaces or control characters: nothing was said
        raise PayloadError("'message' must have at least one visible character")
    if not is_text(text) or (isinstance(message_id, str) and not is_text(message_id)):
        raise PayloadError("'message' and 'message_id' must be valid Unicode text")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_ID:
        raise PayloadError(f"'message_id' must be a string of 1 to {MAX_ID} characters")
    if metadata is not None and not isinstance(metadata, dict):
        raise PayloadError("'metadata' must be an object")
    if metadata is not None and _depth(metadata) > MAX_METADATA_DEPTH:
        # Rasa copies metadata recursively: ~500 levels raised RecursionError mid-turn, a bot
        # failure that queued the conversation for an agent.
        raise PayloadError(f"'metadata' may nest at most {MAX_METADATA_DEPTH} levels")
    return sender, text, message_id, metadata
