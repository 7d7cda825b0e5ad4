"""SMS and WhatsApp through Twilio: ``POST /webhooks/sms/webhook`` (Twilio's form post).

Transport and formatting only; the rest is ``bot.gateway.deliver``. Each request must carry a
valid ``X-Twilio-Signature`` for the URL Twilio was configured with (``SWITCHBOARD_PUBLIC_URL``
+ the path, or the URL the request arrived on when that is unset); anything else gets 403.
The sender's number is channel-verified, so verification starts from it. Replies go out through
the SMS gateway (``switchboard.sms``), split at segment limits without breaking words; buttons
become numbered options and a reply of "1", "2", ... means that button. ``whatsapp:`` senders
are the WhatsApp channel, answered the same way on WhatsApp.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, Request, response
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from bot.channels.base import WebhookChannel
from bot.gateway import Inbound, deliver
from switchboard.log import get_logger
from switchboard.redis_client import async_redis_client
from switchboard.settings import Settings, load_settings
from switchboard.sms import sms_gateway

log = get_logger(__name__)

GSM_SINGLE, GSM_PART = 160, 153  # characters in one SMS, and per part of a concatenated one
UCS2_SINGLE, UCS2_PART = 70, 67  # the same when the text needs Unicode
GSM_CHARS = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")
BUTTONS_TTL = 24 * 3600
MAX_BODY = 1600  # Twilio's own limit for an inbound message
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def split_sms(text: str) -> list[str]:
    """The text as SMS parts that each fit one segment, split between words."""
    gsm = all(ch in GSM_CHARS for ch in text)
    single, part = (GSM_SINGLE, GSM_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    if len(text) <= single:
        return [text]
    parts: list[str] = []
    current = ""
    for word in re.findall(r"\S+\s*", text):
        while len(word) > part:  # a single "word" longer than a segment (a URL): cut it
            if current:
                parts.append(current.rstrip())
                current = ""
            parts.append(word[:part])
            word = word[part:]
        if len(current) + len(word.rstrip()) > part:
            parts.append(current.rstrip())
            current = ""
        current += word
    if current.strip():
        parts.append(current.rstrip())
    return parts


def numbered(text: str, buttons: list[dict[str, Any]]) -> str:
    options = "\n".join(f"{n}. {b.get('title', '')}" for n, b in enumerate(buttons, start=1))
    return f"{text}\n{options}\nReply with the number."


def _buttons_key(sender_id: str) -> str:
    return f"switchboard:sms:buttons:{sender_id}"


class SmsOutput(OutputChannel):
    """Sends to one SMS/WhatsApp address through the SMS gateway; usable from any process."""

    def __init__(self, address: str, settings: Settings | None = None) -> None:
        self.address = address  # 447700900001 or whatsapp:447700900001
        self.settings = settings or load_settings()

    @classmethod
    def name(cls) -> str:
        return "sms"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        gateway = sms_gateway(self.settings)
        for part in split_sms(text):
            await asyncio.to_thread(gateway.send, self.address, part)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        payloads = [b.get("payload", "") for b in buttons]
        await async_redis_client().set(_buttons_key(recipient_id), json.dumps(payloads),
                                       ex=BUTTONS_TTL)
        await self.send_text_message(recipient_id, numbered(text, buttons))


class TwilioSmsInput(WebhookChannel):
    @classmethod
    def name(cls) -> str:
        return "sms"


    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint()
        settings = load_settings()

        @webhook.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            if not signed_by_twilio(request, settings):
                return response.json({"error": "missing or invalid X-Twilio-Signature"},
                                     status=403)
            form = {key: request.form.get(key) for key in request.form}
            sender, body, sid = form.get("From"), form.get("Body"), form.get("MessageSid")
            if not sender or sid is None or body is None:
                return response.json({"error": "From, Body and MessageSid are required"},
                                     status=400)
            if len(body) > MAX_BODY:
                return response.json({"error": f"Body is longer than {MAX_BODY}"}, status=400)
            channel, msisdn = parse_address(sender)
            if msisdn is None:
                return response.json({"error": "From is not a phone number"}, status=400)
            address = f"whatsapp:{msisdn}" if channel == "whatsapp" else msisdn
            sender_id = f"{channel}:{msisdn}"
            try:
                text = await _button_choice(sender_id, body.strip())
                inbound = Inbound(channel, sender_id, text, sid,
                                  {"channel_verified_msisdn": msisdn})
                await deliver(inbound, SmsOutput(address, settings), on_new_message)
            except RedisError:
                return response.json({"error": "temporarily unavailable"}, status=503)
            return response.text(EMPTY_TWIML, content_type="application/xml")

        return webhook


def parse_address(address: str) -> tuple[str, str | None]:
    """("sms" or "whatsapp", the number without "+") from Twilio's From field."""
    channel = "whatsapp" if address.startswith("whatsapp:") else "sms"
    digits = address.removeprefix("whatsapp:").strip()
    return channel, (digits.lstrip("+") if re.fullmatch(r"\+?\d{6,15}", digits) else None)


def signed_by_twilio(request: Request, settings: Settings) -> bool:
    token = settings.twilio_auth_token
    signature = request.headers.get("x-twilio-signature")
    if not token or not signature:
        return False
    url = (settings.public_url.rstrip("/") + request.path if settings.public_url
           else request.url)
    params = {key: request.form.get(key) for key in request.form}
    return RequestValidator(token).validate(url, params, signature)


async def _button_choice(sender_id: str, text: str) -> str:
    """A reply of "1", "2", ... to the last numbered options is that button's payload. Options
    are good for one reply only, so a later "2" (a quantity, a date) stays a number."""
    stored = await async_redis_client().getdel(_buttons_key(sender_id))
    if not re.fullmatch(r"\d{1,2}", text):
        return text
    options = json.loads(stored) if stored else []
    index = int(text) - 1
    return options[index] if 0 <= index < len(options) else text
