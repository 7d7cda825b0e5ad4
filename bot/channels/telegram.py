"""Telegram, on python-telegram-bot: ``POST /webhooks/telegram/webhook`` (Telegram's Update JSON).

Transport and formatting only; the rest is ``bot.gateway.deliver``. The webhook must carry
``X-Telegram-Bot-Api-Secret-Token`` equal to ``TELEGRAM_WEBHOOK_SECRET`` (set with setWebhook;
403 otherwise). What each kind of update does (Bot API, "Update"):

- ``message`` and ``edited_message`` with text (or a caption): read by the assistant; an edit is
  read as the corrected text (it comes with a new ``update_id``, so it is no redelivery).
- ``callback_query``: a button press; acknowledged (answerCallbackQuery) so the client stops
  spinning, and its data goes to the assistant.
- a shared contact of the sender's own number (``contact.user_id`` is the sender): a number
  Telegram verified, remembered for a day, so an account request skips the number question
  (a code or the service password is still asked). Someone else's contact card is just text.
- stickers, photos, voice, locations and other media: a short "I can only read text" reply;
  they never reach the assistant.
- ``my_chat_member``: the user blocked (``kicked``) or unblocked the bot; nothing is sent to a
  blocked chat until they write again.
- service messages (members joining, a new title, ...), channel posts and other kinds: ignored.

Groups and supergroups: everyone there reads the answers. Each member has a conversation of their
own (``telegram:<chat id>:<member id>``, never another member's dialogue or queue place), the
bot answers only what is addressed to it (a command, a mention, a reply to it: what privacy mode
delivers), account services are refused with a pointer to a private chat (``chat_type`` in the
message metadata; actions/account.py), and the share-my-number button is never sent there.

Sending (``TelegramOutput``, from any process) never raises a Bot API error to its caller: a
refusal is classified (``classify``), retried when Telegram says so, recorded in the contact
record when the reply cannot be delivered (contacts/delivery.py), and a chat that blocked the bot
is not written to again. Sending is not answering: the gateway never sees these errors.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse
from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    ChatMember,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.channels import registry
from bot.channels.base import WebhookChannel
from bot.gateway import Inbound, Outcome, deliver, first_delivery, to_completion
from contacts import delivery, events
from switchboard import metrics
from switchboard.keys import telegram_secret
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client
from switchboard.services import Services
from switchboard.settings import Settings

log = get_logger(__name__)

NOT_TEXT = ("I can only read text messages, sorry. Please type your question, or use the "
            "buttons.")
MAX_TEXT = 4096  # characters in one message (Bot API, sendMessage)
CALLBACK_DATA_MAX = 64  # bytes Telegram keeps of a button's callback data (InlineKeyboardButton)
GROUP_CHATS = frozenset({Chat.GROUP, Chat.SUPERGROUP})
OWN_NUMBER_SECONDS = 24 * 3600  # how long a shared own number pre-fills the number question
# Sending: Bot API flood control answers 429 with parameters.retry_after (seconds to wait).
RETRY_WAIT_LIMIT = 10.0  # seconds one message may wait in all before it is given up
MAX_ATTEMPTS = 3  # tries of one message
NETWORK_RETRY_SECONDS = 1.0  # wait before trying again after no answer or a 5xx

_bots: dict[int, Bot] = {}  # one initialised Bot per event loop (its HTTP client is bound to it)
_background: set[asyncio.Task] = set()  # chat actions in flight (a reference keeps them alive)
_ADDRESS = re.compile(r"(-?\d+)(?::(-?\d+))?")


async def telegram_bot(settings: Settings) -> Bot:
    """This event loop's Bot, initialised once (getMe)."""
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _bots:
        if not settings.telegram_token:
            raise TelegramError("TELEGRAM_BOT_TOKEN is not set")
        base = settings.telegram_api_url.rstrip("/")
        bot = Bot(settings.telegram_token, base_url=f"{base}/bot",
                  base_file_url=f"{base}/file/bot")
        await bot.initialize()
        _bots[loop_id] = bot
    return _bots[loop_id]


def conversation_id(chat: Chat, member: int | None = None) -> str:
    """``telegram:<chat id>`` for a private chat; ``telegram:<chat id>:<member id>`` in a group,
    so no member of a group ever continues another member's conversation."""
    if chat.type in GROUP_CHATS and member is not None:
        return f"telegram:{chat.id}:{member}"
    return f"telegram:{chat.id}"


def chat_of(address: str) -> int | None:
    """The chat id in the address part of a Telegram conversation id (``<chat>`` or
    ``<chat>:<member>``, ids possibly negative), or None if it is not one."""
    match = _ADDRESS.fullmatch(address)
    return int(match.group(1)) if match else None


# --- Sending -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SendFailure:
    """Why Telegram did not take a message, and what to do about it."""

    code: str  # the Bot API error_code (429, 403, 400, 401), or "network" when none came
    permanent: bool  # Telegram will never take this message
    unreachable: bool = False  # nor anything else for this chat (blocked, kicked, deactivated)
    retry_after: float | None = None  # seconds to wait before trying again; None: do not
    migrated_to: int | None = None  # the group became this supergroup: send there


def classify(exc: TelegramError) -> SendFailure:
    """A Bot API refusal as python-telegram-bot raises it (Bot API "Making requests" and
    "ResponseParameters"). BadRequest and TimedOut subclass NetworkError: order matters."""
    if isinstance(exc, RetryAfter):  # 429 "Too Many Requests: retry after N"
        return SendFailure("429", permanent=False, retry_after=_seconds(exc.retry_after))
    if isinstance(exc, ChatMigrated):  # 400 with parameters.migrate_to_chat_id
        return SendFailure("400", permanent=False, retry_after=0.0,
                           migrated_to=exc.new_chat_id)
    if isinstance(exc, Forbidden):  # 403: "bot was blocked by the user", "... kicked ..."
        return SendFailure("403", permanent=True, unreachable=True)
    if isinstance(exc, BadRequest):  # 400: "chat not found", "message is too long", ...
        return SendFailure("400", permanent=True)
    if isinstance(exc, InvalidToken):  # 401/404: our token is wrong, an operator must fix it
        return SendFailure("401", permanent=False)
    if isinstance(exc, NetworkError):  # no answer, a timeout or a 5xx: try again shortly (a
        # read timeout may have been delivered after all: a rare duplicate, never a loss)
        return SendFailure("network", permanent=False, retry_after=NETWORK_RETRY_SECONDS)
    return SendFailure("error", permanent=False)


def _seconds(value: int | float | timedelta) -> float:
    """PTB 21 gives retry_after in seconds, PTB 22 as a timedelta."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass
class _Undelivered:
    recipient_id: str
    text: str
    code: str
    permanent: bool


class TelegramOutput(OutputChannel):
    """Sends to one Telegram chat; usable from any process (the console, the action server).

    A message Telegram refuses is retried when it says so (flood control, a network failure;
    ``RETRY_WAIT_LIMIT`` seconds at most), then kept in the contact record as undelivered; a chat
    that blocked the bot is marked and not written to again. Nothing is raised to the caller.
    ``hold_records``: keep those records until ``flush_records`` (the webhook flushes after the
    turn, so the contact record lists them after the reply they concern).
    """

    def __init__(self, chat_id: int, settings: Settings, *, hold_records: bool = False) -> None:
        self.chat_id = chat_id
        self.settings = settings  # the sending process's
        self.hold_records = hold_records
        self._held: list[_Undelivered] = []
        self._unreachable: str | None = None  # the code that made this chat unreachable
        self._checked = False

    @property
    def private(self) -> bool:
        """Bot API dialog ids: users (private chats) are positive, groups and channels negative
        (core.telegram.org/api/bots/ids)."""
        return self.chat_id > 0

    @classmethod
    def name(cls) -> str:
        return "telegram"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for start in range(0, len(text), MAX_TEXT):
            await self._send(recipient_id, text[start:start + MAX_TEXT])

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        rows = [[InlineKeyboardButton(b.get("title", "?"), callback_data=_callback_data(b))]
                for b in buttons]
        await self._send(recipient_id, text, reply_markup=InlineKeyboardMarkup(rows))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        """``{"request_contact": "<button title>", "text": "..."}``: the share-my-number button,
        in private chats only (in a group it would ask everyone there for their number)."""
        title = json_message.get("request_contact")
        text = json_message.get("text") or title
        if not text:
            return
        markup = None
        if title and self.private:
            markup = ReplyKeyboardMarkup([[KeyboardButton(title, request_contact=True)]],
                                         one_time_keyboard=True, resize_keyboard=True)
        await self._send(recipient_id, text, reply_markup=markup)

    async def flush_records(self) -> None:
        """Record the undelivered messages held back (``hold_records``)."""
        held, self._held = self._held, []
        for item in held:
            await self._record(item)

    async def _send(self, recipient_id: str, text: str, **kwargs: Any) -> bool:
        """One message; False (logged, recorded) if it did not reach the chat."""
        code = await self._unreachable_code()
        if code is not None:
            await self._undelivered(_Undelivered(recipient_id, text, code, True))
            return False
        failure = await self._attempts(text, kwargs)
        if failure is None:
            return True
        log.warning("telegram.undelivered", code=failure.code, permanent=failure.permanent,
                    conversation=conversation_ref(recipient_id))
        if failure.unreachable:
            self._unreachable = failure.code
            await self._redis("mark_unreachable", _unreachable(
                async_redis_client(self.settings), self.chat_id, recipient_id, failure.code))
        await self._undelivered(_Undelivered(recipient_id, text, failure.code,
                                             failure.permanent))
        return False

    async def _attempts(self, text: str, kwargs: dict[str, Any]) -> SendFailure | None:
        """Try, and try again as Telegram says (flood control, a migrated group, no answer)."""
        failure: SendFailure | None = None
        waited = 0.0
        for _ in range(MAX_ATTEMPTS):
            try:
                bot = await telegram_bot(self.settings)
                await bot.send_message(self.chat_id, text, **kwargs)
                return None
            except TelegramError as exc:
                failure = classify(exc)
                metrics.provider_error("telegram", failure.code)
            if failure.migrated_to is not None:
                self.chat_id = failure.migrated_to
            if failure.retry_after is None or waited + failure.retry_after > RETRY_WAIT_LIMIT:
                return failure
            await asyncio.sleep(failure.retry_after)
            waited += failure.retry_after
        return failure

    async def _unreachable_code(self) -> str | None:
        """Why this chat takes nothing (it blocked the bot), looked up once per output."""
        if not self._checked:
            self._checked = True
            self._unreachable = await self._redis("unreachable_code", delivery.unreachable_code(
                async_redis_client(self.settings), "telegram", self.chat_id))
        return self._unreachable

    async def _undelivered(self, item: _Undelivered) -> None:
        if self.hold_records:
            self._held.append(item)
        else:
            await self._record(item)

    async def _record(self, item: _Undelivered) -> None:
        await self._redis("record_undelivered", delivery.record_undelivered(
            async_redis_client(self.settings), item.recipient_id, item.text, "telegram",
            item.code, item.permanent))

    @staticmethod
    async def _redis(what: str, call: Awaitable[Any]) -> Any:
        """Delivery bookkeeping never stops a send: with Redis down, the message still goes."""
        try:
            return await call
        except RedisError as exc:
            log.error("telegram.delivery_state_unavailable", step=what, error=type(exc).__name__)
            return None


async def _unreachable(client: aioredis.Redis, chat_id: int, sender_id: str | None,
                       code: str) -> None:
    """Nothing more goes to this chat (contacts/delivery.py); the conversation's channel
    identity says so to agents (a ``reachability`` event)."""
    await delivery.mark_unreachable(client, "telegram", chat_id, code)
    if sender_id is not None:
        await events.publish_async(client, events.reachability(
            sender_id, "telegram", "undeliverable", f"telegram {code}"))


async def _reachable(client: aioredis.Redis, chat_id: int, sender_id: str | None) -> None:
    """The chat can be written to again (the user wrote, or unblocked the bot)."""
    if await delivery.reachable_again(client, "telegram", chat_id) and sender_id is not None:
        await events.publish_async(client, events.reachability(sender_id, "telegram", None))


def _callback_data(button: dict[str, Any]) -> str:
    """The payload, or the title when the payload is longer than Telegram keeps (the assistant
    understands a button's title as typed text)."""
    payload = str(button.get("payload", ""))
    return payload if len(payload.encode()) <= CALLBACK_DATA_MAX else str(button.get("title"))


# --- Receiving -----------------------------------------------------------------------------

class TelegramInput(WebhookChannel):
    @classmethod
    def name(cls) -> str:
        return "telegram"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint()
        settings = self.services.settings

        @webhook.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            if not settings.telegram_token:
                return response.json({"error": "the Telegram channel is not configured"},
                                     status=503)
            secret = request.headers.get("x-telegram-bot-api-secret-token") or ""
            if not hmac.compare_digest(secret, telegram_secret(settings)):
                return response.json({"error": "missing or wrong secret token"}, status=403)
            try:
                bot = await telegram_bot(settings)
            except TelegramError as exc:  # getMe failed: Telegram keeps the update for later
                log.error("telegram.unavailable", error=type(exc).__name__)
                return response.json({"error": "temporarily unavailable"}, status=503)
            update = _parse(request.body, bot)
            if update is None:
                return response.json({"error": "the body must be a Telegram Update"},
                                     status=400)
            try:
                outcome = await to_completion(handle_update(update, self.services,
                                                            on_new_message))
            except RedisError:  # a 5xx makes Telegram deliver the update again later
                return response.json({"error": "temporarily unavailable"}, status=503)
            if outcome is Outcome.BUSY:  # an earlier delivery is still being answered: if it
                # fails, only a later delivery can still be answered (so not a 4xx, which the
                # poller would skip)
                return response.json({"error": "being answered, try again"}, status=503,
                                     headers={"Retry-After": "1"})
            return response.json({"ok": True})

        return webhook


def _parse(body: bytes | None, bot: Bot) -> Update | None:
    """The Update, or None if the body is not one (PTB raises what it meets: a missing field is
    a KeyError or TypeError, a string where an object belongs an AttributeError)."""
    try:
        data = json.loads(body or b"")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return None
        update = Update.de_json(data, bot)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return update if _well_typed(update) else None


def _well_typed(update: Update) -> bool:
    """What the channel reads has the Bot API's types: PTB does not check them, so a number for
    the text failed as a 500 and a string chat id was answered as a conversation."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    query = update.callback_query
    contact = message.contact if message is not None else None
    fields = [(chat and chat.id, int), (chat and chat.type, str), (user and user.id, int),
              (message and message.text, str), (message and message.caption, str),
              (query and query.data, str), (contact and contact.phone_number, str),
              (contact and contact.user_id, int)]
    return all(value is None or isinstance(value, kind) for value, kind in fields)


@dataclass(frozen=True)
class _Said:
    """What one person said to the bot in one update."""

    chat: Chat
    sender_id: str
    text: str | None  # None: not text, ``attachment`` says what it was
    metadata: dict[str, Any] = field(default_factory=dict)
    attachment: str = ""  # what a message without text carried, for the record ("a photo")


async def handle_update(update: Update, services: Services,
                        on_new_message: Callable[[UserMessage], Awaitable[Any]]
                        ) -> Outcome | None:
    """One Update, whatever it carries (see the module's docstring); the gateway's outcome, or
    None when the update was not for the assistant."""
    bot = await telegram_bot(services.settings)
    client = services.async_redis()
    if update.my_chat_member is not None:
        await _membership_changed(client, update.my_chat_member)
        return None
    if update.callback_query is not None:
        await _quietly("answerCallbackQuery",
                       bot.answer_callback_query(update.callback_query.id))
    said = await _said(update, bot, client)
    if said is None:
        return None  # nothing a person said to us: a service message, a channel post, ...
    await _reachable(client, said.chat.id, said.sender_id)  # they wrote to us
    output = TelegramOutput(said.chat.id, services.settings, hold_records=True)
    message_id = str(update.update_id)  # an edit comes with a new one: never a duplicate
    try:
        if said.text is None:
            await _not_text(client, said, output, message_id)
            return None
        _typing(bot, said.chat.id)
        return await deliver(Inbound("telegram", said.sender_id, said.text, message_id,
                                     said.metadata), output, on_new_message, services)
    finally:
        await output.flush_records()


async def _said(update: Update, bot: Bot, client: aioredis.Redis) -> _Said | None:
    if update.callback_query is not None:
        return _pressed(update.callback_query, bot)
    message = update.message or update.edited_message
    if message is None or message.chat.type not in (Chat.PRIVATE, *GROUP_CHATS):
        return None
    private = message.chat.type == Chat.PRIVATE
    if not private and not _addressed(message, bot):
        return None
    member = _member(message)
    if member is None:
        return None
    metadata = _metadata(message.chat, bot)
    sender_id = conversation_id(message.chat, member)
    if message.contact is not None:
        return await _contact_shared(client, message, sender_id, metadata, private)
    text = message.text or message.caption
    if text:
        if private:
            await _own_number(client, message.chat.id, metadata)
        return _Said(message.chat, sender_id, _without_mention(text, bot)[:MAX_TEXT], metadata)
    if message.effective_attachment is not None:  # a sticker, a photo, voice, a location, ...
        return _Said(message.chat, sender_id, None, metadata, _kind(message))
    return None  # a service message: members joined, a new title, a pinned message, ...


def _pressed(query: CallbackQuery, bot: Bot) -> _Said | None:
    """A button press, in the conversation of whoever pressed it."""
    message = query.message
    if message is None or message.chat.type not in (Chat.PRIVATE, *GROUP_CHATS):
        return None  # a button on an inline-mode message: no chat to answer in
    return _Said(message.chat, conversation_id(message.chat, query.from_user.id),
                 query.data or "", _metadata(message.chat, bot))


def _member(message: Message) -> int | None:
    """Who wrote: the user, or the chat they wrote as (an anonymous admin, a linked channel)."""
    if message.sender_chat is not None:
        return message.sender_chat.id
    return message.from_user.id if message.from_user is not None else None


def _metadata(chat: Chat, bot: Bot) -> dict[str, Any]:
    """What the assistant may know about where it is talking: the chat type (account services
    only in private chats) and the bot's name (to point to a private chat with it)."""
    return {"chat_type": chat.type, "bot_username": bot.username}


def _addressed(message: Message, bot: Bot) -> bool:
    """In a group, only what is said to the bot: a command, a mention of it, a reply to it (what
    Telegram delivers in privacy mode, the default; the same when privacy mode is off, so the
    bot never answers the group's own chatter)."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    mention = f"@{bot.username}".lower()
    entities = {**(message.parse_entities() if message.text else {}),
                **(message.parse_caption_entities() if message.caption else {})}
    for entity, value in entities.items():
        if entity.type == MessageEntity.MENTION and value.lower() == mention:
            return True
        if entity.type == MessageEntity.BOT_COMMAND and (
                "@" not in value or value.lower().endswith(mention)):
            return True
    return False


def _without_mention(text: str, bot: Bot) -> str:
    """The text without ``@<bot>`` (how groups address the bot), unless nothing else is left."""
    stripped = re.sub(rf"@{re.escape(bot.username or '')}\b", "", text, flags=re.IGNORECASE)
    stripped = " ".join(stripped.split())
    return stripped or text


def _own_key(user_id: int) -> str:
    return f"switchboard:telegram:own_number:{user_id}"


async def _contact_shared(client: aioredis.Redis, message: Message, sender_id: str,
                          metadata: dict[str, Any], private: bool) -> _Said:
    """The sender's own number (``contact.user_id`` is theirs: Telegram vouches for it) is a
    channel-verified number, in a private chat; a contact card of someone else is just text."""
    contact = message.contact
    number = "".join(ch for ch in contact.phone_number if ch.isdigit())
    sender = message.from_user
    own = sender is not None and contact.user_id == sender.id and message.sender_chat is None
    if own and private:
        metadata = {**metadata, "channel_verified_msisdn": number}
        await client.set(_own_key(sender.id), number, ex=OWN_NUMBER_SECONDS)
    return _Said(message.chat, sender_id, f"+{number}", metadata)


async def _own_number(client: aioredis.Redis, user_id: int, metadata: dict[str, Any]) -> None:
    """A number this user shared as their own lately comes with their later messages."""
    number = await client.get(_own_key(user_id))
    if number:
        metadata["channel_verified_msisdn"] = number


# Message fields of what people send that is not text (Bot API, Message), for the record.
_KINDS = {"photo": "a photo", "sticker": "a sticker", "voice": "a voice message",
          "audio": "an audio file", "video": "a video", "video_note": "a video message",
          "animation": "a GIF", "document": "a document", "location": "a location",
          "venue": "a place", "poll": "a poll", "dice": "a dice", "story": "a story"}


def _kind(message: Message) -> str:
    return next((name for field_name, name in _KINDS.items() if message[field_name]),
                "an attachment")


async def _not_text(client: aioredis.Redis, said: _Said, output: TelegramOutput,
                    message_id: str) -> None:
    """Media, stickers, locations: answered once (a redelivery is not), never the assistant's
    business, so never a misunderstood message either; both go into the contact record."""
    if not await first_delivery(client, "telegram", said.sender_id, message_id):
        return
    log.info("telegram.not_text", conversation=conversation_ref(said.sender_id))
    await events.publish_async(client, events.customer_message(
        said.sender_id, f"[{said.attachment}]", message_id, "telegram"))
    await output.send_text_message(said.sender_id, NOT_TEXT)
    await events.publish_async(client, events.bot_message(said.sender_id, NOT_TEXT))


async def _membership_changed(client: aioredis.Redis, change: ChatMemberUpdated) -> None:
    """The bot's own membership changed (Bot API ``my_chat_member``): in a private chat
    ``kicked`` means the user blocked the bot; in a group it was removed. Any other status
    (``member`` after an unblock, ``administrator``) means it can write there again."""
    status = change.new_chat_member.status
    sender_id = conversation_id(change.chat) if change.chat.type == Chat.PRIVATE else None
    log.info("telegram.membership", status=status,
             conversation=conversation_ref(f"telegram:{change.chat.id}"))
    if status in (ChatMember.BANNED, ChatMember.LEFT):
        await _unreachable(client, change.chat.id, sender_id, "403")
    else:
        await _reachable(client, change.chat.id, sender_id)


async def _quietly(method: str, call: Awaitable[Any]) -> None:
    """A Bot API call that is not the reply (acknowledging a button press, a chat action): its
    failure is logged and never stops the customer's message."""
    try:
        await call
    except TelegramError as exc:
        log.warning("telegram.call_failed", method=method, error=type(exc).__name__)


def _typing(bot: Bot, chat_id: int) -> None:
    """"typing..." while the assistant thinks; in the background, it must not delay the reply."""
    task = asyncio.create_task(_quietly("sendChatAction",
                                        bot.send_chat_action(chat_id, ChatAction.TYPING)))
    _background.add(task)
    task.add_done_callback(_background.discard)


def _output(address: str, settings: Settings) -> TelegramOutput | None:
    """``<chat>`` or ``<chat>:<member>`` in a group: either way, the chat is written to."""
    chat = chat_of(address)
    return TelegramOutput(chat, settings) if chat is not None else None


registry.register_output("telegram", _output)
