"""SMS and WhatsApp through Twilio: ``POST /webhooks/sms/webhook`` (Twilio's form post).

Receiving (Twilio, "Twilio's request to your incoming message webhook URL"):

- Authenticated by ``X-Twilio-Signature``, which Twilio computes over the exact URL it called
  (``SWITCHBOARD_PUBLIC_URL`` + path + ``?query``; the URL the request arrived on when that is
  unset) and every posted parameter, blank ones included (``ToState=``, ``FromZip=``: non-US
  numbers leave them empty). Sanic 21.12's ``request.form`` drops blank values, so the raw body
  is parsed here, blanks kept. Anything else gets 403.
- Text goes to the assistant through ``bot.gateway.deliver``; the sender's number is
  channel-verified. ``whatsapp:`` senders are the WhatsApp channel.
- Carrier keywords on SMS (Twilio's ``OptOutType``, or a message that is only the keyword, in any
  case: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT; START, UNSTOP, and YES
  from an opted-out number; HELP, INFO) are not the ``cancel`` intent. Twilio acts on them
  itself: it confirms STOP and START to the customer and refuses to send to an opted-out number
  (error 21610). Here STOP is recorded on the channel identity (agents see it in the console)
  and nothing more is sent to the number until it opts back in; HELP gets a short help text.
- A message without text (a photo or location without a caption, a sticker) gets a short "I
  can only read text" reply and never reaches the assistant, so it never counts as a
  misunderstood message.

Sending (``SmsOutput``, from any process): SMS replies are split between words into parts that
each fit one real segment (``split_sms``: GSM-7 septets or UCS-2 code units, 3GPP TS 23.038);
WhatsApp has no segments, so one message takes up to Twilio's 1,600 characters
(``split_whatsapp``). Buttons become numbered options and a reply of "1", "2", ... means that
button. A provider refusal never reaches the caller (sending is not answering): the gateway
retries transient ones (``switchboard.sms``), a recipient that opted out or cannot be written to
is marked (``contacts.delivery``, and on the channel identity) and not sent to again, and the
undelivered reply is kept in the contact record.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from bot import claims
from bot.channels import registry
from bot.channels.base import WebhookChannel, printable
from bot.gateway import Inbound, Outcome, deliver, to_completion
from contacts import delivery, events
from contacts.masking import mask_secrets
from switchboard.log import conversation_ref, get_logger
from switchboard.redis_client import async_redis_client
from switchboard.services import Services
from switchboard.settings import Settings
from switchboard.sms import SmsError, sms_gateway

log = get_logger(__name__)

# 3GPP TS 23.038, 6.2.1: the GSM 7-bit default alphabet (one septet per character) and its
# extension table (6.2.1.1: the escape septet plus one, so two septets per character).
GSM_BASIC = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM_SINGLE, GSM_PART = 160, 153  # septets in one SMS, and per part of a concatenated one
UCS2_SINGLE, UCS2_PART = 70, 67  # UCS-2 code units, the same (the user data header costs 6 bytes)
WHATSAPP_MAX = 1600  # characters in one message body (Twilio's Messages API limit)
MAX_BODY = 4096  # characters read of an inbound message (WhatsApp's own limit; SMS: 1,600)
MAX_FIELDS = 200  # form parameters we parse (Twilio posts about 20-40)

# Twilio's default keywords ("Twilio support for opt-out keywords", Advanced Opt-Out).
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                           "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
OPT_IN_WHEN_OPTED_OUT = frozenset({"YES"})  # also the answer to our own yes/no questions
HELP_WORDS = frozenset({"HELP", "INFO"})
HELP_TEXT = ("Kestrel Mobile help: type your question here, or call 150 from a Kestrel phone "
             "(8:00-22:00). Text STOP to stop messages, START to get them again.")  # one SMS
NOT_TEXT = ("I can only read text messages, sorry. Please type your question in words (and the "
            "place, if it's about coverage).")
BUTTONS_TTL = 24 * 3600
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


# --- Splitting replies -----------------------------------------------------------------------

def septets(text: str) -> int | None:
    """GSM-7 septets the text needs (extension-table characters cost two), or None when a
    character is not in the GSM-7 alphabet and the text must go as UCS-2 (3GPP TS 23.038)."""
    if not all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text):
        return None
    return sum(_septets(ch) for ch in text)


def ucs2_units(text: str) -> int:
    """UTF-16 code units: a character outside the Basic Multilingual Plane (most emoji) is a
    surrogate pair, two units."""
    return sum(_units(ch) for ch in text)


def _septets(ch: str) -> int:
    return 2 if ch in GSM_EXTENSION else 1


def _units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def split_sms(text: str) -> list[str]:
    """The text as SMS parts that each fit one segment, split between words: one message of up
    to 160 septets (GSM-7) or 70 UCS-2 units, else parts of 153 / 67 (a concatenated message's
    header takes the rest; 3GPP TS 23.040)."""
    if septets(text) is not None:
        return split_words(text, _septets, GSM_SINGLE, GSM_PART)
    return split_words(text, _units, UCS2_SINGLE, UCS2_PART)


def split_whatsapp(text: str) -> list[str]:
    """WhatsApp messages have no segments: one message up to 1,600 characters (counted in UTF-16
    units, so an emoji-heavy text is never over Twilio's limit), longer ones between words."""
    return split_words(text, _units, WHATSAPP_MAX, WHATSAPP_MAX)


def split_words(text: str, cost: Callable[[str], int], single: int, part: int) -> list[str]:
    """``text`` in pieces of at most ``part`` (``cost`` per character), or whole if it costs at
    most ``single``. Pieces end between words; a word longer than a piece (a URL) is cut, never
    inside a character."""
    if sum(map(cost, text)) <= single:
        return [text]
    parts: list[str] = []
    current, used = "", 0
    for word in re.findall(r"\S+\s*", text):
        bare = sum(map(cost, word.rstrip()))
        if current and used + bare > part:
            parts.append(current.rstrip())
            current, used = "", 0
        while bare > part:  # a single "word" longer than a piece: cut it
            head = _fitting(word, cost, part)
            parts.append(head)
            word = word[len(head):]
            bare = sum(map(cost, word.rstrip()))
        current += word
        used += sum(map(cost, word))
    if current.strip():
        parts.append(current.rstrip())
    return parts


def _fitting(word: str, cost: Callable[[str], int], budget: int) -> str:
    """The longest start of ``word`` that costs at most ``budget``."""
    used = 0
    for index, ch in enumerate(word):
        used += cost(ch)
        if used > budget:
            return word[:index]
    return word


def numbered(text: str, buttons: list[dict[str, Any]]) -> str:
    options = "\n".join(f"{n}. {b.get('title', '')}" for n, b in enumerate(buttons, start=1))
    return f"{text}\n{options}\nReply with the number."


def _buttons_key(sender_id: str) -> str:
    return f"switchboard:sms:buttons:{sender_id}"


def _choice_key(sid: str) -> str:
    return f"switchboard:sms:choice:{sid}"


# --- Sending -------------------------------------------------------------------------------

class SmsOutput(OutputChannel):
    """Sends to one SMS/WhatsApp address through the SMS gateway; usable from any process.
    Never raises a provider's refusal: see ``_undelivered``."""

    def __init__(self, address: str, settings: Settings) -> None:
        self.address = address  # 447700900001 or whatsapp:447700900001
        self.settings = settings  # the sending process's
        self.channel = "whatsapp" if address.startswith("whatsapp:") else "sms"
        self.msisdn = address.removeprefix("whatsapp:")
        self.sender_id = f"{self.channel}:{self.msisdn}"

    @classmethod
    def name(cls) -> str:
        return "sms"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        client = async_redis_client(self.settings)
        mark = await delivery.unreachable_code(client, self.channel, self.msisdn)
        if mark:  # opted out or undeliverable: Twilio would refuse it anyway
            log.info("sms.not_sent", channel=self.channel, reason=mark.partition(":")[0],
                     conversation=conversation_ref(self.sender_id))
            await delivery.record_undelivered(client, self.sender_id, mask_secrets(text),
                                              self.channel, mark.replace(":", ": ", 1),
                                              permanent=True)
            return
        parts = split_whatsapp(text) if self.channel == "whatsapp" else split_sms(text)
        try:
            gateway = sms_gateway(self.settings)
            for part in parts:
                await asyncio.to_thread(gateway.send, self.address, part)
        except SmsError as error:
            await self._undelivered(client, text, error)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        payloads = [b.get("payload", "") for b in buttons]
        await async_redis_client(self.settings).set(_buttons_key(self.sender_id),
                                                    json.dumps(payloads), ex=BUTTONS_TTL)
        await self.send_text_message(recipient_id, numbered(text, buttons))

    async def _undelivered(self, client: Redis, text: str, error: SmsError) -> None:
        """Twilio did not take (a part of) the reply, after the gateway's retries: keep the
        reply in the contact record with its delivery state; a recipient that opted out
        (21610) or cannot be written to (21211, 21614, ...) is marked, so nothing more is
        sent to them. Never an apology, never a handoff: the customer was answered."""
        verdict = error.verdict
        log.warning("sms.undelivered", channel=self.channel, verdict=verdict, code=error.code,
                    status=error.status, conversation=conversation_ref(self.sender_id))
        if verdict in ("opted_out", "undeliverable"):
            await mark(client, self.channel, self.msisdn, verdict, error.reason)
        await delivery.record_undelivered(client, self.sender_id, mask_secrets(text),
                                          self.channel, error.code or error.reason,
                                          permanent=verdict != "transient")


async def mark(client: Redis, channel: str, msisdn: str, state: str | None,
               reason: str) -> None:
    """The recipient opted out or is undeliverable (``state``), or may be written to again
    (None): senders' mark in Redis (``contacts.delivery``), and the channel identity's record."""
    if state:
        await delivery.mark_unreachable(client, channel, msisdn, f"{state}:{reason}")
    else:
        await delivery.reachable_again(client, channel, msisdn)
    await events.publish_async(client, events.reachability(f"{channel}:{msisdn}", channel,
                                                           state, reason))


# --- Receiving -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TwilioMessage:
    """One inbound message as Twilio posted it."""

    channel: str  # "sms" or "whatsapp"
    msisdn: str  # the sender's number without "+"
    sid: str  # MessageSid
    body: str
    opt_out_type: str | None  # Twilio's OptOutType: STOP, START or HELP
    attachment: str | None  # what a message without text carried ("a photo", ...); None: text

    @property
    def sender_id(self) -> str:
        return f"{self.channel}:{self.msisdn}"

    @property
    def address(self) -> str:
        return f"whatsapp:{self.msisdn}" if self.channel == "whatsapp" else self.msisdn


class TwilioSmsInput(WebhookChannel):
    @classmethod
    def name(cls) -> str:
        return "sms"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint()
        settings = self.services.settings

        @webhook.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            form = twilio_form(request)
            if form is None:
                return response.json({"error": "not a form post Twilio could have made"},
                                     status=400)
            if not signed_by_twilio(request, form, settings):
                return response.json({"error": "missing or invalid X-Twilio-Signature"},
                                     status=403)
            message = parse_message(form)
            if isinstance(message, str):
                return response.json({"error": message}, status=400)
            try:
                outcome = await to_completion(_handle(message, self.services, on_new_message))
            except RedisError:
                return response.json({"error": "temporarily unavailable"}, status=503)
            if outcome is Outcome.BUSY:  # Twilio posted it again while it is being answered:
                # a 5xx, so a retry (if configured) comes back once that attempt is done
                return response.json({"error": "this message is still being answered"},
                                     status=503, headers={"Retry-After": "1"})
            return response.text(EMPTY_TWIML, content_type="application/xml")

        return webhook


def twilio_form(request: Request) -> dict[str, str] | None:
    """Every parameter Twilio posted, blank values included (Twilio signs them all; Sanic
    21.12's ``request.form`` drops them). None for a body that is no such form."""
    try:
        return dict(urllib.parse.parse_qsl(request.body.decode("utf-8"), keep_blank_values=True,
                                           max_num_fields=MAX_FIELDS))
    except (UnicodeDecodeError, ValueError):
        return None


def signed_url(request: Request, settings: Settings) -> str:
    """The URL Twilio called, as it signs it: the public base URL, the path and the query
    string exactly as they came (``?tenant=kestrel``)."""
    if not settings.public_url:
        return request.url
    query = request.query_string
    return settings.public_url.rstrip("/") + request.path + (f"?{query}" if query else "")


def signed_by_twilio(request: Request, form: dict[str, str], settings: Settings) -> bool:
    token = settings.twilio_auth_token
    signature = request.headers.get("x-twilio-signature")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(signed_url(request, settings), form, signature)


def parse_message(form: dict[str, str]) -> TwilioMessage | str:
    """The message, or why the post is malformed."""
    sender, sid, body = form.get("From"), form.get("MessageSid"), printable(form.get("Body", ""))
    if not sender or not sid:
        return "From and MessageSid are required"
    body = body[:MAX_BODY]  # never refused: Twilio does not post a message again after a 4xx
    channel, msisdn = parse_address(sender)
    if msisdn is None:
        return "From is not a phone number"
    opt_out = (form.get("OptOutType") or "").strip().upper() or None
    return TwilioMessage(channel, msisdn, sid, body, opt_out, _attachment(form, body))


def parse_address(address: str) -> tuple[str, str | None]:
    """("sms" or "whatsapp", the number without "+") from Twilio's From field."""
    channel = "whatsapp" if address.startswith("whatsapp:") else "sms"
    digits = address.removeprefix("whatsapp:").strip()
    return channel, (digits.lstrip("+") if re.fullmatch(r"\+?\d{6,15}", digits) else None)


_KINDS = {"image": "a photo", "video": "a video", "audio": "a voice message",
          "location": "a location", "sticker": "a sticker", "contacts": "a contact card"}


def _attachment(form: dict[str, str], body: str) -> str | None:
    """What a message without text carries, for the record (a caption is text: it is read);
    None for text. WhatsApp names the kind (``MessageType``); an MMS only its media type."""
    if body.strip():
        return None
    if form.get("Latitude") and form.get("Longitude"):
        return "a location"
    kind = (form.get("MessageType") or "").lower()
    media = (form.get("MediaContentType0") or "").partition("/")[0]
    return _KINDS.get(kind) or _KINDS.get(media) or (
        "an attachment" if (form.get("NumMedia") or "0") != "0" else "an empty message")


async def _handle(message: TwilioMessage, services: Services,
                  on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Outcome:
    client = services.async_redis()
    output = SmsOutput(message.address, services.settings)
    marked = await delivery.unreachable_code(client, message.channel, message.msisdn) or ""
    keyword = carrier_keyword(message, opted_out=marked.startswith("opted_out:"))
    if keyword or message.attachment:
        return await _once(client, message,
                           lambda: _not_for_the_assistant(client, message, keyword, output))
    if marked.startswith("undeliverable:"):  # it writes to us, so it can be written to
        await mark(client, message.channel, message.msisdn, None, "wrote to us")
    inbound = Inbound(message.channel, message.sender_id, message.body.strip(), message.sid,
                      {"channel_verified_msisdn": message.msisdn},
                      prepare=functools.partial(_button_choice, client, message.sender_id,
                                                message.sid))
    return await deliver(inbound, output, on_new_message, services)


def carrier_keyword(message: TwilioMessage, opted_out: bool) -> str | None:
    """STOP, START or HELP when the message is a carrier keyword: Twilio's ``OptOutType`` when it
    sent one, else (on SMS) a message that is only one of Twilio's default keywords."""
    if message.opt_out_type in ("STOP", "START", "HELP"):
        return message.opt_out_type
    word = message.body.strip().upper()
    if message.channel != "sms" or not word:
        return None
    if word in OPT_OUT_WORDS:
        return "STOP"
    if word in OPT_IN_WORDS or (opted_out and word in OPT_IN_WHEN_OPTED_OUT):
        return "START"
    return "HELP" if word in HELP_WORDS else None


async def _not_for_the_assistant(client: Redis, message: TwilioMessage, keyword: str | None,
                                 output: SmsOutput) -> None:
    """A carrier keyword or a message without text: into the contact record, and answered here
    (HELP, "I can only read text") or not at all (STOP and START: Twilio confirms those)."""
    text = message.body.strip() or f"[{message.attachment}]"
    await events.publish_async(client, events.customer_message(
        message.sender_id, text, message.sid, message.channel))
    log.info("sms.not_for_the_assistant", channel=message.channel,
             kind=keyword or "no_text", conversation=conversation_ref(message.sender_id))
    if keyword in ("STOP", "START"):
        state = "opted_out" if keyword == "STOP" else None
        await mark(client, message.channel, message.msisdn, state, text.upper())
        return
    reply = HELP_TEXT if keyword == "HELP" else NOT_TEXT
    await output.send_text_message(message.sender_id, reply)
    await events.publish_async(client, events.bot_message(message.sender_id, reply))


async def _once(client: Redis, message: TwilioMessage,
                handle: Callable[[], Awaitable[None]]) -> Outcome:
    """``handle`` a message the gateway never sees exactly once, as the gateway does
    (``bot.claims``: claim, process, commit; a failed attempt releases its claim, so Twilio's
    redelivery is handled afresh)."""
    taken = await claims.claim(client, message.channel, message.sender_id, message.sid)
    if taken.state is not claims.State.NEW:
        return Outcome.BUSY if taken.state is claims.State.BUSY else Outcome.DUPLICATE
    try:
        await handle()
    except BaseException:
        await claims.release(client, taken)
        raise
    await claims.commit(client, taken)
    return Outcome.ANSWERED


async def _button_choice(client: Redis, sender_id: str, sid: str, text: str) -> str:
    """A reply of "1", "2", ... to the last numbered options is that button's payload. Options
    are good for one reply only, so a later "2" (a quantity, a date) stays a number. Run by the
    gateway once the message is claimed; the choice is kept per MessageSid, so Twilio's retry
    after a failed attempt (which took the options) is the same choice."""
    if not re.fullmatch(r"\d{1,2}", text):
        await client.delete(_buttons_key(sender_id))
        return text
    chosen = await client.get(_choice_key(sid))
    if chosen is not None:
        return chosen
    stored = await client.getdel(_buttons_key(sender_id))
    options = json.loads(stored) if stored else []
    index = int(text) - 1
    choice = options[index] if 0 <= index < len(options) else text
    await client.set(_choice_key(sid), choice, ex=BUTTONS_TTL)
    return choice


def _output(channel: str) -> registry.OutputFactory:
    def build(address: str, settings: Settings) -> SmsOutput | None:
        if not re.fullmatch(r"\d{6,15}", address):
            return None
        return SmsOutput(f"whatsapp:{address}" if channel == "whatsapp" else address, settings)

    return build


registry.register_output("sms", _output("sms"))
registry.register_output("whatsapp", _output("whatsapp"))
