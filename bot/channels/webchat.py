"""Web chat: a page and widget served by the Rasa server, talking over a WebSocket.

- ``GET /webhooks/webchat/``: the chat page (plain HTML and JavaScript, no CDN, no build step).
- ``WS /webhooks/webchat/socket``: the widget's socket. Client frames are JSON:
  ``{"type": "hello", "session_id": "..."|null}`` first, then
  ``{"type": "message", "text": "...", "id": "<client message id>"}``. Server frames:
  ``session`` (the session id to keep in local storage), ``history`` (recent turns, on every
  connect), ``bot`` (a reply: text and buttons), ``error``.
Replies travel through Redis pub/sub (one channel per session), so they reach the open socket
whichever Rasa worker (or, later, the agent console) produced them.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from bot.gateway import Inbound, deliver
from contacts import events, service
from contacts.events import SECRET_SLOTS
from contacts.masking import mask_secrets
from switchboard.db import database
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client, redis_client

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "webchat_static"
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_TEXT = 4096
MAX_ID = 128
HISTORY_TURNS = 30
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}


def _topic(session_id: str) -> str:
    return f"switchboard:webchat:{session_id}"


def sender_of(session_id: str) -> str:
    return f"webchat:{session_id}"


class WebchatOutput(OutputChannel):
    """Publishes replies to a web chat session; usable from any process."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id

    @classmethod
    def name(cls) -> str:
        return "webchat"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._publish({"type": "bot", "text": text, "buttons": []})

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        await self._publish({"type": "bot", "text": text, "buttons": [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in buttons]})

    async def _publish(self, frame: dict[str, Any]) -> None:
        await async_redis_client().publish(_topic(self.session_id), json.dumps(frame))


class WebchatInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "webchat"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webchat = Blueprint("switchboard_webchat", __name__)
        files = {path.name: path.read_bytes() for path in STATIC.iterdir() if path.is_file()}

        @webchat.get("/")
        async def page(request: Request) -> HTTPResponse:
            return _static(files, "index.html")

        @webchat.get("/static/<name>")
        async def static(request: Request, name: str) -> HTTPResponse:
            return _static(files, name)

        @webchat.websocket("/socket")
        async def socket(request: Request, ws) -> None:
            await ChatSession(request, ws, on_new_message).run()

        return webchat


def _static(files: dict[str, bytes], name: str) -> HTTPResponse:
    if name not in files:
        return response.json({"error": "not found"}, status=404)
    return response.raw(files[name], content_type=CONTENT_TYPES.get(Path(name).suffix,
                                                                     "application/octet-stream"))


class ChatSession:
    """One open socket: a hello, then messages in; replies out from the session's topic."""

    def __init__(self, request: Request, ws, on_new_message) -> None:
        self.request, self.ws, self.on_new_message = request, ws, on_new_message
        self.session_id = ""

    async def run(self) -> None:
        hello = await self._receive()
        if hello is None or hello.get("type") != "hello":
            await self._send({"type": "error", "error": "say hello first"})
            return
        given = hello.get("session_id")
        resumed = isinstance(given, str) and SESSION_ID.fullmatch(given) is not None
        self.session_id = given if resumed else secrets.token_urlsafe(18)
        pubsub = async_redis_client().pubsub()
        await pubsub.subscribe(_topic(self.session_id))
        relay = asyncio.create_task(self._relay(pubsub))
        try:
            await self._send({"type": "session", "session_id": self.session_id})
            await self._send({"type": "history", "messages": await self._history()})
            while (frame := await self._receive()) is not None:
                await self._message(frame)
        finally:
            relay.cancel()
            await pubsub.unsubscribe(_topic(self.session_id))
            await pubsub.close()

    async def _message(self, frame: dict[str, Any]) -> None:
        text, message_id = frame.get("text"), frame.get("id")
        if frame.get("type") != "message" or not isinstance(text, str) or not text.strip() \
                or len(text) > MAX_TEXT:
            await self._send({"type": "error",
                              "error": f"send {{\"type\": \"message\", \"text\": ...}} with "
                                       f"1 to {MAX_TEXT} characters"})
            return
        if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_ID:
            message_id = secrets.token_hex(8)
        inbound = Inbound("webchat", sender_of(self.session_id), text, message_id)
        await deliver(inbound, WebchatOutput(self.session_id), self.on_new_message)

    async def _relay(self, pubsub) -> None:
        async for item in pubsub.listen():
            if item.get("type") == "message":
                await self.ws.send(item["data"])

    async def _history(self) -> list[dict[str, Any]]:
        """The conversation's recent turns, from the tracker (what the customer saw)."""
        try:
            agent = self.request.app.ctx.agent
            tracker = await agent.tracker_store.retrieve(sender_of(self.session_id))
        except Exception as exc:  # no history is better than no chat
            log.warning("webchat.history_unavailable", error=type(exc).__name__,
                        conversation=conversation_ref(sender_of(self.session_id)))
            return []
        if tracker is None:
            return []
        turns: list[dict[str, Any]] = []
        titles: dict[str, str] = {}  # the last buttons' payload -> title, to show what was chosen
        secret_asked, paused_at = False, None
        for event in tracker.events:
            if event.type_name in ("user", "bot") and paused_at is not None:
                # back from the agents: what was said until now came from the contact record
                turns += await self._with_agents(paused_at, event.timestamp)
                paused_at = None
            if event.type_name == "pause":
                paused_at = event.timestamp
            elif event.type_name == "slot" and event.key == "requested_slot":
                secret_asked = event.value in SECRET_SLOTS
            elif event.type_name == "user" and event.text:
                text = titles.get(event.text, event.text)
                entities = (event.parse_data or {}).get("entities") or []
                turns.append({"from": "customer",
                              "text": mask_secrets(text, entities, secret_asked)})
            elif event.type_name == "bot" and event.text:
                buttons = (event.data or {}).get("buttons") or []
                titles = {str(b.get("payload")): str(b.get("title")) for b in buttons}
                turns.append({"from": "bot", "text": mask_secrets(event.text),
                              "buttons": [{"title": b.get("title"), "payload": b.get("payload")}
                                          for b in buttons]})
        if paused_at is not None:  # with the agents now, or just back from them
            turns += await self._with_agents(paused_at, time.time() + 1)
        return turns[-HISTORY_TURNS:]

    async def _with_agents(self, paused_at: float, until: float) -> list[dict[str, Any]]:
        """What was said from the tracker's pause until the bot's next turn (queue replies, the
        customer and the agent, the hand-back): Rasa never saw it, the contact record has it
        (masked)."""
        sender = sender_of(self.session_id)

        def read() -> list[dict[str, Any]]:
            events.wait_recorded(redis_client(), 1.0)  # what was just said may be in flight
            with database().reading() as session:
                return [{"from": "customer" if t.author == "customer" else "bot",
                         "text": t.text, "buttons": []}
                        for t in service.conversation_touches(session, sender, paused_at,
                                                              until)]

        try:
            return await asyncio.to_thread(read)
        except Exception as exc:  # the record is down: the bot's part of the history still shows
            log.warning("webchat.agent_history_unavailable", error=type(exc).__name__,
                        conversation=conversation_ref(sender))
            return []

    async def _receive(self) -> dict[str, Any] | None:
        """The next JSON frame; None when the socket closed."""
        while True:
            try:
                raw = await self.ws.recv()
            except Exception:  # the client went away
                return None
            if raw is None:
                return None
            try:
                frame = json.loads(raw)
            except ValueError:
                frame = None
            if isinstance(frame, dict):
                return frame
            await self._send({"type": "error", "error": "frames must be JSON objects"})

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))
