"""Conversations over the REST channel against the running stack (Rasa, actions, Redis)."""

from __future__ import annotations

import json

from handoff import queue


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


def test_conversation_state_is_shared_between_workers(assistant, sender):
    """Each turn may land on either Sanic worker: the Redis tracker store keeps one history."""
    for _ in range(3):
        assistant.texts(sender, "what roaming options do you have?")
    stored = json.loads(assistant.redis().get(f"switchboard:tracker:{sender}"))
    user_turns = [e for e in stored["events"] if e["event"] == "user"]
    assert len(user_turns) == 3
