"""Telegram through its webhook, with the Bot API's full Update payloads
(tests/telegram_updates.py), answered by the real python-telegram-bot code into a local stand-in
for the Bot API that records every call and answers with Telegram's real error bodies when told
to (tests/fakes.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest

from bot.channels.outbound import NoOutboundChannel, output_for, send_to_customer
from bot.channels.telegram import NOT_TEXT, TelegramOutput
from contacts import service
from handoff import queue
from switchboard.db import Database
from switchboard.settings import PROJECT_ROOT, Settings
from tests import telegram_updates as tg
from tests.conftest import TELEGRAM_SECRET
from tests.fakes import (
    BAD_GATEWAY,
    BOT_BLOCKED,
    CHAT_NOT_FOUND,
    FAKE_BOT_USERNAME,
    QUERY_TOO_OLD,
    USER_DEACTIVATED,
    group_migrated,
    too_many_requests,
)
from tests.helpers import http

BOT = f"@{FAKE_BOT_USERNAME}"
APOLOGY = "Sorry, something went wrong"


@pytest.fixture
def chat_id() -> int:
    return tg.new_id()


@pytest.fixture
def redis_env(assistant) -> Settings:
    """This test process sends like the console does: with the stack's settings (its Redis)."""
    return assistant.settings


def user(chat_id: int) -> dict:
    return tg.person(chat_id)


def message_update(chat_id: int, **content) -> dict:
    """A message from user ``chat_id`` in their private chat with the bot (``text=`` gets the
    entities Telegram marks)."""
    amira = tg.person(chat_id)
    if "text" in content:
        content = {**tg.text(content.pop("text")), **content}
    return tg.message_update(tg.private_chat(amira), amira, **content)


def post(assistant, update, secret: str | None = TELEGRAM_SECRET, raw: bytes | None = None):
    url = f"{assistant.base_url}/webhooks/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    return http("POST", url, update, raw=raw, headers=headers)


def texts_to(fake, chat_id, count=1) -> list[str]:
    return [m["text"] for m in fake.sent_to(chat_id, count=count)]


def replies(assistant, fake, update: dict, chat: int | None = None) -> list[str]:
    """What the bot sent to the update's chat while handling it (the webhook answers once the
    turn is over, its replies sent)."""
    chat = chat if chat is not None else _chat_of(update)
    before = len(fake.sent_to(chat, wait=0))
    status, _ = post(assistant, update)
    assert status == 200
    return [m["text"] for m in fake.sent_to(chat, wait=0)[before:]]


def _chat_of(update: dict) -> int:
    body = update.get("message") or update.get("edited_message") or update["callback_query"][
        "message"]
    return body["chat"]["id"]


def telegram_chat(assistant, fake_telegram, text="I want to speak to a real person"):
    """A new Telegram customer says ``text``: their chat id, conversation id and the reply."""
    chat_id = tg.new_id()
    post(assistant, message_update(chat_id, text=text))
    return chat_id, f"telegram:{chat_id}", texts_to(fake_telegram, chat_id)[-1]


def touches(assistant, sender: str) -> list[dict]:
    return [t for c in assistant.contacts(sender) for t in c["touches"]]


def undelivered(assistant, sender: str) -> list[str]:
    """The contact record's notes of replies that did not reach the customer."""
    return [t["text"] for t in touches(assistant, sender) if t["author"] == "system"]


def reachability(assistant, sender: str) -> tuple[str | None, str | None]:
    """Whether the conversation's channel identity can be written to, as agents see it."""
    assistant.wait_recorded()
    with Database(assistant.settings.database_url).reading() as session:
        identity = service.find_identity(session, "telegram", sender)
        return identity.reachability, identity.reachability_reason


def owner(assistant, sender: str) -> str | None:
    return assistant.redis().get(queue.owner_key(sender))


# --- Reading what people send ---

def test_a_text_message_is_answered_through_the_bot_api(assistant, fake_telegram, chat_id):
    status, _ = post(assistant, message_update(chat_id, text="what roaming options do you have?"))
    assert status == 200
    [answer] = texts_to(fake_telegram, chat_id)
    assert "Roam Like Home" in answer
    [contact] = assistant.contacts(f"telegram:{chat_id}")
    assert contact["channel"] == "telegram"


def test_buttons_are_inline_keyboards_and_callback_queries_are_answered(
        assistant, fake_telegram, chat_id, agents_online):
    post(assistant, message_update(chat_id, text="xqzv blorptang wuggle"))
    post(assistant, message_update(chat_id, text="fnord zibble quaxx"))
    offer = fake_telegram.sent_to(chat_id, count=2)[-1]
    keyboard = offer["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == ["/request_human", "/deny"]
    amira = user(chat_id)
    pressed = tg.callback(amira, tg.bot_message(tg.private_chat(amira), offer["text"],
                                                offer["reply_markup"]), "/request_human")
    assert "passing you to one of our agents" in replies(assistant, fake_telegram, pressed)[-1]
    acknowledged = fake_telegram.calls_of("answerCallbackQuery")[-1]["callback_query_id"]
    assert str(acknowledged) == pressed["callback_query"]["id"]


def test_a_shared_contact_of_ones_own_number_is_channel_verified(assistant, fake_telegram,
                                                                 chat_id):
    amira = user(chat_id)
    chat = tg.private_chat(amira)
    own = tg.contact("+447700900002", "Amira", user_id=amira["id"], last_name="Haddad")
    replies(assistant, fake_telegram, tg.message_update(chat, amira, **own))
    asked = " ".join(replies(assistant, fake_telegram, tg.text_update(chat, amira,
                                                                      "what's my balance")))
    assert "How would you like to confirm" in asked and "mobile number" not in asked


@pytest.mark.parametrize("telegram_user", [True, False], ids=["a-user", "not-on-telegram"])
def test_someone_elses_contact_card_is_not_a_verified_number(assistant, fake_telegram, chat_id,
                                                             telegram_user):
    amira = user(chat_id)
    chat = tg.private_chat(amira)
    card = tg.contact("+447700900004", "Dev", user_id=tg.new_id() if telegram_user else None,
                      last_name="Patel")
    replies(assistant, fake_telegram, tg.message_update(chat, amira, **card))
    before = len(fake_telegram.sent_to(chat_id, wait=0))
    asked = replies(assistant, fake_telegram, tg.text_update(chat, amira, "what's my balance"))
    assert "mobile number" in " ".join(asked)
    share = fake_telegram.sent_to(chat_id, wait=0)[before:][-1]["reply_markup"]["keyboard"]
    assert share[0][0]["request_contact"] is True  # a private chat gets the share button


@pytest.mark.parametrize("content, kind", [
    (tg.sticker(), "a sticker"), (tg.photo(), "a photo"), (tg.voice(), "a voice message"),
    (tg.location(), "a location"), (tg.document(), "a document")],
    ids=["sticker", "photo", "voice", "location", "document"])
def test_non_text_messages_get_a_polite_reply_and_never_reach_the_assistant(
        assistant, fake_telegram, chat_id, content, kind):
    assert replies(assistant, fake_telegram, message_update(chat_id, **content)) == [NOT_TEXT]
    events = assistant.tracker(f"telegram:{chat_id}")["events"]
    assert not [e for e in events if e["event"] == "user"]
    said = [(t["author"], t["text"]) for t in touches(assistant, f"telegram:{chat_id}")]
    assert said == [("customer", f"[{kind}]"), ("bot", NOT_TEXT)]  # in the record


def test_two_photos_in_a_row_do_not_offer_an_agent(assistant, fake_telegram, chat_id):
    for _ in range(2):
        assert replies(assistant, fake_telegram, message_update(chat_id, **tg.photo())) == [
            NOT_TEXT]
    answer = replies(assistant, fake_telegram,
                     message_update(chat_id, text="what roaming options do you have?"))
    assert "Roam Like Home" in " ".join(answer)


def test_a_captioned_photo_is_read_as_its_caption(assistant, fake_telegram, chat_id):
    content = tg.photo(caption="what roaming options do you have?")
    assert "Roam Like Home" in " ".join(replies(assistant, fake_telegram,
                                                message_update(chat_id, **content)))


def test_an_edited_message_is_read_as_the_corrected_text_once(assistant, fake_telegram,
                                                              chat_id):
    original = message_update(chat_id, text="hello there")
    replies(assistant, fake_telegram, original)
    edit = tg.edited(original, "what roaming options do you have?")
    assert edit["edited_message"]["message_id"] == original["message"]["message_id"]
    assert "Roam Like Home" in " ".join(replies(assistant, fake_telegram, edit))
    assert replies(assistant, fake_telegram, edit) == []  # redelivered: answered once
    said = [t["text"] for t in touches(assistant, f"telegram:{chat_id}")
            if t["author"] == "customer"]
    assert said == ["hello there", "what roaming options do you have?"]


def test_a_redelivered_update_is_answered_once(assistant, fake_telegram, chat_id):
    update = message_update(chat_id, text="hello")
    post(assistant, update)
    first = texts_to(fake_telegram, chat_id)
    post(assistant, update)
    time.sleep(1.0)
    assert texts_to(fake_telegram, chat_id) == first


def test_wrong_or_missing_secret_is_refused(assistant, fake_telegram, chat_id):
    assert post(assistant, message_update(chat_id, text="hi"), secret=None)[0] == 403
    assert post(assistant, message_update(chat_id, text="hi"), secret="guess")[0] == 403
    time.sleep(0.5)
    assert fake_telegram.sent_to(chat_id, wait=0.5) == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"message": {}}',
                                  b'{"update_id": "x"}', b'{"update_id": 5, "message": "x"}',
                                  b'{"update_id": 5, "callback_query": {"id": "1"}}'])
def test_malformed_updates_get_400(assistant, body):
    status, answer = post(assistant, None, raw=body)
    assert status == 400 and "Update" in answer["error"]


# --- Sending is not answering: Telegram's refusals are classified, never a bot failure ---

def test_flood_control_is_waited_out_and_the_reply_still_arrives(assistant, fake_telegram,
                                                                 chat_id):
    fake_telegram.fail("sendMessage", too_many_requests(2), chat_id=chat_id)
    started = time.monotonic()
    answer = replies(assistant, fake_telegram,
                     message_update(chat_id, text="what roaming options do you have?"))
    assert "Roam Like Home" in " ".join(answer) and APOLOGY not in " ".join(answer)
    assert time.monotonic() - started >= 2.0  # retry_after was honoured
    assert fake_telegram.refusals_of("sendMessage", chat_id) == [too_many_requests(2)]
    assert owner(assistant, f"telegram:{chat_id}") is None
    assert undelivered(assistant, f"telegram:{chat_id}") == []


def test_flood_control_beyond_the_bound_keeps_the_reply_as_undelivered(assistant, fake_telegram,
                                                                       chat_id):
    fake_telegram.fail("sendMessage", too_many_requests(60), chat_id=chat_id)
    started = time.monotonic()
    answer = replies(assistant, fake_telegram,
                     message_update(chat_id, text="what roaming options do you have?"))
    assert time.monotonic() - started < 30 and APOLOGY not in " ".join(answer)
    [note] = undelivered(assistant, f"telegram:{chat_id}")
    assert note.startswith("Not delivered (telegram error 429, gave up retrying)")
    assert "Roam Like Home" in note
    assert owner(assistant, f"telegram:{chat_id}") is None  # not queued as a bot failure
    assert replies(assistant, fake_telegram, message_update(chat_id, text="hi"))  # not blocked


@pytest.mark.parametrize("refusal", [BOT_BLOCKED, USER_DEACTIVATED],
                         ids=["blocked", "deactivated"])
def test_a_user_who_blocked_the_bot_is_not_written_to_again(assistant, fake_telegram, chat_id,
                                                            redis_env, refusal):
    from tests.test_metrics import scrape, total

    sender = f"telegram:{chat_id}"
    errors = "switchboard_provider_send_errors_total"
    before = total(scrape(assistant.settings.rasa_port), errors, channel="telegram", code="403")
    fake_telegram.fail("sendMessage", refusal, chat_id=chat_id)
    status, _ = post(assistant, message_update(chat_id, text="what roaming options do you have?"))
    assert status == 200
    assert total(scrape(assistant.settings.rasa_port), errors, channel="telegram",
                 code="403") == before + 1
    assert fake_telegram.sent_to(chat_id, wait=0) == []
    asyncio.run(send_to_customer(sender, "An agent replied: hello!", settings=redis_env))
    assert fake_telegram.refusals_of("sendMessage", chat_id) == [refusal]  # tried once only
    assert fake_telegram.sent_to(chat_id, wait=0) == []
    notes = undelivered(assistant, sender)
    assert all(n.startswith("Not delivered (telegram error 403, final)") for n in notes)
    assert any("Roam Like Home" in n for n in notes) and "hello!" in notes[-1]
    assert owner(assistant, sender) is None  # not queued as a bot failure
    assert reachability(assistant, sender) == ("undeliverable", "telegram 403")
    assert replies(assistant, fake_telegram, message_update(chat_id, text="hi"))  # back again
    assert reachability(assistant, sender) == (None, None)


def test_blocking_and_unblocking_the_bot_stops_and_resumes_sending(assistant, fake_telegram,
                                                                   chat_id, redis_env):
    amira = user(chat_id)
    chat = tg.private_chat(amira)
    sender = f"telegram:{chat_id}"
    replies(assistant, fake_telegram, tg.text_update(chat, amira, "hi"))
    assert post(assistant, tg.my_chat_member(chat, amira, "member", "kicked"))[0] == 200
    calls = len(fake_telegram.calls)
    asyncio.run(send_to_customer(sender, "Are you still there?", settings=redis_env))
    assert fake_telegram.sent_to(chat_id, wait=0)[-1]["text"] != "Are you still there?"
    assert fake_telegram.refusals_of("sendMessage", chat_id) == []  # not even tried
    assert undelivered(assistant, sender)[-1].endswith("Are you still there?")
    assert reachability(assistant, sender) == ("undeliverable", "telegram 403")
    assert post(assistant, tg.my_chat_member(chat, amira, "kicked", "member"))[0] == 200
    assert reachability(assistant, sender) == (None, None)
    asyncio.run(send_to_customer(sender, "Welcome back!", settings=redis_env))
    assert texts_to(fake_telegram, chat_id, count=2)[-1] == "Welcome back!"
    assert len(fake_telegram.calls) > calls


def test_a_bad_request_is_final_for_that_message_only(assistant, fake_telegram, chat_id):
    sender = f"telegram:{chat_id}"
    fake_telegram.fail("sendMessage", CHAT_NOT_FOUND, chat_id=chat_id)
    answer = replies(assistant, fake_telegram,
                     message_update(chat_id, text="what roaming options do you have?"))
    assert APOLOGY not in " ".join(answer)
    assert fake_telegram.refusals_of("sendMessage", chat_id) == [CHAT_NOT_FOUND]  # no retry
    [note] = undelivered(assistant, sender)
    assert note.startswith("Not delivered (telegram error 400, final)")
    assert owner(assistant, sender) is None
    again = message_update(chat_id, text="what roaming options do you have?")
    assert "Roam Like Home" in " ".join(replies(assistant, fake_telegram, again))


def test_a_bad_gateway_is_retried(assistant, fake_telegram, chat_id):
    fake_telegram.fail("sendMessage", BAD_GATEWAY, chat_id=chat_id)
    answer = replies(assistant, fake_telegram,
                     message_update(chat_id, text="what roaming options do you have?"))
    assert "Roam Like Home" in " ".join(answer)
    assert fake_telegram.refusals_of("sendMessage", chat_id) == [BAD_GATEWAY]


def test_a_group_upgraded_to_a_supergroup_gets_the_message_at_its_new_id(fake_telegram,
                                                                         redis_env):
    old, new = tg.group()["id"], tg.supergroup()["id"]
    fake_telegram.fail("sendMessage", group_migrated(new), chat_id=old)
    asyncio.run(send_to_customer(f"telegram:{old}:{tg.new_id()}", "An agent replied: hello!",
                                 settings=redis_env))
    assert texts_to(fake_telegram, new) == ["An agent replied: hello!"]


def test_a_failed_button_acknowledgement_never_loses_the_press(assistant, fake_telegram,
                                                               chat_id, agents_online):
    post(assistant, message_update(chat_id, text="xqzv blorptang wuggle"))
    post(assistant, message_update(chat_id, text="fnord zibble quaxx"))
    offer = fake_telegram.sent_to(chat_id, count=2)[-1]
    amira = user(chat_id)
    pressed = tg.callback(amira, tg.bot_message(tg.private_chat(amira), offer["text"],
                                                offer["reply_markup"]), "/request_human")
    fake_telegram.fail("answerCallbackQuery", QUERY_TOO_OLD)
    assert "passing you to one of our agents" in replies(assistant, fake_telegram, pressed)[-1]
    assert fake_telegram.refusals_of("answerCallbackQuery")[-1] == QUERY_TOO_OLD


def test_a_failed_chat_action_never_loses_the_message(assistant, fake_telegram, chat_id):
    fake_telegram.fail("sendChatAction", too_many_requests(3), chat_id=chat_id)
    answer = replies(assistant, fake_telegram,
                     message_update(chat_id, text="what roaming options do you have?"))
    assert "Roam Like Home" in " ".join(answer)
    deadline = time.monotonic() + 5
    while not fake_telegram.refusals_of("sendChatAction", chat_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_telegram.refusals_of("sendChatAction", chat_id) == [too_many_requests(3)]


# --- Groups: who is talking ---

@pytest.mark.parametrize("make_chat", [tg.group, tg.supergroup], ids=["group", "supergroup"])
def test_in_a_group_account_services_are_refused_for_every_member(assistant, fake_telegram,
                                                                  make_chat):
    chat = make_chat()
    alice = tg.person(first_name="Alice", last_name="Khan", username="alice_khan")
    ben = tg.person(first_name="Ben", last_name="Okafor", username="ben_okafor")
    before = len(fake_telegram.sent_to(chat["id"], wait=0))
    for member, request in [(alice, "what's my balance"), (ben, "how much data have I got left")]:
        answer = " ".join(replies(assistant, fake_telegram,
                                  tg.text_update(chat, member, f"{BOT} {request}")))
        assert "only help with your account in a private chat" in answer and BOT in answer
        assert "mobile number" not in answer
    assert not any("keyboard" in (m.get("reply_markup") or {})
                   for m in fake_telegram.sent_to(chat["id"], wait=0)[before:])
    for member, category in [(alice, "balance_query"), (ben, "data_usage_query")]:
        [contact] = assistant.contacts(f"telegram:{chat['id']}:{member['id']}")
        assert any(op["category"] == category and op["result"] == "refused"
                   for op in contact["operations"])
    assert assistant.contacts(f"telegram:{chat['id']}") == []  # nobody speaks as the group


def test_the_share_button_is_never_sent_to_a_group(fake_telegram, redis_env):
    question = {"request_contact": "Share my phone number", "text": "What's your number?"}
    group, private = tg.supergroup()["id"], tg.new_id()
    for chat in (group, private):
        asyncio.run(TelegramOutput(chat, redis_env).send_custom_json(f"telegram:{chat}",
                                                                     question))
    assert "reply_markup" not in fake_telegram.sent_to(group)[-1]
    assert fake_telegram.sent_to(private)[-1]["reply_markup"]["keyboard"][0][0][
        "request_contact"] is True


def test_in_a_group_only_what_is_addressed_to_the_bot_is_answered(assistant, fake_telegram):
    chat = tg.supergroup()
    ben, cara = tg.person(first_name="Ben"), tg.person(first_name="Cara")
    ignored = [tg.text_update(chat, ben, "hello everyone, who's coming tonight?"),
               tg.message_update(chat, ben, **tg.sticker()),
               tg.message_update(chat, ben, **tg.members_joined(cara)),
               tg.text_update(chat, ben, "ask @someone_else about roaming")]
    for update in ignored:
        assert replies(assistant, fake_telegram, update) == []
    earlier = tg.bot_message(chat, "Hi! I'm the Kestrel Mobile assistant.")
    reply = tg.text_update(chat, ben, "what roaming options do you have?", reply_to=earlier)
    assert "Roam Like Home" in " ".join(replies(assistant, fake_telegram, reply))
    mention = tg.text_update(chat, cara, f"{BOT} what roaming options do you have?")
    assert "Roam Like Home" in " ".join(replies(assistant, fake_telegram, mention))


def test_a_supergroup_member_conversation_works_through_queue_cancel_and_expiry(
        assistant, fake_telegram, agents_online, redis_env):
    from handoff import worker

    chat = tg.supergroup()
    ben = tg.person(first_name="Ben")
    sender = f"telegram:{chat['id']}:{ben['id']}"

    def ben_says(text: str) -> str:
        return " ".join(replies(assistant, fake_telegram, tg.text_update(chat, ben,
                                                                         f"{BOT} {text}")))

    assert "passing you to one of our agents" in ben_says("I want to speak to a real person")
    assert owner(assistant, sender) is not None
    asyncio.run(send_to_customer(sender, "An agent replied: hello!", settings=redis_env))
    assert fake_telegram.sent_to(chat["id"], wait=0)[-1]["text"] == "An agent replied: hello!"
    assert "left the queue" in ben_says("cancel")
    assert "Roam Like Home" in ben_says("what roaming options do you have?")  # resumed
    assert "passing you to one of our agents" in ben_says("I want to speak to a real person")
    asyncio.run(worker.expire(redis_env, time.time() + 3600))
    assert "no agent became free" in fake_telegram.sent_to(chat["id"], wait=0)[-1]["text"]
    assert "Roam Like Home" in ben_says("what roaming options do you have?")  # resumed


@pytest.mark.parametrize("sender, chat", [
    ("telegram:123456789", 123456789),
    ("telegram:-4012345678:987654321", -4012345678),
    ("telegram:-1001234567890:987654321", -1001234567890),
    ("telegram:-1001234567890:-1009876543210", -1001234567890),  # written as a channel
])
def test_every_telegram_conversation_id_has_its_chat(sender, chat):
    assert output_for(sender, Settings.from_env({})).chat_id == chat


@pytest.mark.parametrize("sender", ["telegram:", "telegram:abc", "telegram:1:2:3",
                                    "telegram:--5", "telegram:12 ", "telegram:1:"])
def test_malformed_telegram_ids_have_no_outbound_channel(sender):
    with pytest.raises(NoOutboundChannel):
        output_for(sender, Settings.from_env({}))


# --- Polling mode ---

def _start_poller(assistant) -> subprocess.Popen:
    env = {**os.environ, **assistant.settings.to_env(), "TELEGRAM_MODE": "polling"}
    return subprocess.Popen([sys.executable, "-m", "processes.telegram_poller"], env=env,
                            cwd=PROJECT_ROOT)


def _stop(poller: subprocess.Popen, fake) -> None:
    poller.terminate()
    poller.wait(10)
    fake.updates.clear()


def test_polling_mode_hands_updates_to_the_same_webhook_and_moves_its_offset(
        assistant, fake_telegram, chat_id):
    update = message_update(chat_id, text="hi, polling here")
    fake_telegram.updates[:] = [update]
    earlier = len(fake_telegram.calls_of("getUpdates"))
    poller = _start_poller(assistant)
    try:
        [greeting] = [m["text"] for m in fake_telegram.sent_to(chat_id, wait=60)]
        assert "Kestrel Mobile assistant" in greeting
        assert fake_telegram.calls_of("deleteWebhook")  # polling needs the webhook off
        deadline = time.monotonic() + 10
        while len(fake_telegram.calls_of("getUpdates")) < earlier + 4 and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        offsets = [c.get("offset") for c in fake_telegram.calls_of("getUpdates")[earlier:]]
        # the update is acknowledged once taken: every later call asks for what comes after it
        assert offsets[0] is None and len(offsets) >= 3
        assert set(offsets[1:]) == {update["update_id"] + 1}
        assert len(fake_telegram.sent_to(chat_id, wait=0)) == 1
    finally:
        _stop(poller, fake_telegram)


def test_the_poller_waits_out_telegrams_refusals(assistant, fake_telegram, chat_id):
    fake_telegram.updates[:] = [message_update(chat_id, text="hi, polling here")]
    fake_telegram.fail("getUpdates", too_many_requests(1))
    fake_telegram.fail("getUpdates", BAD_GATEWAY)
    poller = _start_poller(assistant)
    try:
        [greeting] = [m["text"] for m in fake_telegram.sent_to(chat_id, wait=60)]
        assert "Kestrel Mobile assistant" in greeting
        assert fake_telegram.refusals_of("getUpdates")[-2:] == [too_many_requests(1),
                                                                BAD_GATEWAY]
        assert poller.poll() is None  # still running
    finally:
        _stop(poller, fake_telegram)
