"""Routing and the queue's clock over the running stack and its Redis: out of hours and nobody
online (a callback request instead of a wait), agents going offline or silent (their chats
requeued at the front), auto-assignment to the least-loaded agent, transfer to a named agent,
position updates, wait estimates from real handle times, CSAT,
internal notes, canned answers, and Redis keeping the queue across a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import urllib.parse
from datetime import datetime, timezone

import pytest

from handoff import intake, presence, queue, worker
from handoff.queue import Handoff
from processes.launcher import embedded_redis
from processes.ports import free_port
from switchboard.redis_client import _client_for
from switchboard.settings import Settings
from tests.test_console import csrf_of, fetch, log_in
from tests.test_telegram_channel import message_update, post, telegram_chat, texts_to


def drain(client) -> None:
    """Other tests' waiting conversations out of the way."""
    while queue.claim_next(client, "drain", list(queue.SKILLS), 100_000):
        pass


def test_out_of_hours_the_customer_is_offered_to_leave_a_message(assistant):
    settings = dataclasses.replace(assistant.settings, handoff_hours="Mon-Fri 09:00-17:00",
                                   handoff_timezone="UTC")
    saturday_noon = datetime(2026, 11, 28, 12, tzinfo=timezone.utc).timestamp()
    sender = f"hours-{random.randrange(10**9)}"
    taken = intake.hand_over(assistant.redis(), settings,
                             Handoff(sender, "rest", "general", "requested"), now=saturday_noon)
    assert not taken.queued and "Mon-Fri 09:00-17:00" in taken.message
    assert queue.owner(assistant.redis(), sender) == queue.AWAITING_CALLBACK_MESSAGE
    assert sender not in queue.waiting(assistant.redis(), "general")
    monday = datetime(2026, 11, 30, 10, tzinfo=timezone.utc).timestamp()
    presence.set_status(assistant.redis(), "ana", "online", ["general"], 3, now=monday)
    opened = intake.hand_over(assistant.redis(), settings,
                              Handoff(f"{sender}-2", "rest", "general", "requested"), now=monday)
    assert opened.queued and queue.cancel(assistant.redis(), f"{sender}-2")


def test_with_nobody_online_the_message_left_becomes_a_callback_request(assistant, sender):
    assistant.redis().delete("switchboard:handoff:presence")
    [offer] = assistant.texts(sender, "I want to speak to a real person")
    assert "Leave us a message" in offer
    assert assistant.tracker(sender)["paused"] is False  # an offer that lapses leaves a live bot
    [noted] = assistant.texts(sender, "please call me about my roaming bill")
    assert "call you back" in noted
    assert queue.owner(assistant.redis(), sender) == "bot"
    assert assistant.tracker(sender)["paused"] is False
    [contact] = assistant.contacts(sender)
    assert ("callback_request", "pending") in [(o["category"], o["result"])
                                               for o in contact["operations"]]
    assert contact["disposition"] == "callback_requested"
    assert "please call me about my roaming bill" in [t["text"] for t in contact["touches"]]
    assert "Kestrel Mobile assistant" in assistant.texts(sender, "hi")[0]


def test_an_agent_gone_silent_has_their_chats_requeued_at_the_front(assistant, fake_telegram,
                                                                   agents_online):
    client = assistant.redis()
    drain(client)
    for held in queue.chats_of(client, "tom"):  # other tests' chats would be requeued too
        queue.return_to_bot(client, "tom", held)
    chat_id, sender, _ = telegram_chat(assistant, fake_telegram)
    other = f"waiting-{random.randrange(10**9)}"
    queue.enqueue(client, Handoff(other, "rest", "technical", "requested",
                                  enqueued_at=time.time() - 600))
    assert queue.claim(client, "tom", sender, capacity=3)
    long_ago = time.time() - assistant.settings.agent_timeout_seconds - 5
    presence.set_status(client, "tom", "online", ["technical", "general"], 3, now=long_ago)
    moved = asyncio.run(worker.requeue_abandoned(assistant.settings, time.time()))
    assert moved >= 1
    assert presence.get(client, "tom").status == "offline"
    assert queue.owner(client, sender) == "queued"
    skill = queue.record(client, sender).skill
    assert queue.waiting(client, skill)[0] == sender  # ahead of those who waited longer
    assert "had to step away" in texts_to(fake_telegram, chat_id, count=2)[-1]
    drain(client)


def test_a_chat_left_unanswered_too_long_is_requeued(assistant, agents_online):
    client = assistant.redis()
    sender = f"unanswered-{random.randrange(10**9)}"
    queue.enqueue(client, Handoff(sender, "rest", "billing", "requested"))
    assert queue.claim(client, "ana", sender, capacity=3)
    later = time.time() + assistant.settings.reply_timeout_minutes * 60 + 5
    presence.set_status(client, "ana", "online", ["billing", "general"], 3, now=later)
    assert asyncio.run(worker.requeue_abandoned(assistant.settings, later)) >= 1
    assert queue.owner(client, sender) == "queued"
    queue.agent_answered(client, sender)
    assert queue.cancel(client, sender)


def test_auto_assignment_goes_to_the_least_loaded_online_agent(assistant):
    client = assistant.redis()
    drain(client)
    client.delete("switchboard:handoff:presence")
    for agent_id in ("busy", "idle", "away-agent"):
        presence.set_status(client, agent_id, "online", ["billing"], 3)
    presence.set_status(client, "away-agent", "away", ["billing"], 3)
    queue.enqueue(client, Handoff("already-busy", "rest", "billing", "requested"))
    assert queue.claim(client, "busy", "already-busy", capacity=3)
    sender = f"auto-{random.randrange(10**9)}"
    queue.enqueue(client, Handoff(sender, "rest", "billing", "requested"))
    settings = dataclasses.replace(assistant.settings, auto_assign=True)
    assert asyncio.run(worker.auto_assign(settings)) == 1
    assert queue.owner(client, sender) == "agent:idle"
    queue.return_to_bot(client, "busy", "already-busy")
    queue.return_to_bot(client, "idle", sender)


def test_customers_hear_when_they_move_up_and_waits_follow_handle_times(assistant,
                                                                         fake_telegram,
                                                                         agents_online):
    client = assistant.redis()
    drain(client)
    client.delete("switchboard:handoff:handle_times")
    ahead = [f"ahead-{i}-{random.randrange(10**9)}" for i in range(3)]
    for sender in ahead:
        queue.enqueue(client, Handoff(sender, "rest", "general", "requested"))
    chat_id, sender, told = telegram_chat(assistant, fake_telegram)
    assert "number 4 in the queue" in told
    for done in ahead:  # agents take the three ahead
        assert queue.claim(client, "sam", done, capacity=10)
    assert asyncio.run(worker.tell_positions(assistant.settings)) >= 1
    assert "You're next in the queue" in texts_to(fake_telegram, chat_id, count=2)[-1]
    # Wait estimates come from recent handle times: three 10-minute chats -> longer waits.
    before = queue.estimated_wait_seconds(client, 2, seats=1)
    for done in ahead:
        client.hset("switchboard:handoff:claimed_at", done, time.time() - 600)
        queue.return_to_bot(client, "sam", done)
    assert queue.recent_handle_seconds(client) == pytest.approx(600, abs=5)
    assert queue.estimated_wait_seconds(client, 2, seats=1) > before
    assert queue.cancel(client, sender)


def test_an_agent_transfers_a_chat_to_a_named_colleague(assistant, console, fake_telegram):
    client = assistant.redis()
    chat_id, sender, _ = telegram_chat(assistant, fake_telegram)
    assert queue.claim(client, "tom", sender, capacity=10)
    opener, _, _ = log_in(console, "tom", "kestrel-tom-demo")
    chat_url = f"{console}/chat/{urllib.parse.quote(sender, safe='')}"
    page = fetch(opener, chat_url)[2]
    assert 'value="agent:ana"' in page
    token = csrf_of(page)
    assert fetch(opener, f"{chat_url}/transfer", {"csrf": token, "to": "agent:ana"})[0] == 302
    assert queue.owner(client, sender) == "agent:ana"
    assert "passing you to a colleague" in texts_to(fake_telegram, chat_id, count=2)[-1]
    ana, _, _ = log_in(console)
    assert fetch(ana, chat_url)[0] == 200 and fetch(opener, chat_url)[0] == 403
    queue.return_to_bot(client, "ana", sender)


def test_canned_answers_notes_and_a_rating_after_close(assistant, console, fake_telegram):
    from handoff.canned import canned_answers

    client = assistant.redis()
    chat_id, sender, _ = telegram_chat(assistant, fake_telegram)
    assert queue.claim(client, "ana", sender, capacity=10)
    opener, _, _ = log_in(console)
    chat_url = f"{console}/chat/{urllib.parse.quote(sender, safe='')}"
    token = csrf_of(fetch(opener, chat_url)[2])
    assert fetch(opener, f"{chat_url}/reply", {"csrf": token, "text": "",
                                               "canned": "roaming"})[0] == 302
    assert texts_to(fake_telegram, chat_id, count=2)[-1] == canned_answers()["roaming"]
    assert fetch(opener, f"{chat_url}/note", {"csrf": token,
                                              "text": "customer travels to Spain"})[0] == 302
    assert fetch(opener, f"{chat_url}/close", {"csrf": token, "disposition": "agent_closed",
                                               "csat": "1"})[0] == 302
    sent = texts_to(fake_telegram, chat_id, count=4)
    assert "customer travels to Spain" not in " ".join(sent)  # notes are never sent
    assert "from 1" in sent[-1] and "to 5" in sent[-1]
    post(assistant, message_update(chat_id, text="4"))
    assert "Thank you for rating us" in texts_to(fake_telegram, chat_id, count=5)[-1]
    [contact] = assistant.contacts(sender)
    assert contact["csat"] == 4 and contact["disposition"] == "agent_closed"
    assert ("agent_note", "customer travels to Spain") in [
        (o["category"], o["detail"]) for o in contact["operations"]]
    post(assistant, message_update(chat_id, text="hi"))  # not a rating: the bot again
    assert "Kestrel Mobile assistant" in texts_to(fake_telegram, chat_id, count=6)[-1]


def test_queued_conversations_survive_a_redis_restart(tmp_path):
    settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": str(tmp_path),
                                  "SWITCHBOARD_REDIS_PORT": str(free_port())})
    server = embedded_redis(settings, tmp_path)
    server.start()
    server.wait_ready()
    client = _client_for(settings.effective_redis_url)
    queue.enqueue(client, Handoff("durable-1", "sms", "billing", "requested", priority=2))
    queue.enqueue(client, Handoff("durable-2", "telegram", "billing", "requested"))
    server.stop()
    server = embedded_redis(settings, tmp_path)
    server.start()
    server.wait_ready()
    try:
        assert queue.waiting(client, "billing") == ["durable-1", "durable-2"]
        assert queue.record(client, "durable-2").channel == "telegram"
        assert queue.owner(client, "durable-1") == "queued"
    finally:
        server.stop()


def test_a_rasa_restart_loses_no_queued_conversation_or_message(assistant, fake_telegram,
                                                                 agents_online):
    """Rasa goes down while a Telegram customer waits: the queue is untouched; the message the
    customer sends meanwhile is refused (Telegram keeps it and redelivers), and the redelivery
    after the restart reaches the agent once."""
    from handoff import inbox

    client = assistant.redis()
    chat_id, sender, told = telegram_chat(assistant, fake_telegram)
    assert "passing you to one of our agents" in told
    skill = queue.record(client, sender).skill
    place = queue.position(client, sender)
    rasa = next(p for p in assistant.stack.processes if p.name == "rasa")
    rasa.stop()
    update = message_update(chat_id, text="still waiting, my line is dead")
    try:
        refused = post(assistant, update)
    except OSError:  # connection refused: Telegram keeps the update and retries
        refused = (None, None)
    assert refused[0] != 200
    rasa.start()
    rasa.wait_ready()
    assert queue.owner(client, sender) == "queued" and queue.position(client, sender) == place
    assert sender in queue.waiting(client, skill)
    assert queue.claim(client, "tom", sender, capacity=10)
    since = inbox.cursor(client, "tom")
    assert post(assistant, update)[0] == 200  # Telegram's redelivery
    assert post(assistant, update)[0] == 200  # and a second one: recorded once
    [[_, entries]] = client.xread({inbox.inbox_key("tom"): since}, block=5000)
    assert ["still waiting, my line is dead" in e[1]["data"] for e in entries] == [True]
    said = [t["text"] for contact in assistant.contacts(sender)  # (the restart outlasted the
            for t in contact["touches"] if t["author"] == "customer"]  # tests' contact timeout)
    assert said.count("still waiting, my line is dead") == 1
    queue.return_to_bot(client, "tom", sender)


def test_a_web_chat_customer_is_told_who_joined_when_the_queue_assigns_the_chat(
        assistant, agents_online):
    """A chat taken by hand showed "Tom joined the chat" in the widget; one the queue gave to
    an agent by itself (HANDOFF_AUTO_ASSIGN) showed nothing."""
    import json

    import websockets

    from tests.test_webchat import socket_url

    client = assistant.redis()
    drain(client)
    settings = dataclasses.replace(assistant.settings, auto_assign=True)

    async def frames_until(ws, kind: str, seen: list) -> dict:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            seen.append(frame)
            if frame["type"] == kind:
                return frame

    async def scenario(seen: list) -> dict:
        async with websockets.connect(socket_url(assistant)) as ws:
            await ws.send(json.dumps({"type": "hello", "token": None}))
            await frames_until(ws, "history", seen)
            await ws.send(json.dumps({"type": "message", "text": "I want to talk to a person",
                                      "id": "ask-1"}))
            await frames_until(ws, "ack", seen)
            assigned = await asyncio.to_thread(lambda: asyncio.run(worker.auto_assign(settings)))
            assert assigned == 1, seen
            return await frames_until(ws, "agent", seen)

    seen: list = []
    frame = asyncio.run(scenario(seen))
    assert frame["event"] == "joined" and frame["name"] in {"Ana", "Tom", "Sam"}, seen
