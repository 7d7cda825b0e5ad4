"""Telegram through its webhook, with Telegram's Update JSON, answered by the real
python-telegram-bot code into a local stand-in for the Bot API that records every call."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from tests.conftest import TELEGRAM_SECRET
from tests.helpers import http

_update_ids = itertools.count(random.randrange(10**6, 10**8))


@pytest.fixture
def chat_id() -> int:
    return random.randrange(10**8, 10**9)


def user(chat_id: int) -> dict:
    return {"id": chat_id, "is_bot": False, "first_name": "Amira", "language_code": "en"}


def message_update(chat_id: int, **content) -> dict:
    return {"update_id": next(_update_ids), "message": {
        "message_id": random.randrange(1, 10**6), "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Amira"},
        "from": user(chat_id), **content}}


def post(assistant, update, secret: str | None = TELEGRAM_SECRET, raw: bytes | None = None):
    url = f"{assistant.base_url}/webhooks/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    return http("POST", url, update, raw=raw, headers=headers)


def texts_to(fake, chat_id, count=1) -> list[str]:
    return [m["text"] for m in fake.sent_to(chat_id, count=count)]


def telegram_chat(assistant, fake_telegram, text="I want to speak to a real person"):
    """A new Telegram customer says ``text``: their chat id, conversation id and the reply."""
    chat_id = random.randrange(10**8, 10**9)
    post(assistant, message_update(chat_id, text=text))
    return chat_id, f"telegram:{chat_id}", texts_to(fake_telegram, chat_id)[-1]


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
    query = {"update_id": next(_update_ids), "callback_query": {
        "id": "cbq-42", "from": user(chat_id), "chat_instance": "ci-1",
        "data": "/request_human",
        "message": {"message_id": 7, "date": int(time.time()), "text": offer["text"],
                    "chat": {"id": chat_id, "type": "private"}}}}
    assert post(assistant, query)[0] == 200
    assert "passing you to one of our agents" in texts_to(fake_telegram, chat_id, count=3)[-1]
    assert {"callback_query_id": "cbq-42"}.items() <= fake_telegram.calls_of(
        "answerCallbackQuery")[-1].items()


def test_a_shared_contact_is_a_channel_verified_number(assistant, fake_telegram, chat_id):
    post(assistant, message_update(chat_id, text="what's my balance"))
    asked = fake_telegram.sent_to(chat_id, count=2)
    share = asked[-1]["reply_markup"]["keyboard"][0][0]
    assert share["request_contact"] is True
    contact = {"phone_number": "+447700900002", "first_name": "Ben", "user_id": chat_id}
    post(assistant, message_update(chat_id, contact=contact))
    assert "How would you like to confirm" in texts_to(fake_telegram, chat_id, count=3)[-1]


@pytest.mark.parametrize("content", [
    {"sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512,
                 "height": 512, "is_animated": False, "is_video": False}},
    {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]},
])
def test_non_text_messages_get_a_polite_reply(assistant, fake_telegram, chat_id, content):
    assert post(assistant, message_update(chat_id, **content))[0] == 200
    assert texts_to(fake_telegram, chat_id) == [
        "I can only read text messages, sorry. Please type your question, or use the buttons."]


def test_an_edited_message_gets_the_polite_reply_once(assistant, fake_telegram, chat_id):
    edit = {"update_id": next(_update_ids), "edited_message": {
        "message_id": 5, "date": int(time.time()), "edit_date": int(time.time()),
        "chat": {"id": chat_id, "type": "private"}, "from": user(chat_id), "text": "hi again"}}
    post(assistant, edit)
    post(assistant, edit)  # redelivered
    time.sleep(1.0)
    assert len(texts_to(fake_telegram, chat_id)) == 1


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
                                  b'{"update_id": "x"}'])
def test_malformed_updates_get_400(assistant, body):
    status, answer = post(assistant, None, raw=body)
    assert status == 400 and "Update" in answer["error"]


def test_polling_mode_hands_updates_to_the_same_webhook(assistant, fake_telegram, chat_id):
    import os
    import subprocess
    import sys

    from switchboard.settings import PROJECT_ROOT

    fake_telegram.updates.append(message_update(chat_id, text="hi, polling here"))
    env = {**os.environ, **assistant.settings.to_env(), "TELEGRAM_MODE": "polling"}
    poller = subprocess.Popen([sys.executable, "-m", "bot.channels.telegram_poller"], env=env,
                              cwd=PROJECT_ROOT)
    try:
        [greeting] = texts_to(fake_telegram, chat_id, count=1)
        assert "Kestrel Mobile assistant" in greeting
        assert fake_telegram.calls_of("deleteWebhook")  # polling needs the webhook off
        time.sleep(1.0)  # the same update is not handed out twice (the offset moved on)
        assert len(fake_telegram.sent_to(chat_id, count=2, wait=1.0)) == 1
    finally:
        poller.terminate()
        poller.wait(10)
