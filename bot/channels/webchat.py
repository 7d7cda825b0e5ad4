"""Web chat: a page and widget served by the Rasa server, talking over a WebSocket.

- ``GET /webhooks/webchat/``: the chat page (plain HTML and JavaScript, no CDN, no build step).
- ``WS /webhooks/webchat/socket``: the widget's socket. Client frames are JSON:
  ``{"type": "hello", "token": "<session token>"|null}`` first, then
  ``{"type": "message", "text": "...", "id": "<client message id>"}``. Server frames:
  ``{"type": "session", "token": "..."}`` (a fresh token to keep in local storage, sent after
  every hello), ``history`` (recent turns, when the hello resumed a session; each with ``at``,
  unix seconds), ``typing`` (the assistant is working on an answer), ``bot`` (a reply: text and
  buttons), ``ack`` (``{"type": "ack", "id": ...}``: that message was handled, now or before;
  the widget resends every message not acknowledged when it reconnects, under the same id,
  and the gateway answers each id once), ``agent`` (a person joined or left the chat:
  ``{"type": "agent", "event": "joined", "name": "Tom"}``, ``{"type": "agent", "event":
  "left", "name": "Tom", "to": "assistant"|"queue"}``, from the console; ``"present"`` after
  a resumed hello while a person has the chat), ``error``. History turns by an agent carry
  their first name (``name``). The
  server closes with 1012/1013 when Redis fails: the widget reconnects.
- ``GET /webhooks/webchat/static/embed.js``: one ``<script>`` tag puts the widget on any site as
  a launcher button and a panel (an iframe of the chat page, so the session token stays on this
  origin).

Sessions are made by the server only. The session id (144 random bits) is never accepted from
the client on its own: the client holds a token the server signed (see ``session_token``), and a
hello without a valid, unexpired token starts a new session with no history. The token is
re-issued on every hello, so a session lasts ``webchat_session_days`` after its last use.
Replies travel through Redis pub/sub (one channel per session), so they reach the open socket
whichever Rasa worker (or, later, the agent console) produced them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timezone
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse

from bot.channels import registry
from bot.channels.base import SwitchboardChannel, is_text, printable
from bot.gateway import Inbound, Outcome, deliver, to_completion
from contacts import events, service
from contacts.events import SECRET_SLOTS
from contacts.masking import mask_secrets
from handoff.models import Agent
from handoff.queue import owner_key
from switchboard.keys import derived_key
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client
from switchboard.services import Services
from switchboard.settings import Settings

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "webchat_static"
SESSION_BYTES = 18  # 144 random bits: 24 base64url characters
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{24}")
TOKEN_VERSION = "v1"
TOKEN_PURPOSE = b"webchat-session"
MAC_BYTES = 32  # HMAC-SHA256
MAX_TOKEN = 128  # characters; a real token is 94
CLOCK_SKEW = 300  # seconds a token may be dated ahead of this replica's clock
MAX_TEXT = 4096
MAX_ID = 128
HISTORY_TURNS = 30
# WebSocket close codes (RFC 6455 registry) that tell the widget to reconnect: Redis failing
# over or restarting (1012 service restart), or unreachable now (1013 try again later).
SERVICE_RESTART, RETRY_LATER = 1012, 1013
# The session token sits in the page's local storage: no script but ours may run to read it, and
# the page may talk only to its own server (which is also where the socket is).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; object-src 'none'; "
                               "base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def _topic(session_id: str) -> str:
    return f"switchboard:webchat:{session_id}"


def sender_of(session_id: str) -> str:
    return f"webchat:{session_id}"


def new_session_id() -> str:
    """A fresh, unguessable session id (server-made only)."""
    return secrets.token_urlsafe(SESSION_BYTES)


def session_token(settings: Settings, session_id: str, issued: float | None = None) -> str:
    """The token a browser keeps for ``session_id``: base64url (no padding) of
    ``b"v1.<session id>.<issued, unix seconds>"`` followed by its 32-byte HMAC-SHA256 under the
    ``webchat-session`` purpose key. ``issued`` defaults to now."""
    stamp = int(time.time() if issued is None else issued)
    body = f"{TOKEN_VERSION}.{session_id}.{stamp}".encode("ascii")
    return base64.urlsafe_b64encode(body + _mac(settings, body)).decode("ascii").rstrip("=")


def session_from_token(settings: Settings, token: Any, now: float | None = None) -> str | None:
    """The session id a token was issued for, or None when the token is missing, malformed,
    signed with another key or for other content, or older than ``webchat_session_days``
    (``now``: unix seconds, default the current time). Never raises."""
    body = _signed_body(settings, token)
    if body is None:
        return None
    parts = body.split(".")
    if len(parts) != 3:
        return None
    version, session_id, stamp = parts
    if version != TOKEN_VERSION or not SESSION_ID.fullmatch(session_id) or not stamp.isdigit():
        return None
    now = time.time() if now is None else now
    age = now - int(stamp)
    if age > settings.webchat_session_days * 86400 or age < -CLOCK_SKEW:
        return None
    return session_id


def _signed_body(settings: Settings, token: Any) -> str | None:
    """The token's body if its MAC is right (compared in constant time), else None."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
        return None
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) <= MAC_BYTES:
        return None
    body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(settings, body)):
        return None
    try:
        return body.decode("ascii")
    except UnicodeDecodeError:  # only we sign, and we sign ASCII: cannot happen, still no crash
        return None


def _mac(settings: Settings, body: bytes) -> bytes:
    return hmac.new(derived_key(settings, TOKEN_PURPOSE), body, hashlib.sha256).digest()


async def publish_event(sender_id: str, frame: dict[str, Any], settings: Settings) -> None:
    """Send ``frame`` (e.g. an agent joined) to the open sockets of ``sender_id`` if it is a web
    chat conversation (``webchat:<session id>``); any other channel is left alone."""
    channel, _, session_id = sender_id.partition(":")
    if channel != "webchat" or not SESSION_ID.fullmatch(session_id):
        return
    await async_redis_client(settings).publish(_topic(session_id), json.dumps(frame))


class WebchatOutput(OutputChannel):
    """Publishes replies to a web chat session; usable from any process (its ``settings``)."""

    def __init__(self, session_id: str, settings: Settings) -> None:
        self.session_id, self.settings = session_id, settings

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
        await async_redis_client(self.settings).publish(_topic(self.session_id),
                                                        json.dumps(frame))


class WebchatInput(SwitchboardChannel):
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
            await ChatSession(request, ws, on_new_message, self.services).run()

        return webchat


def _static(files: dict[str, bytes], name: str) -> HTTPResponse:
    if name not in files:
        return response.json({"error": "not found"}, status=404)
    return response.raw(files[name], headers=PAGE_HEADERS,
                        content_type=CONTENT_TYPES.get(Path(name).suffix,
                                                       "application/octet-stream"))


def _turn(session: Any, touch: Any) -> dict[str, Any]:
    """A recorded touch as a history turn; an agent's with the first name customers saw."""
    at = touch.at if touch.at.tzinfo else touch.at.replace(tzinfo=timezone.utc)
    turn = {"from": touch.author if touch.author in ("customer", "agent") else "bot",
            "text": touch.text, "buttons": [], "at": at.timestamp()}
    if touch.author == "agent" and touch.contact.agent_id:
        agent = session.get(Agent, touch.contact.agent_id)
        turn["name"] = agent.first_name if agent else None
    return turn


class ChatSession:
    """One open socket: a hello, then messages in; replies out from the session's topic."""

    def __init__(self, request: Request, ws, on_new_message, services: Services) -> None:
        self.request, self.ws, self.on_new_message = request, ws, on_new_message
        self.services, self.settings = services, services.settings
        self.session_id = ""

    async def run(self) -> None:
        hello = await self._receive()
        if hello is None or hello.get("type") != "hello":
            await self._send({"type": "error", "error": "say hello first"})
            return
        resumed = self._resume(hello.get("token"))
        pubsub = self.services.async_redis().pubsub()
        try:
            await pubsub.subscribe(_topic(self.session_id))
        except RedisError:
            await self._close(RETRY_LATER)
            return
        relay = asyncio.create_task(self._relay(pubsub))
        try:
            # a fresh token on every hello: the session lives on while it is used
            await self._send({"type": "session",
                              "token": session_token(self.settings, self.session_id)})
            await self._send({"type": "history",
                              "messages": await self._history() if resumed else []})
            if resumed:
                await self._agent_present()
            while (frame := await self._receive()) is not None:
                await self._message(frame)
        except RedisError:  # Redis failing over: the widget reconnects and resends unacked
            await self._close(RETRY_LATER)
        finally:
            relay.cancel()
            with contextlib.suppress(RedisError):
                await pubsub.unsubscribe(_topic(self.session_id))
                await pubsub.close()

    def _resume(self, token: Any) -> bool:
        """Take the token's session, or a new one when the token is absent or not valid (a
        bare session id, forged or expired token, ...): True when a session was resumed."""
        session_id = session_from_token(self.settings, token)
        if session_id is None and token is not None:
            log.info("webchat.token_refused")  # never the token itself: it is a credential
        self.session_id = session_id or new_session_id()
        return session_id is not None

    async def _message(self, frame: dict[str, Any]) -> None:
        text, message_id = frame.get("text"), frame.get("id")
        if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_ID \
                or not is_text(message_id):
            # Without its own id a message cannot be acknowledged, so the widget would resend
            # it on every reconnect and each resend would be answered again: refused instead.
            await self._send({"type": "error", "error": f"send each message with an 'id' of 1 "
                                                        f"to {MAX_ID} characters"})
            return
        if frame.get("type") != "message" or not isinstance(text, str) \
                or not printable(text).strip() or len(text) > MAX_TEXT or not is_text(text):
            await self._send({"type": "error", "id": message_id,  # refused: do not resend it
                              "error": f"send {{\"type\": \"message\", \"text\": ...}} with "
                                       f"1 to {MAX_TEXT} characters"})
            return
        if await self._with_bot():
            await self._send({"type": "typing"})  # the assistant answers: "typing..."
        inbound = Inbound("webchat", sender_of(self.session_id), text, message_id)
        output = WebchatOutput(self.session_id, self.settings)
        outcome = await to_completion(deliver(inbound, output, self.on_new_message,
                                              self.services))
        if outcome is not Outcome.BUSY:  # handled (now or before): the widget may forget it
            await self._send({"type": "ack", "id": message_id})

    async def _agent_present(self) -> None:
        """After a reload mid-handoff: who is in the chat now (the widget shows their replies
        under their name, without a second "joined" line)."""
        owner = await self._owner() or ""
        if not owner.startswith("agent:"):
            return
        agent_id = owner.removeprefix("agent:")

        def read() -> Agent | None:
            with self.services.db.reading() as session:
                return session.get(Agent, agent_id)

        agent = await asyncio.to_thread(read) or Agent(id=agent_id)
        await self._send({"type": "agent", "event": "present", "name": agent.first_name})

    async def _with_bot(self) -> bool:
        """Whether the assistant (not the queue or an agent) holds the conversation now."""
        try:
            return await self._owner() is None
        except Exception:  # no indicator is better than no message
            return False

    async def _owner(self) -> str | None:
        """Who holds the conversation (``handoff.queue``); None: the assistant."""
        return await self.services.async_redis().get(owner_key(sender_of(self.session_id)))

    async def _relay(self, pubsub) -> None:
        """Replies published for this session, to the socket. If the subscription breaks
        (Redis restarted or failed over), replies would stop arriving unseen: close instead,
        and the widget reconnects on a fresh one."""
        try:
            async for item in pubsub.listen():
                if item.get("type") == "message":
                    await self.ws.send(item["data"])
        except RedisError:
            await self._close(SERVICE_RESTART)

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):  # already closed by the client
            await self.ws.close(code=code)

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
                turns.append({"from": "customer", "at": event.timestamp,
                              "text": mask_secrets(text, entities, secret_asked)})
            elif event.type_name == "bot" and event.text:
                buttons = (event.data or {}).get("buttons") or []
                titles = {str(b.get("payload")): str(b.get("title")) for b in buttons}
                turns.append({"from": "bot", "text": mask_secrets(event.text),
                              "at": event.timestamp,
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
            events.wait_recorded(self.services.redis, 1.0)  # what was just said may be in flight
            with self.services.db.reading() as session:
                return [_turn(session, t) for t in service.conversation_touches(
                    session, sender, paused_at, until)]

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


registry.register_output(  # any id our topics can carry; sessions themselves are checked above
    "webchat", lambda address, settings: WebchatOutput(address, settings)
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", address) else None)
