"""The steps every inbound message takes (bot/gateway.py), on a real Redis: deduplication, and
when Rasa fails or stays silent an apology, the message kept in the contact record, and the
customer passed to a person (fail open) or offered a callback when nobody is there."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from rasa.core.channels.channel import CollectingOutputChannel

from bot import gateway
from contacts import events
from handoff import presence, queue
from switchboard.redis_client import redis_client


@pytest.fixture
def redis(redis_settings, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_settings.effective_redis_url)
    monkeypatch.setenv("HANDOFF_OPENING_HOURS", "Mon-Sun 00:00-24:00")
    client = redis_client(redis_settings)
    client.delete(events.STREAM, "switchboard:handoff:presence")
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


def test_a_rasa_failure_gets_an_apology_keeps_the_message_and_offers_a_callback(redis):
    message, output = inbound(), CollectingOutputChannel()

    async def broken(user_message):
        raise RuntimeError("model exploded")

    assert asyncio.run(gateway.deliver(message, output, broken)) == gateway.Outcome.FAILED
    [said] = [m["text"] for m in output.messages]
    assert said.startswith(gateway.APOLOGY_SHORT) and "Leave us a message" in said
    assert "Traceback" not in said and "exploded" not in said
    kept = stream_events(redis)
    assert [(e["event"], e["text"]) for e in kept] == [("user", "hello"), ("bot", said)]
    assert kept[0]["message_id"] == message.message_id
    assert queue.owner(redis, message.sender_id) == queue.AWAITING_CALLBACK_MESSAGE


def test_a_rasa_failure_passes_the_customer_to_an_online_agent(redis):
    presence.set_status(redis, "ana", "online", ["general"], 3)
    message, output = inbound(), CollectingOutputChannel()

    async def broken(user_message):
        raise RuntimeError("model exploded")

    assert asyncio.run(gateway.deliver(message, output, broken)) == gateway.Outcome.FAILED
    assert "passing you to one of our agents" in output.messages[0]["text"]
    assert queue.owner(redis, message.sender_id) == "queued"
    handoff = queue.record(redis, message.sender_id)
    assert (handoff.reason, handoff.skill) == ("bot_failure", "general")
    assert queue.cancel(redis, message.sender_id)


def test_silence_after_a_failed_action_gets_an_apology(redis):
    output = CollectingOutputChannel()

    async def silent(user_message):  # Rasa logged an action error and carried on, saying nothing
        return None

    assert asyncio.run(gateway.deliver(inbound(), output, silent)) == gateway.Outcome.FAILED
    assert output.messages[0]["text"].startswith(gateway.APOLOGY_SHORT)
    assert [e["event"] for e in stream_events(redis)] == ["bot"]


def test_with_redis_down_the_apology_still_goes_out(redis, monkeypatch):
    from switchboard.launcher import free_port

    message, output = inbound(), CollectingOutputChannel()

    async def broken(user_message):
        raise RuntimeError("model exploded")

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    asyncio.run(gateway._fail_open(message, output, with_message=True))
    assert [m["text"] for m in output.messages] == [gateway.APOLOGY]
