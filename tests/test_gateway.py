"""The steps every inbound message takes (bot/gateway.py), on a real Redis: deduplication, and
an apology with the message kept in the contact record when Rasa fails or stays silent."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from rasa.core.channels.channel import CollectingOutputChannel

from bot import gateway
from contacts import events
from switchboard.redis_client import redis_client


@pytest.fixture
def redis(redis_settings, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_settings.effective_redis_url)
    client = redis_client(redis_settings)
    client.delete(events.STREAM)
    return client


def inbound() -> gateway.Inbound:
    return gateway.Inbound("rest", f"gw-{uuid.uuid4().hex[:8]}", "hello", uuid.uuid4().hex)


def stream_events(client) -> list[dict]:
    return [json.loads(fields["event"]) for _, fields in client.xrange(events.STREAM)]


def test_a_message_is_delivered_once(redis):
    message, seen = inbound(), []

    async def rasa(user_message):
        seen.append(user_message.message_id)
        await user_message.output_channel.send_text_message(user_message.sender_id, "hi!")

    async def twice():
        first = await gateway.deliver(message, CollectingOutputChannel(), rasa)
        again = await gateway.deliver(message, CollectingOutputChannel(), rasa)
        return first, again

    assert asyncio.run(twice()) == (gateway.Outcome.ANSWERED, gateway.Outcome.DUPLICATE)
    assert seen == [message.message_id]
    assert stream_events(redis) == []  # nothing extra: Rasa's own events record it


def test_a_rasa_failure_gets_an_apology_and_keeps_the_message(redis):
    message, output = inbound(), CollectingOutputChannel()

    async def broken(user_message):
        raise RuntimeError("model exploded")

    assert asyncio.run(gateway.deliver(message, output, broken)) == gateway.Outcome.FAILED
    assert [m["text"] for m in output.messages] == [gateway.APOLOGY]
    assert "Traceback" not in output.messages[0]["text"]
    kept = stream_events(redis)
    assert [(e["event"], e["text"]) for e in kept] == [("user", "hello"),
                                                       ("bot", gateway.APOLOGY)]
    assert kept[0]["message_id"] == message.message_id


def test_silence_after_a_failed_action_gets_an_apology(redis):
    output = CollectingOutputChannel()

    async def silent(user_message):  # Rasa logged an action error and carried on, saying nothing
        return None

    assert asyncio.run(gateway.deliver(inbound(), output, silent)) == gateway.Outcome.FAILED
    assert [m["text"] for m in output.messages] == [gateway.APOLOGY]
    assert [e["event"] for e in stream_events(redis)] == ["bot"]
