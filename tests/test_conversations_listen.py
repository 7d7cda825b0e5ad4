"""Conversations that listen (issue 17): every flow takes what the customer already said, checks
each answer by its kind, shows a summary before it changes or files anything, knows the
verified customer, and the conversation's control words work inside flows too.

The scripted customers of bench/conversations.py run here over REST through the running stack,
each asserting the operation in the contact record and the number of turns it took; the six
transcripts of the issue are tests of their own."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from accounts.demo import DemoSubscriber, add_subscriber
from accounts.models import Account, AccountDataPack, Complaint, VasSubscription
from actions import extract
from bench.conversations import (
    PASSWORD_PAYLOAD,
    PERSONAS,
    completed,
    converse,
    filed_complaint,
    open_complaint,
)
from tests.conftest import PASSWORD
from tests.helpers import fresh_msisdn
from tests.test_self_service import local, texts, verify_by_password

REFERENCE = re.compile(r"CMP-\d{4}-\d{6}")
TODAY = date(2026, 11, 30)  # a Monday


def payloads(replies: list[dict]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def said(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def operations(assistant, sender: str) -> list[tuple[str, str]]:
    return [(o["category"], o["result"]) for c in assistant.contacts(sender)
            for o in c["operations"]]


def login(assistant, sender: str, sub) -> str:
    """After a question for the number: the number, the password button, the password."""
    assert "How would you like" in texts(assistant, sender, local(sub.msisdn))
    assert "service password" in texts(assistant, sender, PASSWORD_PAYLOAD)
    return texts(assistant, sender, sub.password)


# --- Values by kind (no stack) ---

@pytest.mark.parametrize(("text", "pence"), [
    ("£2.50", 250), ("2.50", 250), ("two fifty", 250), ("it was 12 quid", 1200),
    ("eight pounds", 800), ("50p", 50), ("you billed me 40 quid extra in October", 4000),
    ("yes", None), ("07700 900123", None), ("12", None),
])
def test_amounts_are_money_in_any_voice(text, pence):
    assert extract.money_pence(text) == pence


def test_a_bare_number_is_money_only_when_asked_how_much():
    assert extract.money_pence("12", bare=True) == 1200
    assert extract.money_pence("the 5GB boost", bare=True) is None


@pytest.mark.parametrize(("text", "when"), [
    ("in Sheffield, since last Monday, calls drop every few minutes", TODAY - timedelta(7)),
    ("since Friday", TODAY - timedelta(3)), ("two days ago", TODAY - timedelta(2)),
    ("since the weekend", TODAY - timedelta(2)), ("for 2 weeks", TODAY - timedelta(14)),
    ("yes", None), ("calls drop every few minutes", None), ("I may have", None),
    ("block it now", None),
])
def test_dates_are_read_by_dateparser_and_only_dates(text, when):
    assert extract.since_date(text, TODAY) == when


@pytest.mark.parametrize(("text", "month"), [
    ("October", "2026-10"), ("my October bill is wrong, you charged me £12.50", "2026-10"),
    ("last month", "2026-10"), ("December", "2025-12"), ("2026-09", "2026-09"),
    ("yesterday", None), ("I was charged twice for my roaming pass", None),
])
def test_bill_months_are_in_the_past(text, month):
    assert extract.bill_month(text, TODAY) == month


@pytest.mark.parametrize(("text", "where"), [
    ("in Sheffield, since last Monday", "Sheffield"), ("Leeds LS6 2AB", "Leeds, LS6 2AB"),
    ("LS6", "LS6"), ("12 Park Road, Leeds", "12 Park Road, Leeds"),
    ("no signal at my house in Sheffeild", "Sheffield"), ("Milton Keynes", "Milton Keynes"),
    ("yes", None), ("at home", None), ("everywhere", None), ("I was reading", None),
])
def test_a_place_is_a_town_postcode_or_street_and_yes_is_not(text, where):
    assert extract.place(text) == where


PLANS = ["Go 10", "Go 30", "Unlimited", "Unlimited Max", "Family Share", "Prepay Flex"]
PACKS = ["1GB Boost", "5GB Boost", "20GB Boost", "Weekend Unlimited"]


@pytest.mark.parametrize(("text", "names", "name"), [
    ("can u move me to unlimted max pls", PLANS, "Unlimited Max"),
    ("I'm on Go 30 but want something cheaper, Go 10 would do", PLANS, "Go 10"),
    ("Family Share... actually no, Unlimited", PLANS, "Unlimited"),
    ("it's been 10 days", PLANS, None),
    ("can I get a 1GB boost?", PACKS, "1GB Boost"), ("a 5 gig boost", PACKS, "5GB Boost"),
    ("twenty gig boost please", PACKS, "20GB Boost"),
    ("the weekend unlimted thing", PACKS, "Weekend Unlimited"),
    ("the 1GB Boost... no wait, 5GB", PACKS, "5GB Boost"),
    ("remove the music subscrption", ["Kestrel Music", "Ringback Tones"], "Kestrel Music"),
    ("service password", ["Kestrel Music", "Ringback Tones"], None),
])
def test_our_names_are_found_with_typos_and_the_latest_choice_wins(text, names, name):
    assert extract.option(text, names, exclude=["Go 30"]) == name


@pytest.mark.parametrize(("text", "described"), [
    ("I want to complain, my signal keeps dropping at home", "my signal keeps dropping at home"),
    ("I was charged twice for my roaming pass", "I was charged twice for my roaming pass"),
    ("I want to make a complaint", None), ("I was overcharged", None),
    ("I want to complain about your service", None),
])
def test_a_descriptive_message_is_the_description(text, described):
    assert extract.description(text) == described


def test_secret_looking_messages():
    assert extract.secret_looking("service password") and extract.secret_looking("482913")
    assert not extract.secret_looking("my number is 07700 900123")
    assert not extract.secret_looking("unsubscribe")


def test_a_bare_value_implies_its_request():
    pack = [{"entity": "data_pack", "value": "5GB Boost"}]
    assert extract.implied_request("inform", pack) == "buy_data_pack"
    assert extract.implied_request("inform", [{"entity": "location", "value": "Leeds"}]) is None
    assert extract.implied_request("check_bill", pack) == "check_bill"


def user(text: str, intent: str) -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def test_a_request_s_texts_leave_out_secrets_and_earlier_requests():
    events = [
        user("what's my balance", "check_balance"),
        {"event": "action", "name": "action_after_verification"},
        user("my signal is awful in Leeds", "report_network_issue"),
        user("I want to complain", "file_complaint"),
        {"event": "active_loop", "name": "verification_form"},
        {"event": "slot", "name": "requested_slot", "value": "phone_number"},
        user("07700 900123, since Friday", "inform"),
        {"event": "slot", "name": "requested_slot", "value": "service_password"},
        user("482913", "inform"),
    ]
    assert extract.request_texts(events, "file_complaint") == [
        "my signal is awful in Leeds", "I want to complain", "07700 900123, since Friday"]


# --- The scripted customers: the task done, in the fewest turns the missing facts allow ---

@pytest.mark.parametrize("persona", PERSONAS, ids=[p.name for p in PERSONAS])
def test_scripted_customer(assistant, sender, subscriber, stack_db, persona):
    reference = (open_complaint(stack_db, subscriber.msisdn)
                 if persona.setup == "open_complaint" else None)
    outcome = converse(assistant.say, sender, persona, subscriber.msisdn, reference)
    ops = [o for c in assistant.contacts(sender) for o in c["operations"]]
    transcript = "\n".join(f"> {c}\n  {a!r}" for c, a in outcome.transcript)
    assert completed(persona, ops, filed_complaint(stack_db, ops)), transcript
    assert outcome.turns == persona.turns, transcript


def test_the_suite_covers_every_flow_and_complaint_type():
    flows = {p.flow for p in PERSONAS}
    assert len(PERSONAS) >= 40
    assert {"change_plan", "buy_data_pack", "unsubscribe_vas", "report_lost_sim",
            "activate_roaming", "report_network_issue", "billing_dispute", "file_complaint",
            "complaint_status"} <= flows
    categories = {p.expect.get("category") for p in PERSONAS}
    assert {"network", "billing", "customer_service", "device", "roaming", "data"} <= categories


# --- The six transcripts ---

@pytest.fixture
def prepaid(stack_db):
    """A pay-as-you-go subscriber like the demo's Ben: £6.40 of credit."""
    msisdn = fresh_msisdn()
    sub = DemoSubscriber(msisdn, "Ben Okafor", "prepay_flex", PASSWORD, "88203417", 640, 3_170,
                         False)
    with stack_db.transaction() as session:
        add_subscriber(session, sub)
    return sub


def test_transcript_1_number_and_pack_in_one_message(assistant, sender, prepaid, stack_db):
    first = assistant.say(sender, f"hi I'm Ben, my number is {local(prepaid.msisdn)}, can I get "
                                  "a 1GB boost?")
    assert "How would you like" in said(first) and "mobile number" not in said(first)
    texts(assistant, sender, PASSWORD_PAYLOAD)
    summary = assistant.say(sender, prepaid.password)
    assert "Add 1GB Boost for £3.00" in said(summary)
    assert "taken from your credit (£6.40 now)" in said(summary)
    assert {"/affirm", "/cancel", '/inform{"change_field": "pack_choice"}'} <= set(
        payloads(summary))
    with stack_db.reading() as session:  # shown, not done
        assert session.get(Account, prepaid.msisdn).balance_pence == 640
    assert "Done: 1GB Boost" in texts(assistant, sender, "/affirm")  # 4 turns in all
    with stack_db.reading() as session:
        assert session.get(Account, prepaid.msisdn).balance_pence == 340
    assert ("data_pack_purchase", "success") in operations(assistant, sender)


def test_transcript_2_the_complaint_is_its_own_description(assistant, sender, subscriber,
                                                           stack_db, agents_online):
    from handoff import queue

    assert "mobile number" in texts(assistant, sender, "I was charged twice for my roaming pass")
    asked = login(assistant, sender, subscriber)
    assert "describe" not in asked and "Which bill" in asked
    assert "How much" in texts(assistant, sender, "October")
    summary = texts(assistant, sender, "£2.50")
    assert "What happened: I was charged twice for my roaming pass" in summary
    assert "Amount disputed: £2.50" in summary and "Bill: October" in summary
    filed = texts(assistant, sender, "/affirm")  # 7 turns: nothing asked twice
    reference = REFERENCE.search(filed).group(0)
    with stack_db.reading() as session:
        row = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
    assert (row.description, row.disputed_pence, row.bill_period[-2:]) == (
        "I was charged twice for my roaming pass", 250, "10")
    assert queue.cancel(assistant.redis(), sender)


def test_transcript_3_yes_is_not_a_place_and_the_summary_comes_first(assistant, sender,
                                                                     subscriber, stack_db):
    texts(assistant, sender, "I want to complain, my signal keeps dropping at home")
    assert "Where does the problem happen" in login(assistant, sender, subscriber)
    again = texts(assistant, sender, "yes")
    assert "doesn't look like a place" in again and "LS6 2AB" in again
    summary = assistant.say(sender, "in Sheffield, since last Monday, calls drop every few "
                                    "minutes")
    text = said(summary)
    assert "Where: Sheffield" in text and "Since: Monday" in text
    assert "What happened: my signal keeps dropping at home" in text
    assert '/inform{"change_field": "complaint_location"}' in payloads(summary)
    with stack_db.reading() as session:  # nothing filed before the customer says so
        assert not session.scalars(select(Complaint).where(
            Complaint.msisdn == subscriber.msisdn)).all()
    reference = REFERENCE.search(texts(assistant, sender, "/affirm")).group(0)
    with stack_db.reading() as session:
        row = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
    monday = date.today() - timedelta(days=date.today().weekday() or 7)
    assert (row.location, row.since) == ("Sheffield", monday.isoformat())


def test_a_second_answer_that_is_not_a_place_offers_a_person(assistant, sender, subscriber):
    texts(assistant, sender, "I want to complain, my signal keeps dropping at home")
    login(assistant, sender, subscriber)
    texts(assistant, sender, "yes")
    last = assistant.say(sender, "yes")
    assert "/request_human" in payloads(last)
    assert ("network_issue_report", "failure") in operations(assistant, sender)


def test_transcript_4_status_lists_the_open_complaints_of_a_verified_customer(
        assistant, sender, subscriber):
    texts(assistant, sender, "no signal in Leeds since Friday, calls won't connect at all")
    login(assistant, sender, subscriber)
    reference = REFERENCE.search(texts(assistant, sender, "/affirm")).group(0)
    status = texts(assistant, sender, "what's the status of my complaint?")
    assert "complaint reference" not in status
    assert reference in status and "is open" in status and "resolve it by" in status
    assert operations(assistant, sender)[-1] == ("complaint_status_query", "success")


def test_transcript_5_a_secret_typed_out_of_context_starts_nothing(assistant, sender):
    reply = texts(assistant, sender, "service password")
    assert "Which would you like to cancel" not in reply and "mobile number" not in reply
    tracker = assistant.tracker(sender)
    assert tracker["active_loop"] in (None, {}) or not tracker["active_loop"].get("name")
    assert tracker["slots"]["requested_service"] is None
    assert "Okay. What can I help you with?" in texts(assistant, sender, "yes")
    assert not [op for op in operations(assistant, sender)
                if op[0] == "vas_unsubscription"]


def test_transcript_5_bye_inside_a_form_ends_it(assistant, sender):
    assert "mobile number" in texts(assistant, sender, "I want to change my plan")
    bye = texts(assistant, sender, "bye")
    assert "Goodbye" in bye and "mobile number" not in bye
    assert not (assistant.tracker(sender)["active_loop"] or {}).get("name")
    assert "mobile number" not in texts(assistant, sender, "hi")


def test_transcript_6_stop_charging_me_for_a_service(assistant, sender, subscriber, stack_db):
    assert "mobile number" in texts(assistant, sender, "stop charging me for Kestrel Music, I "
                                                       "never signed up to it")
    summary = login(assistant, sender, subscriber)
    assert "Cancel Kestrel Music?" in summary and "£4.99/month" in summary
    assert "cancelled Kestrel Music" in texts(assistant, sender, "/affirm")  # 5 turns
    with stack_db.reading() as session:
        active = session.scalars(select(VasSubscription.code).where(
            VasSubscription.msisdn == subscriber.msisdn, VasSubscription.active.is_(True))).all()
    assert active == ["ringback"]


# --- Confirm before acting ---

def test_roaming_waits_for_the_customer_s_yes(assistant, sender, subscriber, stack_db):
    summary = verify_by_password(assistant, sender, subscriber, "please turn on roaming")
    assert "Turn on roaming for" in summary and "Roam Like Home" in summary
    with stack_db.reading() as session:
        assert not session.get(Account, subscriber.msisdn).roaming_enabled
    assert "roaming is now on" in texts(assistant, sender, "yes")
    with stack_db.reading() as session:
        assert session.get(Account, subscriber.msisdn).roaming_enabled


def test_no_at_the_summary_changes_nothing(assistant, sender, subscriber, stack_db):
    verify_by_password(assistant, sender, subscriber, "switch me to Unlimited Max please")
    assert "haven't changed anything" in texts(assistant, sender, "no")
    with stack_db.reading() as session:
        assert session.get(Account, subscriber.msisdn).plan_code == "go_30"
    assert ("plan_change", "refused") in operations(assistant, sender)


def test_a_change_button_asks_that_field_again_then_shows_the_summary_again(
        assistant, sender, subscriber, stack_db):
    summary = verify_by_password(assistant, sender, subscriber, "add the 1GB Boost please")
    assert "Add 1GB Boost" in summary
    assert "Which data pack" in texts(assistant, sender,
                                      '/inform{"change_field": "pack_choice"}')
    assert "Add 20GB Boost for £15.00" in texts(assistant, sender, "20GB Boost")
    texts(assistant, sender, "/affirm")
    with stack_db.reading() as session:
        packs = session.scalars(select(AccountDataPack.pack_code).where(
            AccountDataPack.msisdn == subscriber.msisdn)).all()
    assert packs == ["boost_20gb"]


def test_a_complaint_field_changed_at_the_summary(assistant, sender, subscriber, stack_db):
    verify_by_password(assistant, sender, subscriber,
                       "no signal in Leeds since Friday, calls won't connect at all")
    asked = texts(assistant, sender, '/inform{"change_field": "complaint_location"}')
    assert "Where does the problem happen" in asked
    assert "Where: York" in texts(assistant, sender, "York, YO1 7HH")
    reference = REFERENCE.search(texts(assistant, sender, "/affirm")).group(0)
    with stack_db.reading() as session:
        assert session.scalars(select(Complaint.location).where(
            Complaint.reference == reference)).one() == "York, YO1 7HH"


def test_cancel_at_the_complaint_summary_files_nothing(assistant, sender, subscriber,
                                                       stack_db):
    verify_by_password(assistant, sender, subscriber,
                       "the staff in your Leeds store were really rude to me yesterday")
    assert "nothing was changed" in texts(assistant, sender, "/cancel")
    with stack_db.reading() as session:
        assert not session.scalars(select(Complaint).where(
            Complaint.msisdn == subscriber.msisdn)).all()


# --- Know the customer ---

def test_a_suspended_line_is_said_up_front(assistant, sender, subscriber, stack_db):
    with stack_db.transaction() as session:
        session.get(Account, subscriber.msisdn).line_status = "suspended"
    reply = verify_by_password(assistant, sender, subscriber, "can I get a 5GB boost")
    assert "is suspended" in reply and "Which data pack" not in reply and "Add" not in reply
    assert "is suspended" in texts(assistant, sender, "what's my balance")


def test_a_reference_typed_by_a_verified_customer_is_looked_up_directly(
        assistant, sender, subscriber, stack_db):
    reference = open_complaint(stack_db, subscriber.msisdn)
    reply = verify_by_password(assistant, sender, subscriber, f"any news on {reference}?")
    assert f"Your complaint {reference} (network) is open" in reply


# --- Control words everywhere ---

def test_a_greeting_or_thanks_inside_a_form_is_not_an_answer(assistant, sender):
    assert "mobile number" in texts(assistant, sender, "what's my balance")
    greeted = texts(assistant, sender, "hello")
    assert "doesn't look like a UK mobile" not in greeted and "mobile number" in greeted
    thanked = texts(assistant, sender, "thanks")
    assert "doesn't look like a UK mobile" not in thanked and "mobile number" in thanked


def test_start_again_inside_a_form_starts_over(assistant, sender):
    assert "mobile number" in texts(assistant, sender, "I want to change my plan")
    assert "start over" in texts(assistant, sender, "start again")
    assert not (assistant.tracker(sender)["active_loop"] or {}).get("name")
