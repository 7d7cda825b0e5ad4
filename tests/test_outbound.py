"""Sending to a customer later, from outside a request, on each channel's real transport."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
import websockets

from bot.channels.outbound import NoOutboundChannel, send_to_customer
from switchboard.sms import OutboxGateway, outbox_path
from tests.test_webchat import _receive, socket_url


def test_telegram_sms_and_whatsapp(assistant, fake_telegram, monkeypatch):
    monkeypatch.setenv("REDIS_URL", assistant.settings.effective_redis_url)
    chat = random.randrange(10**8, 10**9)
    number = f"4477009{random.randrange(10**5):05d}"

    async def send_all():
        await send_to_customer(f"telegram:{chat}", "An agent replied: hello!",
                               settings=assistant.settings)
        await send_to_customer(f"sms:{number}", "An agent replied: hello!",
                               buttons=[{"title": "Thanks", "payload": "/thank_you"}],
                               settings=assistant.settings)
        await send_to_customer(f"whatsapp:{number}", "Hello on WhatsApp",
                               settings=assistant.settings)

    asyncio.run(send_all())
    assert [m["text"] for m in fake_telegram.sent_to(chat)] == ["An agent replied: hello!"]
    outbox = OutboxGateway(outbox_path(assistant.settings)).messages()
    assert [m["body"] for m in outbox if m["to"] == number] == [
        "An agent replied: hello!\n1. Thanks\nReply with the number."]
    assert [m["body"] for m in outbox if m["to"] == f"whatsapp:{number}"] == ["Hello on WhatsApp"]


def test_webchat_reaches_the_open_socket(assistant, monkeypatch):
    monkeypatch.setenv("REDIS_URL", assistant.settings.effective_redis_url)

    async def scenario():
        async with websockets.connect(socket_url(assistant)) as ws:
            await ws.send(json.dumps({"type": "hello", "session_id": None}))
            session = (await _receive(ws, "session"))["session_id"]
            await _receive(ws, "history")
            await send_to_customer(f"webchat:{session}", "An agent replied: hello!")
            return await _receive(ws, "bot")

    assert asyncio.run(scenario())["text"] == "An agent replied: hello!"


def test_rest_conversations_cannot_be_written_to_later():
    with pytest.raises(NoOutboundChannel):
        asyncio.run(send_to_customer("test-1234", "hi"))
