"""Conversations over the REST channel against the running stack (Rasa, actions, Redis)."""

from __future__ import annotations

import http.client
import itertools
import json
import time

import psutil

from handoff import queue
from tests.conftest import REST_TOKEN


def test_roaming_question_gets_the_roaming_answer(assistant, sender):
    texts = assistant.texts(sender, "what roaming options do you have?")
    assert len(texts) == 1
    assert "Roam Like Home" in texts[0] and "Roam Day Pass" in texts[0]


def test_greeting_then_faq_then_goodbye(assistant, sender):
    assert "Kestrel Mobile assistant" in assistant.texts(sender, "hello there")[0]
    assert "internet.kestrel" in assistant.texts(sender, "what are the apn settings")[0]
    assert "Goodbye" in assistant.texts(sender, "bye")[0]


def test_account_request_says_verification_comes_first(assistant, sender):
    text = "\n".join(assistant.texts(sender, "how much data have I got left this month"))
    assert "check your data usage" in text and "mobile number" in text
    assert assistant.tracker(sender)["slots"]["requested_service"] == "check_data_usage"


def test_request_for_a_human_queues_the_conversation(assistant, sender, agents_online):
    [text] = assistant.texts(sender, "I want to speak to a real person")
    assert "passing you to one of our agents" in text
    handoff = queue.record(assistant.redis(), sender)
    assert (handoff.reason, handoff.channel, handoff.skill) == ("requested", "rest", "general")
    assert handoff.transcript[0] == {"from": "customer",
                                     "text": "I want to speak to a real person"}


def test_two_fallbacks_in_a_row_offer_a_human(assistant, sender, agents_online):
    first = assistant.say(sender, "xqzv blorptang wuggle")
    assert "didn't quite understand" in first[0]["text"]
    second = assistant.say(sender, "fnord zibble quaxx")
    assert "agent" in second[0]["text"]
    assert [b["payload"] for b in second[0]["buttons"]] == ["/request_human", "/deny"]
    assistant.texts(sender, "yes")
    assert queue.record(assistant.redis(), sender).reason == "repeated_fallback"


def test_restart_starts_over_with_an_empty_history(assistant, sender):
    assistant.texts(sender, "hi")
    [text] = assistant.texts(sender, "let's start again from the beginning")
    assert "start over" in text
    # Rasa's test stories cannot express a restart (the tracker is emptied), so this is its test.
    events = assistant.tracker(sender)["events"]
    assert not [e for e in events if e["event"] == "user" and e["text"] == "hi"]


def served_by(assistant, sender: str, text: str, message_id: str) -> tuple[int, list[dict]]:
    """Send one turn on a new connection; the pid of the Rasa worker that answered, and the
    answer. The response keeps the connection alive (HTTP/1.1), so right after it the worker
    process that accepted the connection still holds its socket: the one whose established
    connection's far end is our local port."""
    port = assistant.settings.rasa_port
    rasa = next(p for p in assistant.stack.processes if p.name == "rasa")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/webhooks/rest/webhook", json.dumps(
            {"sender": sender.removeprefix("rest:"), "message": text, "message_id": message_id}),
            {"Content-Type": "application/json", "Authorization": f"Bearer {REST_TOKEN}"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200, answer
        ours = connection.sock.getsockname()[1]
        holders = [worker.pid for worker in psutil.Process(rasa.popen.pid).children()
                   if any(c.laddr.port == port and c.raddr and c.raddr.port == ours
                          for c in worker.net_connections("tcp"))]
    finally:
        connection.close()
    assert len(holders) == 1, holders
    return holders[0], answer


def moves(served: list[int]) -> int:
    """How often consecutive turns were served by different workers."""
    return sum(a != b for a, b in itertools.pairwise(served))


def test_conversation_state_is_shared_between_workers(assistant, sender):
    """The Rasa server runs two Sanic worker processes (RASA_WORKERS=2) behind one port; the
    Redis tracker store keeps one history whichever of them serves a turn.

    Which worker served a turn is read from the operating system, not from the product: each
    turn goes on a new connection, and the worker holding that connection's socket (psutil) is
    the one that answered. Turns go on until the conversation has moved from one worker to the
    other and back (A, B, A: a worker that kept its own copy of the conversation would now
    overwrite B's turns). The kernel hands each new connection to either worker that waits in
    accept(); a worker still loading its model (early in a busy run) takes none, so turns go on
    for up to 3 minutes, and at least 40; if no turn moves by then, the test fails rather than
    passing on one worker."""
    served: list[int] = []
    ids: list[str] = []
    deadline = time.monotonic() + 180
    while moves(served) < 2 and (len(served) < 40 or time.monotonic() < deadline):
        ids.append(f"turn-{len(served)}")
        pid, answer = served_by(assistant, sender, "what roaming options do you have?", ids[-1])
        served.append(pid)
        assert "Roam Like Home" in answer[0]["text"]
    assert len(set(served)) == 2 and moves(served) >= 2, f"the workers that served: {served}"
    # One history, every turn once and in order, whichever worker took it.
    stored = [json.loads(e) for e in assistant.redis().lrange(f"switchboard:tracker:{sender}",
                                                               0, -1)]
    assert [e["message_id"] for e in stored if e["event"] == "user"] == ids
    api = [e["message_id"] for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert api == ids
