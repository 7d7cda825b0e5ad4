"""Conversations over the REST channel land in the contact record (the whole running stack)."""

from __future__ import annotations

import time

from rasa.shared.core.events import BotUttered, UserUttered

from contacts import events, service
from contacts.serialize import iso
from tests.conftest import REST_TOKEN
from tests.helpers import http


def test_a_conversation_is_one_contact_with_every_message_in_order(assistant, sender):
    replies = []
    for text in ("hello there", "what are the apn settings", "bye"):
        replies.append([m.get("text", "") for m in assistant.say(sender, text)])
    [contact] = assistant.contacts(sender)
    touches = contact["touches"]
    customer = [(t["text"], t["intent"]) for t in touches if t["author"] == "customer"]
    assert customer == [("hello there", "greet"), ("what are the apn settings",
                                                    "faq/apn_settings"), ("bye", "goodbye")]
    assert all(t["confidence"] > 0 for t in touches if t["author"] == "customer")
    # Each bot reply follows the message it answers, with the text the customer saw.
    expected_authors = [a for turn in replies for a in ["customer"] + ["bot"] * len(turn)]
    assert [t["author"] for t in touches] == expected_authors
    bot_texts = [t["text"] for t in touches if t["author"] == "bot"]
    assert [b.split("\n[")[0] for b in bot_texts] == [r for turn in replies for r in turn]
    assert (contact["status"], contact["disposition"]) == ("completed", "customer_goodbye")
    assert contact["channel"] == "rest" and contact["handled_by"] == "bot"


def test_a_second_conversation_after_the_timeout_is_a_second_contact(assistant, sender):
    """The session keeps the default 30-minute timeout, and waiting it out is no test. So the
    earlier conversation goes onto the contact event stream the way Rasa's event broker wrote
    it, only with the timestamps it had one timeout and a minute ago; the customer then writes
    again, now, through Rasa, and the recorder (the real one, with the session's setting) must
    see the gap."""
    long_ago = time.time() - assistant.settings.contact_timeout_minutes * 60 - 60
    client = assistant.redis()
    parse = {"intent": {"name": "greet", "confidence": 0.99}, "entities": [], "text": "hi"}
    for event in (UserUttered("hi", parse_data=parse, timestamp=long_ago, input_channel="rest",
                              message_id=f"{sender}-earlier"),
                  BotUttered("Hello! I'm the Kestrel Mobile assistant.", timestamp=long_ago + 1)):
        events.publish(client, {"sender_id": sender, **event.as_dict()})
    [earlier] = assistant.contacts(sender)  # (the recorder's sweep may complete it already)
    assistant.say(sender, "how do I get an esim")
    first, second = assistant.contacts(sender)
    assert first["reference"] == earlier["reference"]
    assert (first["status"], first["disposition"]) == ("completed", "inactivity_timeout")
    assert first["ended_at"] == iso(service.as_utc(long_ago + 1))  # its last touch, long ago
    assert [t["text"] for t in second["touches"] if t["author"] == "customer"] == [
        "how do I get an esim"]


def test_replaying_a_message_id_gives_no_second_reply_and_no_second_touch(assistant, sender):
    url = f"{assistant.base_url}/webhooks/rest/webhook"
    message = {"sender": sender.removeprefix("rest:"), "message": "what is roaming",
               "message_id": "msg-42"}
    (status, first), (_, again) = (http("POST", url, message, token=REST_TOKEN) for _ in "12")
    assert status == 200 and first and again == []
    [contact] = assistant.contacts(sender)
    assert [t["author"] for t in contact["touches"]] == ["customer", "bot"]


def test_secrets_typed_by_customers_are_masked_in_the_record(assistant, sender):
    assistant.say(sender, "my service password is 482913")
    assistant.say(sender, "730155")
    [contact] = assistant.contacts(sender)
    stored = " ".join(t["text"] for t in contact["touches"])
    assert "482913" not in stored and "730155" not in stored
    assert "my service password is [redacted]" in stored
    logs = "".join(p.read_text(errors="replace") for p in assistant.log_dir.glob("*.log"))
    assert "482913" not in logs and "730155" not in logs


def test_contact_history_answers_from_the_two_month_query(assistant, sender):
    assistant.say(sender, "what roaming options do you have?")
    assistant.say(sender, "bye")
    [earlier] = assistant.contacts(sender)
    [answer] = assistant.texts(sender, "show me my previous contacts with you")
    assert answer.startswith("Your last contact:")
    assert earlier["reference"] in answer and "roaming" in answer
    latest = assistant.contacts(sender)[-1]
    assert [(o["category"], o["result"]) for o in latest["operations"]] == [
        ("contact_history_query", "success")]


def test_bad_rest_payloads_get_400_not_a_stack_trace(assistant):
    url = f"{assistant.base_url}/webhooks/rest/webhook"
    for body in ({"message": "hi"}, {"sender": "", "message": "hi"}, {"sender": "x"},
                 {"sender": "x", "message": "a" * 5000}, ["x"], {"sender": "Alice Smith",
                 "message": "hi"}, {"sender": "crm/4711", "message": "hi"},
                 {"sender": "Zoë", "message": "hi"}):
        status, answer = http("POST", url, body, token=REST_TOKEN)
        assert status == 400 and "error" in answer and "Traceback" not in str(answer)
    status, answer = http("POST", url, raw=b"{oops", token=REST_TOKEN)
    assert status == 400


def test_a_human_request_is_a_contact_operation(assistant, sender, agents_online):
    assistant.say(sender, "I want to speak to a real person")
    [contact] = assistant.contacts(sender)
    assert [(o["category"], o["result"]) for o in contact["operations"]] == [
        ("handoff_requested", "success")]
