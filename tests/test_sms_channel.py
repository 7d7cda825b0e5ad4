"""SMS and WhatsApp through the Twilio webhook, driven with Twilio's full form posts (every
parameter Twilio documents for its incoming message webhook, blank ones included, as a UK
number gets them) and real signatures (computed by the twilio library over the public URL
Twilio calls), answered through a local Twilio (tests/fake_twilio.py) that can refuse as
Twilio does."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import uuid

import pytest
from twilio.request_validator import RequestValidator

from bot.channels.outbound import send_to_customer
from bot.channels.sms import (
    HELP_TEXT,
    NOT_TEXT,
    septets,
    split_sms,
    split_whatsapp,
    ucs2_units,
)
from bot.gateway import APOLOGY_SHORT
from contacts import service
from handoff import queue
from handoff.queue import Handoff
from switchboard.db import Database
from tests.conftest import (
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_FROM,
    TWILIO_WHATSAPP_FROM,
)
from tests.fake_twilio import FakeTwilio, segments
from tests.helpers import fresh_msisdn, http_form

ROAMING = "what roaming options do you have?"


@pytest.fixture
def number() -> str:
    return f"+{fresh_msisdn()}"


# --- Twilio's side: its form posts, its signatures, its API -----------------------------------

def inbound_form(sender: str, body: str, sid: str | None = None, **extra: str) -> dict[str, str]:
    """What Twilio posts for a message from ``sender`` (``+44...`` or ``whatsapp:+44...``), in
    Twilio's order: every documented parameter, blank where a UK number leaves it blank."""
    sid = sid or f"SM{uuid.uuid4().hex}"
    if sender.startswith("whatsapp:"):
        form = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Grace M",
                "MessageType": "text", "SmsSid": sid, "WaId": sender.removeprefix("whatsapp:+"),
                "SmsStatus": "received", "Body": body, "To": TWILIO_WHATSAPP_FROM,
                "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
                "AccountSid": TWILIO_ACCOUNT_SID, "From": sender, "ApiVersion": "2010-04-01"}
    else:
        form = {"ToCountry": "GB", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
                "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "",
                "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": "GB",
                "To": TWILIO_FROM, "MessagingServiceSid": "MG" + "0f" * 16, "ToZip": "",
                "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
                "AccountSid": TWILIO_ACCOUNT_SID, "From": sender, "ApiVersion": "2010-04-01"}
    return {**form, **extra}


def webhook(assistant, query: str = "") -> tuple[str, str]:
    """(the URL Twilio calls and signs: the public one, the URL the tests post to)."""
    path = "/webhooks/sms/webhook" + (f"?{query}" if query else "")
    return assistant.settings.public_url + path, assistant.base_url + path


def sign(url: str, form: dict[str, str]) -> str:
    return RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, form)


def twilio_post(assistant, sender: str, body: str, sid: str | None = None,
                signature: str | None = None, query: str = "", **extra: str) -> tuple[int, str]:
    """Post as Twilio does (signed, unless ``signature`` is given; "" sends none)."""
    signed, posted = webhook(assistant, query)
    form = inbound_form(sender, body, sid, **extra)
    if signature is None:
        signature = sign(signed, form)
    return http_form(posted, form, {"X-Twilio-Signature": signature} if signature else {})


def twilio(assistant) -> FakeTwilio:
    return FakeTwilio.at(assistant.settings.twilio_api_url)


def settled(assistant, address: str, wait: float = 10.0) -> list[str]:
    """Bodies sent to ``address`` once a reply (maybe in several parts) has stopped coming."""
    bodies = sent_to(assistant, address, wait)
    while True:
        time.sleep(0.7)
        later = sent_to(assistant, address, wait=0)
        if len(later) == len(bodies):
            return later
        bodies = later


def sent_to(assistant, address: str, wait: float = 10.0, count: int = 1) -> list[str]:
    """Bodies Twilio accepted for ``address`` (``447...`` or ``whatsapp:447...``), once there
    are ``count`` of them or ``wait`` seconds passed."""
    return twilio(assistant).bodies(address, wait, count)


def identity(assistant, sender_id: str):
    """The conversation's channel identity as the contact record has it."""
    assistant.wait_recorded()
    with Database(assistant.settings.database_url).reading() as session:
        return service.find_identity(session, sender_id.partition(":")[0], sender_id)


def system_touches(assistant, sender_id: str) -> list[str]:
    return [t["text"] for c in assistant.contacts(sender_id) for t in c["touches"]
            if t["author"] == "system"]


# --- Answers in real segments ----------------------------------------------------------------

def test_an_sms_gets_its_answer_in_sms_sized_parts(assistant, number):
    status, twiml = twilio_post(assistant, number, ROAMING)
    assert status == 200 and "<Response>" in twiml
    settled(assistant, number)
    sent = twilio(assistant).sent_to(number, wait=0)
    parts = [m["body"] for m in sent]
    assert len(parts) > 1 and all(septets(p) <= 153 for p in parts)
    assert all(m["num_segments"] == "1" and m["from"] == TWILIO_FROM for m in sent)
    whole = " ".join(parts)
    assert "Roam Like Home" in whole and "Roam Day Pass" in whole
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)


def test_whatsapp_answers_in_one_message_from_the_whatsapp_sender(assistant, number):
    """No SMS segments on WhatsApp; To and From are both WhatsApp addresses."""
    twilio_post(assistant, f"whatsapp:{number}", ROAMING)
    [sent] = twilio(assistant).sent_to(f"whatsapp:{number}")
    assert sent["to"] == f"whatsapp:{number}" and sent["from"] == TWILIO_WHATSAPP_FROM
    assert len(sent["body"]) > 160 and "Roam Day Pass" in sent["body"]
    time.sleep(1.0)
    assert len(twilio(assistant).sent_to(f"whatsapp:{number}", wait=0)) == 1
    [contact] = assistant.contacts(f"whatsapp:{number.lstrip('+')}")
    assert contact["channel"] == "whatsapp"


def test_sms_parts_count_septets_and_the_extension_table_costs_two():
    """3GPP TS 23.038: ``€``, ``{``, form feed ... are an escape plus a septet."""
    assert septets("€{}[]~|^\\\f") == 20 and septets("abc") == 3 and septets("😊") is None
    text = "a" * 150 + " €€ " + "b" * 20  # 150 + 1 + 4: "€€" cannot join the first part
    assert split_sms(text) == ["a" * 150, "€€ " + "b" * 20]
    assert split_sms("€ " + "a" * 157) == ["€ " + "a" * 157]  # 160 septets: one SMS
    parts = split_sms("[x] " + "a" * 155)  # 161 septets: split, each part one segment
    assert len(parts) > 1 and all(septets(p) <= 153 and segments(p) == 1 for p in parts)
    feed = "a" * 150 + "\f" + "b" * 9  # 161 septets with the form feed's two: two parts
    assert split_sms(feed) == ["a" * 150, "b" * 9]


def test_sms_parts_count_ucs2_units_and_an_emoji_costs_two():
    assert ucs2_units("Ça 😊") == 5
    assert split_sms("a" * 65 + " 😊😊") == ["a" * 65 + " 😊😊"]  # 70 units: one SMS
    parts = split_sms("a" * 60 + " " + "b" * 66 + "😊 and more words here")
    assert parts[0] == "a" * 60 and parts[1] == "b" * 66  # the emoji would make 68 units
    assert all(ucs2_units(p) <= 67 and segments(p) == 1 for p in parts)
    assert "".join(parts).replace(" ", "") == ("a" * 60 + "b" * 66 + "😊andmorewordshere")
    emoji = split_sms("😊" * 40)  # one long "word": cut between characters, never inside one
    assert emoji == ["😊" * 33, "😊" * 7]


def test_split_never_breaks_words_and_whatsapp_takes_1600_characters():
    text = " ".join(["roaming"] * 60)
    parts = split_sms(text)
    assert all(len(p) <= 153 for p in parts) and " ".join(parts) == text
    assert split_sms("short") == ["short"]
    long = " ".join(f"w{n:03d}" for n in range(400))  # 1,999 characters
    pieces = split_whatsapp(long)
    assert len(pieces) == 2 and all(len(p) <= 1600 for p in pieces)
    assert " ".join(pieces) == long
    assert split_whatsapp("x" * 1600) == ["x" * 1600]


# --- Signatures: the raw body and the exact URL --------------------------------------------

@pytest.mark.parametrize("channel, blank", [
    ("sms", {}),  # ToState, ToCity, FromZip, FromCity, FromState, ToZip: blank for UK numbers
    ("whatsapp", {"ProfileName": ""}),  # a WhatsApp user without a profile name
])
def test_a_signed_post_with_blank_fields_is_accepted(assistant, number, channel, blank):
    sender = f"whatsapp:{number}" if channel == "whatsapp" else number
    form = inbound_form(sender, "hi", **blank)
    assert "" in form.values()
    signed, posted = webhook(assistant)
    status, _ = http_form(posted, form, {"X-Twilio-Signature": sign(signed, form)})
    assert status == 200
    assert "Kestrel Mobile assistant" in " ".join(sent_to(assistant, sender))


def test_blank_fields_are_signed_too(assistant, number):
    """Twilio's signature covers the blank values: one signed without them (what Sanic's form
    keeps) is not Twilio's, nor one whose blank was filled in."""
    form = inbound_form(number, "hi")
    signed, posted = webhook(assistant)
    without_blanks = {k: v for k, v in form.items() if v}
    assert http_form(posted, form, {"X-Twilio-Signature": sign(signed, without_blanks)})[0] == 403
    filled = {**form, "FromCity": "LONDON"}
    assert http_form(posted, filled, {"X-Twilio-Signature": sign(signed, form)})[0] == 403


@pytest.mark.parametrize("query", ["tenant=kestrel", "tenant=kestrel&region=uk%2Fnorth"])
def test_the_signature_covers_the_public_url_with_its_query_string(assistant, number, query):
    assert twilio_post(assistant, number, "hi", query=query)[0] == 200
    form = inbound_form(number, "hi")
    public, posted = webhook(assistant, query)
    for wrong in (public.split("?")[0],  # signed without the query string
                  posted):  # signed for where the request arrived, not the public URL
        assert http_form(posted, form, {"X-Twilio-Signature": sign(wrong, form)})[0] == 403


def test_unsigned_and_wrongly_signed_requests_are_refused(assistant, number):
    assert twilio_post(assistant, number, "hi", signature="")[0] == 403
    assert twilio_post(assistant, number, "hi", signature="bm90IGEgc2lnbmF0dXJl")[0] == 403
    assert sent_to(assistant, number, wait=1.0) == []


@pytest.mark.parametrize("form", [{"Body": "hi"}, {"From": "+447700900001", "Body": "hi"},
                                  {"From": "not a number", "Body": "hi", "MessageSid": "SM1"}])
def test_malformed_posts_get_400(assistant, form):
    signed, posted = webhook(assistant)
    status, body = http_form(posted, form, {"X-Twilio-Signature": sign(signed, form)})
    assert status == 400 and "Traceback" not in body


# --- The conversation ----------------------------------------------------------------------

def test_a_redelivered_message_is_answered_once(assistant, number):
    sid = f"SM{uuid.uuid4().hex}"
    assert twilio_post(assistant, number, "hello", sid=sid)[0] == 200
    first = sent_to(assistant, number)
    assert twilio_post(assistant, number, "hello", sid=sid)[0] == 200
    time.sleep(1.0)
    assert sent_to(assistant, number) == first
    [contact] = assistant.contacts(f"sms:{number.lstrip('+')}")
    assert [t["author"] for t in contact["touches"]].count("customer") == 1


def test_buttons_become_numbered_options_and_a_number_picks_one(assistant, number, agents_online):
    twilio_post(assistant, number, "xqzv blorptang wuggle")
    twilio_post(assistant, number, "fnord zibble quaxx")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Reply with the number" not in " ".join(
            sent_to(assistant, number)):
        time.sleep(0.1)
    offer = " ".join(sent_to(assistant, number))
    assert "1. " in offer and "2. " in offer and "Reply with the number" in offer
    before = len(sent_to(assistant, number))
    twilio_post(assistant, number, "1")  # the first button: talk to a person
    after = sent_to(assistant, number, count=before + 1)
    assert "passing you to one of our agents" in " ".join(after[before:])


def test_the_sender_number_is_channel_verified(assistant):
    number = "+447700900004"  # Dev Patel, a demo subscriber
    twilio_post(assistant, number, "what's my balance")
    asked = " ".join(sent_to(assistant, number))
    assert "How would you like to confirm" in asked and "mobile number" not in asked


# --- Messages without text -------------------------------------------------------------------

def photo(sid: str, content_type: str = "image/jpeg", kind: str = "image") -> dict[str, str]:
    return {"NumMedia": "1", "MessageType": kind, "MediaContentType0": content_type,
            "MediaUrl0": f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/"
                         f"Messages/{sid}/Media/ME{uuid.uuid4().hex}"}


def test_photos_and_locations_get_a_short_answer_and_never_count_as_misunderstood(
        assistant, number):
    """Two uncaptioned photos, a location and a sticker: four "I can only read text" answers;
    none reaches the assistant, so one gibberish message after them is the first
    misunderstanding (a rephrase request), not the second (which offers an agent)."""
    sender, address = f"whatsapp:{number}", f"whatsapp:{number}"
    for sid in (f"MM{uuid.uuid4().hex}", f"MM{uuid.uuid4().hex}"):
        assert twilio_post(assistant, sender, "", sid=sid, **photo(sid))[0] == 200
    twilio_post(assistant, sender, "", MessageType="location", Latitude="53.8008",
                Longitude="-1.5491", Address="Leeds LS1", Label="Leeds station")
    sticker = f"MM{uuid.uuid4().hex}"
    twilio_post(assistant, sender, "", sid=sticker, **photo(sticker, "image/webp", "sticker"))
    assert sent_to(assistant, address, count=4) == [NOT_TEXT] * 4
    twilio_post(assistant, sender, "xqzv blorptang wuggle")
    replies = sent_to(assistant, address, count=5)
    assert "didn't quite understand" in replies[4] and "pass you to" not in replies[4]
    conversation = f"whatsapp:{number.lstrip('+')}"
    user_turns = [e for e in assistant.tracker(conversation)["events"] if e["event"] == "user"]
    assert len(user_turns) == 1  # only the text message reached Rasa
    assert queue.owner(assistant.redis(), conversation) == "bot"
    [contact] = assistant.contacts(conversation)
    said = [t["text"] for t in contact["touches"] if t["author"] == "customer"]
    assert said[:4] == ["[a photo]", "[a photo]", "[a location]", "[a sticker]"]


def test_a_redelivered_photo_is_answered_once(assistant, number):
    sid, address = f"MM{uuid.uuid4().hex}", f"whatsapp:{number}"
    assert twilio_post(assistant, address, "", sid=sid, **photo(sid))[0] == 200
    assert sent_to(assistant, address) == [NOT_TEXT]
    assert twilio_post(assistant, address, "", sid=sid, **photo(sid))[0] == 200
    time.sleep(1.0)
    assert sent_to(assistant, address, wait=0) == [NOT_TEXT]


def test_a_photo_with_a_caption_is_read_as_text(assistant, number):
    sid = f"MM{uuid.uuid4().hex}"
    twilio_post(assistant, f"whatsapp:{number}", ROAMING, sid=sid, **photo(sid))
    assert "Roam Day Pass" in " ".join(settled(assistant, f"whatsapp:{number}"))


# --- Carrier keywords ------------------------------------------------------------------------

def send_later(assistant, sender_id: str, text: str) -> None:
    """What an agent or the queue clock does: send to the customer from outside a request."""
    asyncio.run(send_to_customer(sender_id, text, settings=assistant.settings))


@pytest.mark.parametrize("stop, start, opt_out_type", [
    ("STOP", "START", True),  # as Twilio posts them: with OptOutType
    (" cancel ", "Unstop", False),  # the keyword alone (any case), without OptOutType
])
def test_stop_opts_out_until_start_and_is_never_the_cancel_intent(
        assistant, number, stop, start, opt_out_type):
    conversation = f"sms:{number.lstrip('+')}"
    twilio_post(assistant, number, "what's my balance")  # in the middle of a flow
    asked = len(settled(assistant, number))
    keyword = {"OptOutType": "STOP"} if opt_out_type else {}
    assert twilio_post(assistant, number, stop, **keyword)[0] == 200
    time.sleep(1.0)
    assert len(sent_to(assistant, number, wait=0)) == asked  # Twilio confirms STOP, not us
    assert identity(assistant, conversation).reachability == "opted_out"
    send_later(assistant, conversation, "An agent replied: hello!")
    assert len(sent_to(assistant, number, wait=1.0)) == asked  # nothing more to this number
    assert any(t.startswith("Not delivered (sms error opted_out") and "An agent replied" in t
               for t in system_touches(assistant, conversation))
    user_turns = [e["text"] for e in assistant.tracker(conversation)["events"]
                  if e["event"] == "user"]
    assert user_turns == ["what's my balance"]  # the keyword never reached the assistant

    keyword = {"OptOutType": "START"} if opt_out_type else {}
    assert twilio_post(assistant, number, start, **keyword)[0] == 200
    assert identity(assistant, conversation).reachability is None
    send_later(assistant, conversation, "Welcome back!")
    assert sent_to(assistant, number, count=asked + 1)[-1] == "Welcome back!"


def test_help_gets_the_help_text_and_yes_is_only_a_keyword_after_stop(assistant, number):
    twilio_post(assistant, number, "HELP", OptOutType="HELP")
    assert sent_to(assistant, number) == [HELP_TEXT]
    twilio_post(assistant, number, "info")
    assert sent_to(assistant, number, count=2) == [HELP_TEXT, HELP_TEXT]
    twilio_post(assistant, number, "yes")  # not opted out: an ordinary answer for the assistant
    assert len(sent_to(assistant, number, count=3)) == 3
    assert any(e["event"] == "user" and e["text"] == "yes"
               for e in assistant.tracker(f"sms:{number.lstrip('+')}")["events"])


def test_agents_see_the_opt_out_in_the_console(assistant, number, console):
    from tests.test_console import csrf_of, fetch, log_in

    conversation = f"sms:{number.lstrip('+')}"
    twilio_post(assistant, number, "STOP", OptOutType="STOP")
    assistant.wait_recorded()
    client = assistant.redis()
    queue.enqueue(client, Handoff(conversation, "sms", "general", "requested"))
    assert queue.claim(client, "tom", conversation, capacity=100)
    opener, _, _ = log_in(console, "tom", "kestrel-tom-demo")
    chat_url = f"{console}/chat/{urllib.parse.quote(conversation, safe='')}"
    status, _, page = fetch(opener, chat_url)
    assert status == 200 and "Opted out of messages (STOP)" in page
    fetch(opener, f"{chat_url}/reply", {"csrf": csrf_of(page), "text": "Are you still there?"})
    assert sent_to(assistant, number, wait=1.0) == []
    assert any("Are you still there?" in t and t.startswith("Not delivered")
               for t in system_touches(assistant, conversation))
    queue.return_to_bot(client, "tom", conversation)


# --- Sending is not answering: Twilio's refusals ---------------------------------------------

@pytest.mark.parametrize("code, status, state", [
    (21610, 400, "opted_out"),  # Attempt to send to unsubscribed recipient
    (21211, 400, "undeliverable"),  # Invalid 'To' phone number
    (21614, 400, "undeliverable"),  # 'To' number is not a valid mobile number
])
def test_a_permanent_refusal_is_recorded_marked_and_never_escalated(
        assistant, number, code, status, state):
    from tests.test_metrics import scrape, total

    conversation = f"sms:{number.lstrip('+')}"
    errors = "switchboard_provider_send_errors_total"
    before = total(scrape(assistant.settings.rasa_port), errors, channel="sms", code=str(code))
    twilio(assistant).fail_next(number, code)
    assert twilio_post(assistant, number, "hi")[0] == 200  # answered: no 500, no retry storm
    after = total(scrape(assistant.settings.rasa_port), errors, channel="sms", code=str(code))
    assert after == before + 1  # counted for the operations team, by Twilio's code
    assistant.wait_recorded()
    assert twilio(assistant).attempts(number) == [status]  # not retried
    assert queue.owner(assistant.redis(), conversation) == "bot"  # no bot_failure handoff
    assert identity(assistant, conversation).reachability == state
    touches = system_touches(assistant, conversation)
    assert any(t.startswith(f"Not delivered (sms error {code}, final)") for t in touches)
    assert not any(APOLOGY_SHORT in t for c in assistant.contacts(conversation)
                   for t in (x["text"] for x in c["touches"]))
    twilio_post(assistant, number, ROAMING)  # a reply to this number is not even tried now...
    time.sleep(1.0)
    if state == "opted_out":
        assert twilio(assistant).attempts(number) == [status]
    else:  # ...unless it wrote to us since: then the number evidently works
        assert "Roam Day Pass" in " ".join(settled(assistant, number))


@pytest.mark.parametrize("code, retry_after", [(20429, 1), (20503, None)])
def test_a_transient_refusal_is_retried(assistant, number, code, retry_after):
    twilio(assistant).fail_next(number, code, retry_after=retry_after)
    started = time.monotonic()
    twilio_post(assistant, number, "hi")
    assert "Kestrel Mobile assistant" in " ".join(sent_to(assistant, number))
    assert twilio(assistant).attempts(number)[:2] == [429 if code == 20429 else 503, 201]
    assert time.monotonic() - started >= (retry_after or 1.0)  # Twilio's wait, or our backoff
    assert identity(assistant, f"sms:{number.lstrip('+')}").reachability is None


def test_a_reply_still_refused_after_the_retries_is_kept_undelivered(assistant, number):
    conversation = f"sms:{number.lstrip('+')}"
    twilio(assistant).fail_next(number, 20500, 20500, 20500)
    assert twilio_post(assistant, number, "hi")[0] == 200
    assistant.wait_recorded()
    assert twilio(assistant).attempts(number) == [500, 500, 500]
    assert any(t.startswith("Not delivered (sms error 20500, gave up retrying)")
               for t in system_touches(assistant, conversation))
    assert identity(assistant, conversation).reachability is None
    assert queue.owner(assistant.redis(), conversation) == "bot"


def test_whatsapp_outside_the_24_hour_window_is_undelivered_not_unreachable(assistant, number):
    """63016: only a template may go; the customer writing again reopens the window."""
    address, conversation = f"whatsapp:{number}", f"whatsapp:{number.lstrip('+')}"
    twilio(assistant).fail_next(address, 63016)
    twilio_post(assistant, address, "hi")
    assistant.wait_recorded()
    assert any(t.startswith("Not delivered (whatsapp error 63016, final)")
               for t in system_touches(assistant, conversation))
    assert identity(assistant, conversation).reachability is None
    twilio_post(assistant, address, ROAMING)
    assert "Roam Day Pass" in " ".join(settled(assistant, address))
