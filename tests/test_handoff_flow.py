"""Into the agent queue and back, over the running stack: while queued, the customer's messages
are kept for the agent and never reach Rasa; "cancel" returns the conversation to the bot."""

from __future__ import annotations

from handoff import inbox, queue


def test_queued_messages_are_kept_for_the_agent_and_cancel_returns_to_the_bot(assistant,
                                                                              sender,
                                                                              agents_online):
    [queued] = assistant.texts(sender, "I want to speak to a real person")
    place = queue.position(assistant.redis(), sender)
    assert place and ("You're next" if place == 1 else f"number {place} in the queue") in queued
    [reply] = assistant.texts(sender, "my router shows a red light since this morning")
    assert "the agent will see that" in reply and "in the queue" in reply
    user_texts = [e["text"] for e in assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert "my router shows a red light since this morning" not in user_texts  # not Rasa's
    [contact] = assistant.contacts(sender)
    customer = [t["text"] for t in contact["touches"] if t["author"] == "customer"]
    assert "my router shows a red light since this morning" in customer
    assert assistant.tracker(sender)["paused"] is True  # ConversationPaused: the tracker knows
    [left] = assistant.texts(sender, "cancel")
    assert "left the queue" in left and queue.owner(assistant.redis(), sender) == "bot"
    assert assistant.tracker(sender)["paused"] is False  # ConversationResumed
    assert "Kestrel Mobile assistant" in assistant.texts(sender, "hi")[0]


def test_a_conversation_with_an_agent_goes_to_that_agent_only(assistant, sender, agents_online):
    assistant.texts(sender, "I want to speak to a real person")
    client = assistant.redis()
    assert queue.claim(client, "agent-7", sender, capacity=3)
    # Every other inbox there is: the online demo agents' and any other test's agent's.
    others = set(agents_online) | {key.removeprefix(inbox.inbox_key("")) for key in
                                   client.scan_iter(match=inbox.inbox_key("*"))
                                   if client.type(key) == "stream"}
    others.discard("agent-7")
    cursors = {inbox.inbox_key(agent): inbox.cursor(client, agent) for agent in others}
    since = inbox.cursor(client, "agent-7")
    assert assistant.say(sender, "hello, is anyone there?") == []  # the bot stays quiet
    [[_, entries]] = client.xread({inbox.inbox_key("agent-7"): since}, block=5000)
    assert "hello, is anyone there?" in entries[0][1]["data"]
    # say() answers once the message is handled: whatever went to other inboxes is there now.
    elsewhere = [(key, fields["data"]) for key, stream in client.xread(cursors) or []
                 for _, fields in stream if sender in fields["data"]]
    assert others >= {"ana", "tom", "sam"} and elsewhere == []
    queue.return_to_bot(client, "agent-7", sender)
    import asyncio

    from handoff import tracker
    assert asyncio.run(tracker.resume(sender, assistant.settings))
    assert "Kestrel Mobile assistant" in assistant.texts(sender, "hi")[0]


def test_a_wait_past_the_limit_expires_and_the_bot_takes_over(assistant, sender, agents_online):
    import asyncio
    import time

    from handoff.worker import EXPIRED_MESSAGE, expire

    assistant.texts(sender, "I want to speak to a real person")
    later = time.time() + assistant.settings.handoff_max_wait_minutes * 60 + 60
    assert asyncio.run(expire(assistant.settings, later)) >= 1
    assert queue.owner(assistant.redis(), sender) == "bot"
    assert assistant.tracker(sender)["paused"] is False
    [contact] = assistant.contacts(sender)
    assert EXPIRED_MESSAGE in [t["text"] for t in contact["touches"]]
    assert ("handoff_requested", "failure") in [(o["category"], o["result"])
                                                for o in contact["operations"]]
    assert "Kestrel Mobile assistant" in assistant.texts(sender, "hi")[0]
