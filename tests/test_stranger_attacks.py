"""Attacks by a stranger and by providers sending real traffic, through the running stack:
providers that hang up mid-turn, redeliveries, foreign text. Each test failed before its fix."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from tests import telegram_updates as tg
from tests.conftest import TELEGRAM_SECRET
from tests.helpers import fresh_msisdn
from tests.test_sms_channel import (
    ROAMING,
    inbound_form,
    settled,
    sign,
    twilio,
    twilio_post,
    webhook,
)
from tests.test_telegram_channel import message_update, post, texts_to

number = pytest.fixture(lambda: f"+{fresh_msisdn()}", name="number")


def hang_up(url: str, data: bytes, headers: dict[str, str], after: float = 1.0) -> None:
    """Post, and stop waiting after ``after`` seconds, as a provider does (Twilio after 15 s,
    error 11200): the request must still have been running then."""
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(request, timeout=after)


def user_turns(assistant, sender_id: str, count: int = 1, wait: float = 30.0) -> list[str]:
    """The customer's texts in the tracker, once there are ``count`` (or ``wait`` passed)."""
    deadline = time.monotonic() + wait
    while True:
        said = [e["text"] for e in assistant.tracker(sender_id)["events"]
                if e["event"] == "user"]
        if len(said) >= count or time.monotonic() > deadline:
            return said
        time.sleep(0.2)


# --- A provider that hangs up mid-turn -------------------------------------------------------

def test_an_sms_turn_is_finished_when_twilio_hangs_up_and_its_retry_is_a_duplicate(
        assistant, number):
    """Twilio stops waiting after 15 s; Sanic then cancelled the handler: half the reply sent,
    the turn never saved, the claim released, and Twilio's retry answered it again."""
    conversation = f"sms:{number.lstrip('+')}"
    twilio(assistant).fail_next(number, 20429, retry_after=3)  # the reply waits 3 s
    signed, posted = webhook(assistant)
    form = inbound_form(number, ROAMING)
    hang_up(posted, urllib.parse.urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded",
             "X-Twilio-Signature": sign(signed, form)})
    assert user_turns(assistant, conversation) == [ROAMING]
    parts = settled(assistant, number)
    assert "Roam Like Home" in " ".join(parts) and "Roam Day Pass" in " ".join(parts)
    assert twilio_post(assistant, number, ROAMING, sid=form["MessageSid"])[0] == 200
    assert settled(assistant, number) == parts  # Twilio's retry: a duplicate
    [contact] = assistant.contacts(conversation)
    assert [t["author"] for t in contact["touches"]].count("customer") == 1


def test_a_telegram_turn_is_finished_when_the_caller_hangs_up(assistant, fake_telegram):
    from tests.fakes import too_many_requests

    chat_id = tg.new_id()
    fake_telegram.fail("sendMessage", too_many_requests(3), chat_id=chat_id)
    update = message_update(chat_id, text=ROAMING)
    hang_up(f"{assistant.base_url}/webhooks/telegram/webhook", json.dumps(update).encode(),
            {"Content-Type": "application/json",
             "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    assert user_turns(assistant, f"telegram:{chat_id}") == [ROAMING]
    [answer] = texts_to(fake_telegram, chat_id)
    assert "Roam Like Home" in answer
    assert post(assistant, update)[0] == 200  # Telegram's redelivery: answered once
    time.sleep(1.0)
    assert texts_to(fake_telegram, chat_id) == [answer]


# --- Control characters: what the record can store and an operator's terminal can show ------

def customer_touches(assistant, sender_id: str) -> list[str]:
    return [t["text"] for c in assistant.contacts(sender_id) for t in c["touches"]
            if t["author"] == "customer"]


def test_a_nul_in_a_message_never_reaches_the_tracker_or_the_record(assistant, sender):
    """PostgreSQL cannot store NUL: the recorder could never write the message (a dead
    letter), so the customer's words were missing from their contact record."""
    said = " ".join(m.get("text", "") for m in assistant.say(sender, f"{ROAMING}\x00"))
    assert "Roam Like Home" in said
    assert user_turns(assistant, sender) == [ROAMING]
    assert customer_touches(assistant, sender) == [ROAMING]


def test_terminal_escapes_in_an_sms_never_reach_an_operators_terminal(assistant, number):
    """``switchboard contacts show`` prints the record: an ESC sequence in a customer's text
    would clear the operator's screen or retitle their terminal."""
    twilio_post(assistant, number, "\x1b]0;owned\x07\x1b[2J\x9bhello")
    conversation = f"sms:{number.lstrip('+')}"
    assert user_turns(assistant, conversation) == ["]0;owned[2Jhello"]
    assert customer_touches(assistant, conversation) == ["]0;owned[2Jhello"]


# --- Numbered options on SMS: only the message that is processed may use them ---------------

def offered_options(assistant, number: str) -> str:
    """Two messages the assistant cannot read: it offers a person as numbered options. The
    second message's MessageSid."""
    twilio_post(assistant, number, "xqzv blorptang wuggle")
    sid = f"SM{uuid.uuid4().hex}"
    twilio_post(assistant, number, "fnord zibble quaxx", sid=sid)
    assert "Reply with the number" in " ".join(settled(assistant, number))
    return sid


def test_a_redelivered_sms_leaves_the_numbered_options_to_the_customers_reply(
        assistant, number, agents_online):
    """Twilio redelivered the message the options answered (its retry after a slow answer):
    the duplicate took the options, and the customer's "1" was read as a bare number."""
    sid = offered_options(assistant, number)
    assert twilio_post(assistant, number, "fnord zibble quaxx", sid=sid)[0] == 200
    before = len(settled(assistant, number))
    twilio_post(assistant, number, "1")
    assert "passing you to one of our agents" in " ".join(settled(assistant, number)[before:])


def test_an_sms_choice_retried_after_a_failed_attempt_is_still_that_choice(
        assistant, number, agents_online):
    """The first attempt took the options, then Redis failed (503); Twilio's retry of the same
    "1" found no options and was read as a bare number."""
    offered_options(assistant, number)
    before = len(settled(assistant, number))
    sid = f"SM{uuid.uuid4().hex}"
    client = assistant.redis()
    client.execute_command("ACL", "SETUSER", "default", "-sismember")
    try:
        assert twilio_post(assistant, number, "1", sid=sid)[0] == 503
    finally:
        client.execute_command("ACL", "SETUSER", "default", "+sismember")
    assert twilio_post(assistant, number, "1", sid=sid)[0] == 200
    assert "passing you to one of our agents" in " ".join(settled(assistant, number)[before:])


# --- JSON of the wrong types: a clear 400, never a 500 or a silent misreading ----------------

@pytest.mark.parametrize("field, value", [("text", 5), ("text", ["hi"]), ("chat_id", "x")])
def test_a_telegram_update_with_wrong_types_gets_400(assistant, fake_telegram, field, value):
    """Python-telegram-bot does not check types: a number for the text failed as a 500, a
    string for the chat id was answered into a conversation "telegram:x"."""
    chat_id = tg.new_id()
    update = message_update(chat_id, text="hello")
    if field == "chat_id":
        update["message"]["chat"]["id"] = value
    else:
        update["message"][field] = value
    status, answer = post(assistant, update)
    assert status == 400 and "Update" in answer["error"]
    assert fake_telegram.sent_to(chat_id, wait=0.5) == []


@pytest.mark.parametrize("message_id", [0, False, ""])
def test_a_rest_message_id_that_is_no_id_gets_400(assistant, sender, message_id):
    """A falsy message_id was replaced by a random one: the integration's retry of the same
    message was answered, and recorded, twice."""
    from tests.conftest import REST_TOKEN
    from tests.helpers import http

    body = {"sender": sender.removeprefix("rest:"), "message": "hi", "message_id": message_id}
    url = f"{assistant.base_url}/webhooks/rest/webhook"
    status, answer = http("POST", url, body, token=REST_TOKEN)
    assert status == 400 and "message_id" in answer["error"]


# --- A signed provider message is never refused for its length -------------------------------

@pytest.mark.parametrize("length", [1601, 5000])
def test_a_long_whatsapp_message_is_read_not_refused(assistant, number, length):
    """WhatsApp takes texts of up to 4,096 characters; a signed post over 1,600 got 400, which
    Twilio does not retry: the customer's message was lost without an answer."""
    sender = f"whatsapp:{number}"
    text = (ROAMING + " ") * (length // len(ROAMING) + 1)
    assert twilio_post(assistant, sender, text[:length])[0] == 200
    [said] = user_turns(assistant, f"whatsapp:{number.lstrip('+')}")
    assert said == text[:min(length, 4096)].strip()
    assert settled(assistant, sender)


# --- The longest ids a client may send fit the contact record -------------------------------

def test_the_longest_rest_sender_is_answered_and_recorded_and_one_more_is_refused(assistant):
    """"rest:" plus a 128-character sender was longer than the record's conversation id: every
    event of that conversation was dead-lettered on PostgreSQL."""
    from tests.conftest import REST_TOKEN
    from tests.helpers import http

    url = f"{assistant.base_url}/webhooks/rest/webhook"
    longest = uuid.uuid4().hex + "x" * 91  # 123 characters
    body = {"sender": longest, "message": "hello", "message_id": "m" * 128}
    status, answer = http("POST", url, body, token=REST_TOKEN)
    assert status == 200 and answer
    status, answer = http("POST", url, {**body, "sender": longest + "y"}, token=REST_TOKEN)
    assert status == 400 and "1 to 123" in answer["error"]
    assistant.wait_recorded()
    from tests.conftest import API_TOKEN

    status, page = http("GET", f"{assistant.contacts_url}?sender=rest:{longest}",
                        token=API_TOKEN)
    assert status == 200 and len(page["items"]) == 1


# --- A stranger's huge body is refused before it is read --------------------------------------

def declared_huge_body(port: int, path: str) -> tuple[int, bytes]:
    """Announce a 2 MB body and send none of it: the server must answer from the headers alone
    (a server that reads first would wait for the body until the timeout)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(2 << 20))
    connection.endheaders()
    answer = connection.getresponse()
    try:
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/webhooks/telegram/webhook",
                                  "/webhooks/sms/webhook"])
def test_a_body_over_a_megabyte_is_refused_unread(assistant, path):
    """Sanic read up to 100 MB (a 5 MB REST metadata was stored in the tracker) before any
    signature or token was checked."""
    status, body = declared_huge_body(assistant.settings.rasa_port, path)
    assert status == 413 and b"Traceback" not in body


def test_the_console_refuses_a_huge_form_too(assistant):
    status, _ = declared_huge_body(assistant.settings.console_port, "/console/login")
    assert status == 413


@pytest.mark.parametrize("text", ["", "   ", "\u0000\u0001"])
def test_a_rest_message_with_nothing_visible_gets_400(assistant, sender, text):
    """Empty and control-only messages reached Rasa as empty customer messages (out_of_scope;
    two in a row offered a person)."""
    from tests.conftest import REST_TOKEN
    from tests.helpers import http

    body = {"sender": sender.removeprefix("rest:"), "message": text, "message_id": "e-1"}
    status, answer = http("POST", f"{assistant.base_url}/webhooks/rest/webhook", body,
                          token=REST_TOKEN)
    assert status == 400 and "visible" in answer["error"]


@pytest.mark.parametrize("levels, status", [(600, 400), (300, 400), (20, 200)])
def test_rest_metadata_nested_too_deep_gets_400_not_a_bot_failure(assistant, sender, levels,
                                                                  status):
    """Rasa copies metadata recursively: ~500 levels raised RecursionError inside the turn, a
    bot failure that put the conversation in the agents' queue."""
    from tests.conftest import REST_TOKEN
    from tests.helpers import http

    metadata: dict = {"leaf": 1}
    for _ in range(levels - 1):
        metadata = {"x": metadata}
    body = {"sender": sender.removeprefix("rest:"), "message": "hi", "metadata": metadata}
    answered, answer = http("POST", f"{assistant.base_url}/webhooks/rest/webhook", body,
                            token=REST_TOKEN)
    assert answered == status, answer
    if status == 400:
        assert "nest" in answer["error"]
