"""SMS and WhatsApp through the Twilio webhook, with Twilio's form posts and real signatures
(computed by the twilio library), answered into the SMS outbox of the running stack."""

from __future__ import annotations

import random
import time
import uuid

import pytest
from twilio.request_validator import RequestValidator

from bot.channels.sms import split_sms
from switchboard.sms import OutboxGateway, outbox_path
from tests.conftest import TWILIO_AUTH_TOKEN
from tests.helpers import http_form


@pytest.fixture
def number() -> str:
    return f"+4477009{random.randrange(10**5):05d}"


def twilio_post(assistant, sender: str, body: str, sid: str | None = None,
                signature: str | None = None, **extra: str) -> tuple[int, str]:
    url = f"{assistant.base_url}/webhooks/sms/webhook"
    form = {"MessageSid": sid or f"SM{uuid.uuid4().hex}", "AccountSid": "AC" + "0" * 32,
            "From": sender, "To": "+447700900999", "Body": body, "NumMedia": "0", **extra}
    if signature is None:
        signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, form)
    return http_form(url, form, {"X-Twilio-Signature": signature} if signature else {})


def sent_to(assistant, address: str, wait: float = 10.0) -> list[str]:
    deadline = time.monotonic() + wait
    while True:
        messages = OutboxGateway(outbox_path(assistant.settings)).messages()
        bodies = [m["body"] for m in messages if m["to"] == address]
        if bodies or time.monotonic() > deadline:
            return bodies
        time.sleep(0.1)


def test_an_sms_gets_its_answer_in_sms_sized_parts(assistant, number):
    status, twiml = twilio_post(assistant, number, "what roaming options do you have?")
    assert status == 200 and "<Response>" in twiml
    parts = sent_to(assistant, number.lstrip("+"))
    assert len(parts) > 1 and all(len(p) <= 153 for p in parts)
    whole = " ".join(parts)
    assert "Roam Like Home" in whole and "Roam Day Pass" in whole
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)


def test_unsigned_and_wrongly_signed_requests_are_refused(assistant, number):
    assert twilio_post(assistant, number, "hi", signature="")[0] == 403
    assert twilio_post(assistant, number, "hi", signature="bm90IGEgc2lnbmF0dXJl")[0] == 403
    assert sent_to(assistant, number.lstrip("+"), wait=1.0) == []


def test_a_redelivered_message_is_answered_once(assistant, number):
    sid = f"SM{uuid.uuid4().hex}"
    assert twilio_post(assistant, number, "hello", sid=sid)[0] == 200
    first = sent_to(assistant, number.lstrip("+"))
    assert twilio_post(assistant, number, "hello", sid=sid)[0] == 200
    time.sleep(1.0)
    assert sent_to(assistant, number.lstrip("+")) == first
    [contact] = assistant.contacts(f"sms:{number.lstrip('+')}")
    assert [t["author"] for t in contact["touches"]].count("customer") == 1


def test_buttons_become_numbered_options_and_a_number_picks_one(assistant, number, agents_online):
    twilio_post(assistant, number, "xqzv blorptang wuggle")
    twilio_post(assistant, number, "fnord zibble quaxx")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Reply with the number" not in " ".join(
            sent_to(assistant, number.lstrip("+"))):
        time.sleep(0.1)
    offer = " ".join(sent_to(assistant, number.lstrip("+")))
    assert "1. " in offer and "2. " in offer and "Reply with the number" in offer
    address = number.lstrip("+")
    before = len(sent_to(assistant, address))
    twilio_post(assistant, number, "1")  # the first button: talk to a person
    while time.monotonic() < deadline + 10 and len(sent_to(assistant, address)) == before:
        time.sleep(0.1)
    assert "passing you to one of our agents" in " ".join(sent_to(assistant, address)[before:])


def test_whatsapp_is_the_same_connector_with_its_own_channel(assistant, number):
    twilio_post(assistant, f"whatsapp:{number}", "hi there")
    reply = " ".join(sent_to(assistant, f"whatsapp:{number.lstrip('+')}"))
    assert "Kestrel Mobile assistant" in reply
    [contact] = assistant.contacts(f"whatsapp:{number.lstrip('+')}")
    assert contact["channel"] == "whatsapp"


def test_the_sender_number_is_channel_verified(assistant):
    number = "+447700900004"  # Dev Patel, a demo subscriber
    twilio_post(assistant, number, "what's my balance")
    asked = " ".join(sent_to(assistant, number.lstrip("+")))
    assert "How would you like to confirm" in asked and "mobile number" not in asked


@pytest.mark.parametrize("form", [{"Body": "hi"}, {"From": "+447700900001", "Body": "hi"},
                                  {"From": "not a number", "Body": "hi", "MessageSid": "SM1"}])
def test_malformed_posts_get_400(assistant, form):
    url = f"{assistant.base_url}/webhooks/sms/webhook"
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, form)
    status, body = http_form(url, form, {"X-Twilio-Signature": signature})
    assert status == 400 and "Traceback" not in body


def test_split_sms_never_breaks_words_and_respects_unicode_limits():
    text = " ".join(["roaming"] * 60)
    parts = split_sms(text)
    assert all(len(p) <= 153 for p in parts) and " ".join(parts) == text
    unicode_text = "Ça coûte 5 € 😊 " * 10
    assert all(len(p) <= 67 for p in split_sms(unicode_text))
    assert split_sms("short") == ["short"]
