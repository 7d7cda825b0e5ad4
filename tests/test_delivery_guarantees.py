"""Issue 13's gateway kinds, through the running stack: at-least-once delivery with an
exactly-once effect (REST), ownership decided while a message waited for the conversation's
lock, one customer's failure never stopping a sweep over many, and conversation ids that work
through every path of the handoff."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
import uuid

import pytest

from handoff import customer, queue, worker
from handoff.queue import Handoff
from tests.conftest import API_TOKEN, REST_TOKEN
from tests.helpers import http


def rest_post(assistant, body: dict) -> tuple[int, object]:
    return http("POST", f"{assistant.base_url}/webhooks/rest/webhook", body, token=REST_TOKEN)


# --- 5. At-least-once, exactly-once effect ---

def test_a_rest_retry_after_a_redis_failure_is_answered_and_recorded_once(assistant, sender):
    """The first attempt fails after its claim (Redis refuses the owner lookup once): 503. The
    retry with the same message id is answered; a third is a duplicate; one touch each way."""
    body = {"sender": sender.removeprefix("rest:"), "message": "what is roaming",
            "message_id": f"m-{uuid.uuid4().hex}"}
    client = assistant.redis()
    client.execute_command("ACL", "SETUSER", "default", "-get")
    try:
        status, _ = rest_post(assistant, body)
    finally:
        client.execute_command("ACL", "SETUSER", "default", "+get")
    assert status == 503
    status, answer = rest_post(assistant, body)
    assert status == 200 and answer and "roam" in answer[0]["text"].lower()
    assert rest_post(assistant, body) == (200, [])
    [contact] = assistant.contacts(sender)
    assert [t["author"] for t in contact["touches"]] == ["customer", "bot"]


# --- 6. Ownership races ---

def test_a_message_right_behind_a_request_for_a_person_is_kept_for_the_agent(
        assistant, agents_online):
    """"I want to talk to a person", then another message 10-50 ms later: the second waited for
    the conversation's lock while the first paused the tracker. It used to be apologised for as
    a bot failure; it is the agent's now, told as a queue position."""
    for attempt in range(5):
        sender = f"rest:race-{uuid.uuid4().hex[:8]}"
        answers: dict[str, tuple[int, object]] = {}

        def say(key: str, text: str, sender: str = sender, answers: dict = answers) -> None:
            try:
                answers[key] = rest_post(assistant, {"sender": sender.removeprefix("rest:"),
                                                     "message": text})
            except OSError as exc:  # a timeout on a loaded machine: say so, not KeyError
                answers[key] = (0, [{"text": f"no answer: {exc!r}"}])

        first = threading.Thread(target=say, args=("first", "I want to talk to a person"))
        second = threading.Thread(target=say, args=("second", "it's about my roaming bill"))
        first.start()
        time.sleep(0.01 + 0.01 * attempt)
        second.start()
        first.join(120)
        second.join(120)
        said = " ".join(m.get("text", "") for m in answers["second"][1])
        assert "went wrong" not in said, (attempt, answers)
        assert queue.owner(assistant.redis(), sender) == "queued"
        handoff = queue.record(assistant.redis(), sender)
        assert handoff.reason != "bot_failure"
        [contact] = assistant.contacts(sender)
        customer_said = [t["text"] for t in contact["touches"] if t["author"] == "customer"]
        assert "it's about my roaming bill" in customer_said
        assert queue.cancel(assistant.redis(), sender)


# --- 4. One customer's failure never stops work for others ---

@pytest.fixture
def unreachable(monkeypatch) -> set[str]:
    """Conversations whose channel raises on every send (a provider library failing in a way
    nobody classified): the transport boundary, where such a failure would come from."""
    broken: set[str] = set()
    real = customer.send_to_customer

    async def send(sender_id: str, text: str, *args, **kwargs) -> None:
        if sender_id in broken:
            raise RuntimeError("provider exploded")
        await real(sender_id, text, *args, **kwargs)

    monkeypatch.setattr(customer, "send_to_customer", send)
    return broken


def waiting_in(assistant, count: int, skill: str = "technical") -> list[str]:
    senders = [f"webchat:sweep{uuid.uuid4().hex[:12]}" for _ in range(count)]
    for sender in senders:
        queue.enqueue(assistant.redis(), Handoff(sender, "webchat", skill, "requested"))
    return senders


def test_an_expiry_sweep_handles_everyone_after_an_unreachable_customer(
        assistant, unreachable):
    senders = waiting_in(assistant, 3)
    unreachable.add(senders[1])
    settings = dataclasses.replace(assistant.settings, handoff_max_wait_minutes=0.001)
    asyncio.run(worker.expire(settings, time.time() + 60))
    for sender in senders:  # all three: out of the queue, back with the bot
        assert queue.owner(assistant.redis(), sender) in (None, "bot")
    for sender in (senders[0], senders[2]):  # and those who can be reached were told
        assert any(t["text"] == worker.EXPIRED_MESSAGE for t in told(assistant, sender))


def test_an_agent_going_offline_requeues_every_chat_past_an_unreachable_one(
        assistant, unreachable):
    from handoff import presence

    agent = f"sweeper{uuid.uuid4().hex[:6]}"
    presence.set_status(assistant.redis(), agent, "online", ["technical"], 5)
    senders = waiting_in(assistant, 3)
    for sender in senders:
        assert queue.claim(assistant.redis(), agent, sender, 5)
    unreachable.add(sorted(senders)[0])
    moved = asyncio.run(worker.go_offline(assistant.settings, agent))
    assert sorted(moved) == sorted(senders)
    for sender in senders:
        assert queue.owner(assistant.redis(), sender) == "queued"
        assert queue.cancel(assistant.redis(), sender)


def told(assistant, sender: str) -> list[dict]:
    assistant.wait_recorded()
    status, page = http("GET", f"{assistant.contacts_url}?sender={sender}", token=API_TOKEN)
    assert status == 200, page
    touches = []
    for item in page["items"]:
        detail = http("GET", f"{assistant.contacts_url}/{item['reference']}",
                      token=API_TOKEN)[1]
        touches += detail["touches"]
    return touches


# --- 7. Identifiers are data ---

@pytest.mark.parametrize("name", ["crm:4711", "alice.smith@example.com", "A-b_c.9"])
def test_a_rest_id_with_punctuation_works_through_queue_cancel_and_resume(
        assistant, agents_online, name):
    sender = f"rest:{name}-{uuid.uuid4().hex[:6]}"
    assistant.say(sender, "I want to talk to a person")
    assert queue.owner(assistant.redis(), sender) == "queued"
    assert assistant.tracker(sender)["paused"] is True
    left = " ".join(m.get("text", "") for m in assistant.say(sender, "cancel"))
    assert "left the queue" in left
    assert assistant.tracker(sender)["paused"] is False  # the same tracker was resumed
    again = " ".join(m.get("text", "") for m in assistant.say(sender, "what is roaming"))
    assert "roam" in again.lower() and "left the queue" not in again


def test_a_telegram_update_retried_after_a_redis_failure_is_answered_and_recorded_once(
        assistant, fake_telegram):
    """The same as for REST, with Telegram's redelivery of the same update_id."""
    from tests import telegram_updates as tg
    from tests.test_telegram_channel import message_update, post, texts_to

    chat_id = tg.new_id()
    update = message_update(chat_id, text="what roaming options do you have?")
    client = assistant.redis()
    client.execute_command("ACL", "SETUSER", "default", "-get")
    try:
        status, _ = post(assistant, update)
    finally:
        client.execute_command("ACL", "SETUSER", "default", "+get")
    assert status == 503  # Telegram will deliver it again
    assert fake_telegram.sent_to(chat_id, wait=1.0) == []
    assert post(assistant, update)[0] == 200
    [answer] = texts_to(fake_telegram, chat_id)
    assert "Roam Like Home" in answer
    assert post(assistant, update)[0] == 200
    time.sleep(1.0)
    assert texts_to(fake_telegram, chat_id) == [answer]
    [contact] = assistant.contacts(f"telegram:{chat_id}")
    assert [t["author"] for t in contact["touches"]] == ["customer", "bot"]
