"""Sending to a customer later, from outside a request, on each channel's real transport."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
import websockets

from bot.channels.outbound import NoOutboundChannel, send_to_customer
from bot.channels.webchat import session_from_token
from switchboard.settings import Settings
from tests.conftest import TWILIO_FROM, TWILIO_WHATSAPP_FROM
from tests.fake_twilio import FakeTwilio
from tests.helpers import fresh_msisdn
from tests.test_webchat import _receive, socket_url


def test_telegram_sms_and_whatsapp(assistant, fake_telegram):
    chat = random.randrange(10**8, 10**9)
    number = fresh_msisdn()
    long_news = " ".join(["Your new plan starts on Monday."] * 40)  # 1,279 characters

    async def send_all():
        await send_to_customer(f"telegram:{chat}", "An agent replied: hello!",
                               settings=assistant.settings)
        await send_to_customer(f"sms:{number}", "An agent replied: hello!",
                               buttons=[{"title": "Thanks", "payload": "/thank_you"}],
                               settings=assistant.settings)
        await send_to_customer(f"whatsapp:{number}", "Hello on WhatsApp",
                               settings=assistant.settings)
        await send_to_customer(f"whatsapp:{number}", long_news, settings=assistant.settings)

    asyncio.run(send_all())
    assert [m["text"] for m in fake_telegram.sent_to(chat)] == ["An agent replied: hello!"]
    twilio = FakeTwilio.at(assistant.settings.twilio_api_url)
    [sms] = twilio.sent_to(number)
    assert (sms["to"], sms["from"]) == (f"+{number}", TWILIO_FROM)
    assert sms["body"] == "An agent replied: hello!\n1. Thanks\nReply with the number."
    whatsapp = twilio.sent_to(f"whatsapp:{number}", count=2)
    assert [m["body"] for m in whatsapp] == ["Hello on WhatsApp", long_news]  # no SMS parts
    assert {(m["to"], m["from"]) for m in whatsapp} == {(f"whatsapp:+{number}",
                                                        TWILIO_WHATSAPP_FROM)}


def test_webchat_reaches_the_open_socket(assistant):
    async def scenario():
        async with websockets.connect(socket_url(assistant)) as ws:
            await ws.send(json.dumps({"type": "hello", "token": None}))
            token = (await _receive(ws, "session"))["token"]
            session = session_from_token(assistant.settings, token)
            await _receive(ws, "history")
            await send_to_customer(f"webchat:{session}", "An agent replied: hello!",
                                   settings=assistant.settings)
            return await _receive(ws, "bot")

    assert asyncio.run(scenario())["text"] == "An agent replied: hello!"


def test_rest_conversations_cannot_be_written_to_later():
    with pytest.raises(NoOutboundChannel):
        asyncio.run(send_to_customer("test-1234", "hi", settings=Settings.from_env({})))
