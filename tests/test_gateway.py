"""The steps every inbound message takes (bot/gateway.py), on a real Redis: deduplication, and
when Rasa fails or stays silent an apology, the message kept in the contact record, and the
customer passed to a person (fail open) or offered a callback when nobody is there."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from rasa.core.channels.channel import CollectingOutputChannel

from bot import gateway
from contacts import events
from handoff import presence, queue
from processes.ports import free_port
from switchboard.redis_client import async_redis_client, redis_client
from switchboard.services import Services
from switchboard.settings import Settings


@pytest.fixture
def services(redis_settings) -> Services:
    """What a channel passes the gateway: the process's Services (agents work at any hour)."""
    return Services(Settings.from_env({"REDIS_URL": redis_settings.effective_redis_url,
                                       "HANDOFF_OPENING_HOURS": "Mon-Sun 00:00-24:00"}))


@pytest.fixture
def redis(services):
    client = services.redis
    client.delete(*events.streams(), "switchboard:handoff:presence")
    return client


def nowhere() -> Services:
    """Services whose Redis is a port nobody listens on."""
    return Services(Settings.from_env({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}))


def inbound() -> gateway.Inbound:
    return gateway.Inbound("rest", f"gw-{uuid.uuid4().hex[:8]}", "hello", uuid.uuid4().hex)


def stream_events(client) -> list[dict]:
    return events.appended(client)


def test_a_message_is_delivered_once(redis, services):
    message, seen = inbound(), []

    async def rasa(user_message):
        seen.append(user_message.message_id)
        await user_message.output_channel.send_text_message(user_message.sender_id, "hi!")

    async def twice():
        first = await gateway.deliver(message, CollectingOutputChannel(), rasa, services)
        again = await gateway.deliver(message, CollectingOutputChannel(), rasa, services)
        return first, again

    assert asyncio.run(twice()) == (gateway.Outcome.ANSWERED, gateway.Outcome.DUPLICATE)
    assert seen == [message.message_id]
    assert stream_events(redis) == []  # nothing extra: Rasa's own events record it


def test_a_rasa_failure_gets_an_apology_keeps_the_message_and_offers_a_callback(redis, services):
    message, output = inbound(), CollectingOutputChannel()

    async def broken(user_message):
        raise RuntimeError("model exploded")

    assert asyncio.run(gateway.deliver(message, output, broken, services)) == gateway.Outcome.FAILED
    [said] = [m["text"] for m in output.messages]
    assert said.startswith(gateway.APOLOGY_SHORT) and "Leave us a message" in said
    assert "Traceback" not in said and "exploded" not in said
    kept = stream_events(redis)
    assert [(e["event"], e["text"]) for e in kept] == [("user", "hello"), ("bot", said)]
    assert kept[0]["message_id"] == message.message_id
    assert queue.owner(redis, message.sender_id) == queue.AWAITING_CALLBACK_MESSAGE


def test_a_rasa_failure_passes_the_customer_to_an_online_agent(redis, services):
    presence.set_status(redis, "ana", "online", ["general"], 3)
    message, output = inbound(), CollectingOutputChannel()

    async def broken(user_message):
        raise RuntimeError("model exploded")

    assert asyncio.run(gateway.deliver(message, output, broken, services)) == gateway.Outcome.FAILED
    assert "passing you to one of our agents" in output.messages[0]["text"]
    assert queue.owner(redis, message.sender_id) == "queued"
    handoff = queue.record(redis, message.sender_id)
    assert (handoff.reason, handoff.skill) == ("bot_failure", "general")
    assert queue.cancel(redis, message.sender_id)


def test_silence_after_a_failed_action_gets_an_apology(redis, services):
    output = CollectingOutputChannel()

    async def silent(user_message):  # Rasa logged an action error and carried on, saying nothing
        return None

    outcome = asyncio.run(gateway.deliver(inbound(), output, silent, services))
    assert outcome == gateway.Outcome.FAILED
    assert output.messages[0]["text"].startswith(gateway.APOLOGY_SHORT)
    assert [e["event"] for e in stream_events(redis)] == ["bot"]


def test_with_the_queue_unreachable_the_apology_still_goes_out(redis, services, monkeypatch):
    """Rasa fails and, meanwhile, every new Redis connection fails too (the queue cannot take
    the customer): through ``deliver``, the customer still gets the plain apology."""
    message, output, down = inbound(), CollectingOutputChannel(), nowhere().settings

    async def broken(user_message):
        # every client asked of the Services from now on reaches a port nobody listens on
        monkeypatch.setattr(Services, "redis", property(lambda self: redis_client(down)))
        monkeypatch.setattr(Services, "async_redis", lambda self: async_redis_client(down))
        raise RuntimeError("model exploded")

    assert asyncio.run(gateway.deliver(message, output, broken, services)) == gateway.Outcome.FAILED
    assert [m["text"] for m in output.messages] == [gateway.APOLOGY]


def test_with_redis_down_from_the_start_the_channel_is_told_to_retry(redis):
    from redis.exceptions import RedisError

    output = CollectingOutputChannel()

    async def rasa(user_message):
        raise AssertionError("nothing reaches Rasa before the message is claimed")

    with pytest.raises(RedisError):  # the channels answer 503: the provider retries
        asyncio.run(gateway.deliver(inbound(), output, rasa, nowhere()))
    assert output.messages == []


def test_a_failed_attempt_releases_its_claim_and_the_retry_is_answered_once(redis, services):
    """At-least-once delivery, exactly-once effect: the first attempt fails after the claim
    (Redis refuses a read), the retry with the same message id is processed, a third is a
    duplicate."""
    from redis.exceptions import ResponseError

    message, seen = inbound(), []

    async def rasa(user_message):
        seen.append(user_message.message_id)
        await user_message.output_channel.send_text_message(user_message.sender_id, "hi!")

    async def attempts():
        redis.execute_command("ACL", "SETUSER", "default", "-get")  # the owner lookup fails
        try:
            with pytest.raises(ResponseError):
                await gateway.deliver(message, CollectingOutputChannel(), rasa, services)
        finally:
            redis.execute_command("ACL", "SETUSER", "default", "+get")
        return [await gateway.deliver(message, CollectingOutputChannel(), rasa, services)
                for _ in range(2)]

    assert asyncio.run(attempts()) == [gateway.Outcome.ANSWERED, gateway.Outcome.DUPLICATE]
    assert seen == [message.message_id]


def test_a_retry_while_the_first_attempt_is_still_running_is_told_to_wait(redis, services):
    message, release = inbound(), asyncio.Event

    async def scenario():
        go = release()

        async def slow(user_message):
            await go.wait()
            await user_message.output_channel.send_text_message(user_message.sender_id, "hi!")

        first = asyncio.create_task(
            gateway.deliver(message, CollectingOutputChannel(), slow, services))
        await asyncio.sleep(0.1)
        meanwhile = await gateway.deliver(message, CollectingOutputChannel(), slow, services)
        go.set()
        return meanwhile, await first

    assert asyncio.run(scenario()) == (gateway.Outcome.BUSY, gateway.Outcome.ANSWERED)


def test_a_long_turn_keeps_its_claim_and_a_dead_processs_claim_lapses_in_seconds(
        redis, services, monkeypatch):
    """A claim used to last 120 s, so a message whose process was killed mid-turn was refused
    (409 / 503) for two minutes, past every provider's retries. Now it lapses CLAIM_SECONDS
    after its last renewal, and a live turn renews it, however long it runs."""
    from bot import claims

    monkeypatch.setattr(claims, "CLAIM_SECONDS", 1)
    monkeypatch.setattr(claims, "RENEW_SECONDS", 0.3)
    slow, message = inbound(), inbound()

    async def rasa(user_message):
        await asyncio.sleep(2.5)  # longer than a claim's life
        await user_message.output_channel.send_text_message(user_message.sender_id, "done")

    async def scenario():
        turn = asyncio.create_task(
            gateway.deliver(slow, CollectingOutputChannel(), rasa, services))
        await asyncio.sleep(1.8)
        during = await gateway.deliver(slow, CollectingOutputChannel(), rasa,
                                       services)  # a redelivery
        answered = await turn
        client = services.async_redis()
        dead = await claims.claim(client, "rest", message.sender_id, message.message_id)
        await asyncio.sleep(1.5)  # its process died: nobody renews
        after = await claims.claim(client, "rest", message.sender_id, message.message_id)
        return during, answered, dead.state, after.state

    assert asyncio.run(scenario()) == (gateway.Outcome.BUSY, gateway.Outcome.ANSWERED,
                                       claims.State.NEW, claims.State.NEW)
