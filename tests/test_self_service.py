"""Verification, self-service and complaints, conversation by conversation, on the running stack
(Rasa, the action server with the SQL back end, Redis, the contact recorder)."""

from __future__ import annotations

import re

from sqlalchemy import select

from accounts.demo import DemoSubscriber
from accounts.models import Account, AccountDataPack, Complaint, VasSubscription
from handoff import queue
from tests.conftest import PASSWORD, PUK
from tests.fake_twilio import FakeTwilio


def local(msisdn: str) -> str:
    return "0" + msisdn[2:]


def texts(assistant, sender, message) -> str:
    return "\n".join(m.get("text", "") for m in assistant.say(sender, message))


def verify_by_password(assistant, sender, sub, request="what's my balance") -> str:
    assert "mobile number" in texts(assistant, sender, request)
    assert "How would you like" in texts(assistant, sender, local(sub.msisdn))
    assert "service password" in texts(assistant, sender,
                                       '/inform{"verification_method": "password"}')
    return texts(assistant, sender, sub.password)


def latest_code(assistant, msisdn: str) -> str:
    """The code in the last text message Twilio took for this number (the outbox keeps codes
    masked: tests/test_verification_units.py)."""
    body = FakeTwilio.at(assistant.settings.twilio_api_url).bodies(msisdn)[-1]
    return re.search(r"\b(\d{6})\b", body).group(1)


def test_verification_by_password_then_balance(assistant, sender, subscriber):
    answer = verify_by_password(assistant, sender, subscriber)
    assert "you're verified" in answer and "£18.00" in answer
    # Verified for the rest of the contact: the next request is answered at once.
    assert "12.0 GB of 30.0 GB" in texts(assistant, sender, "how much data do I have left")
    [contact] = assistant.contacts(sender)
    assert [(o["category"], o["result"]) for o in contact["operations"]] == [
        ("identity_verification", "success"), ("balance_query", "success"),
        ("data_usage_query", "success")]
    assert (contact["auth_method"], contact["auth_result"]) == ("service_password", "verified")


def test_verification_by_one_time_code(assistant, sender, subscriber):
    texts(assistant, sender, "show me my latest bill")
    texts(assistant, sender, local(subscriber.msisdn))
    asked = texts(assistant, sender, '/inform{"verification_method": "otp"}')
    assert "6-digit code" in asked
    code = latest_code(assistant, subscriber.msisdn)
    answer = texts(assistant, sender, code)
    assert "you're verified" in answer and "£26.00" in answer and "5GB Boost" in answer
    assert code not in answer


def test_wrong_code_then_right_code(assistant, sender, subscriber):
    texts(assistant, sender, "what plan am I on")
    texts(assistant, sender, local(subscriber.msisdn))
    texts(assistant, sender, '/inform{"verification_method": "otp"}')
    code = latest_code(assistant, subscriber.msisdn)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    reply = texts(assistant, sender, wrong)
    assert "isn't right" in reply and "4 tries left" in reply
    assert "Go 30" in texts(assistant, sender, code)


def test_a_code_works_only_once(assistant, sender, subscriber):
    texts(assistant, sender, "what plan am I on")
    texts(assistant, sender, local(subscriber.msisdn))
    texts(assistant, sender, '/inform{"verification_method": "otp"}')
    code = latest_code(assistant, subscriber.msisdn)
    assert "you're verified" in texts(assistant, sender, code)
    other = sender + "-b"
    texts(assistant, other, "what plan am I on")
    texts(assistant, other, local(subscriber.msisdn))
    # A new code is sent for the new attempt; the old one no longer works.
    texts(assistant, other, '/inform{"verification_method": "otp"}')
    assert "isn't right" in texts(assistant, other, code)


def test_lockout_after_five_failures_spans_conversations(assistant, sender, subscriber,
                                                        agents_online):
    first, second, third = sender, sender + "-2", sender + "-3"
    texts(assistant, first, "what's my balance")
    texts(assistant, first, local(subscriber.msisdn))
    texts(assistant, first, '/inform{"verification_method": "password"}')
    for _ in range(3):
        assert "isn't right" in texts(assistant, first, "111111")
    texts(assistant, second, "check my data usage")
    texts(assistant, second, local(subscriber.msisdn))
    texts(assistant, second, '/inform{"verification_method": "password"}')
    assert "1 try left" in texts(assistant, second, "222222")
    locked = assistant.say(second, "333333")
    said = "\n".join(m.get("text", "") for m in locked)
    assert "locked" in said and "passing you to one of our agents" in said  # queued at once
    handoff = queue.record(assistant.redis(), second)
    assert (handoff.reason, handoff.priority) == ("verification_lockout", 2)
    assert queue.cancel(assistant.redis(), second)
    # Even the right password does not get in now, from a third conversation.
    texts(assistant, third, "what's my balance")
    assert "locked" in texts(assistant, third, local(subscriber.msisdn))


def test_each_one_step_request_answers_from_the_back_end(assistant, sender, subscriber,
                                                         stack_db):
    verify_by_password(assistant, sender, subscriber, "what is my plan")
    assert "Go 30 (£18.00/month)" in texts(assistant, sender, "which plan am I on")
    assert "£26.00" in texts(assistant, sender, "show me my bill")
    assert "18.0 GB left" in texts(assistant, sender, "how much data is left")
    assert PUK in texts(assistant, sender, "I need my PUK code")
    # Roaming is a change now, confirmed first: tests/test_conversations_listen.py.


def test_change_plan_lists_confirms_and_applies(assistant, sender, subscriber, stack_db):
    listed = verify_by_password(assistant, sender, subscriber, "I want to change my plan")
    assert "Unlimited Max" in listed and "Which one would you like?" in listed
    assert "I don't know a plan called" in texts(assistant, sender, "Platinum Galaxy")
    assert "Move" in texts(assistant, sender, "Unlimited")
    assert "you're now on Unlimited" in texts(assistant, sender, "yes")
    with stack_db.reading() as session:
        assert session.get(Account, subscriber.msisdn).plan_code == "unlimited"


def test_buy_a_data_pack(assistant, sender, subscriber, stack_db):
    verify_by_password(assistant, sender, subscriber, "can I buy more data")
    assert "Add 5GB Boost for £8.00" in texts(assistant, sender, "5GB Boost")
    assert "Done: 5GB Boost" in texts(assistant, sender, "yes please")
    with stack_db.reading() as session:
        packs = session.scalars(select(AccountDataPack).where(
            AccountDataPack.msisdn == subscriber.msisdn)).all()
    assert [p.pack_code for p in packs] == ["boost_5gb"]


def test_unsubscribe_a_value_added_service(assistant, sender, subscriber, stack_db):
    listed = verify_by_password(assistant, sender, subscriber, "stop my subscriptions")
    assert "Kestrel Music" in listed and "Ringback Tones" in listed
    assert "Cancel Ringback Tones?" in texts(assistant, sender, "Ringback Tones")
    assert "cancelled Ringback Tones" in texts(assistant, sender, "yes")
    with stack_db.reading() as session:
        active = session.scalars(select(VasSubscription.code).where(
            VasSubscription.msisdn == subscriber.msisdn, VasSubscription.active.is_(True))).all()
    assert active == ["music"]


def test_report_lost_sim_suspends_the_line(assistant, sender, subscriber, stack_db):
    asked = verify_by_password(assistant, sender, subscriber, "I lost my phone, block my sim")
    assert "suspend" in asked
    done = texts(assistant, sender, "yes")
    assert "is suspended" in done and "replacement SIM" in done
    with stack_db.reading() as session:
        assert session.get(Account, subscriber.msisdn).line_status == "suspended"


def test_cancel_midway_changes_nothing(assistant, sender, subscriber, stack_db):
    verify_by_password(assistant, sender, subscriber, "I want to change my plan")
    assert "Move" in texts(assistant, sender, "Go 10")
    assert "stopped" in texts(assistant, sender, "cancel")
    with stack_db.reading() as session:
        assert session.get(Account, subscriber.msisdn).plan_code == "go_30"


def test_an_faq_in_the_middle_of_a_form_then_back(assistant, sender, subscriber):
    assert "mobile number" in texts(assistant, sender, "what's my balance")
    answer = texts(assistant, sender, "what time do your stores open?")
    assert "9:00" in answer and "mobile number" in answer  # answered, then asked again
    assert "How would you like" in texts(assistant, sender, local(subscriber.msisdn))


def test_a_malformed_number_is_reprompted_then_handed_over(assistant, sender):
    texts(assistant, sender, "what's my balance")
    assert "doesn't look like a UK mobile" in texts(assistant, sender, "12345")
    assert "doesn't look like a UK mobile" in texts(assistant, sender, "my number is 999")
    last = assistant.say(sender, "0123")
    assert any(b["payload"] == "/request_human" for m in last for b in m.get("buttons", []))


def test_network_complaint_end_to_end(assistant, sender, subscriber, stack_db):
    # The opening describes the problem: it is the description, not asked again.
    verify_by_password(assistant, sender, subscriber, "I have no signal at home")
    texts(assistant, sender, "Leeds LS6 2AB")
    assert "Shall I file it?" in texts(assistant, sender, "since last Tuesday")
    answer = texts(assistant, sender, "yes")
    reference = re.search(r"CMP-\d{4}-\d{6}", answer).group(0)
    with stack_db.reading() as session:
        row = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
    assert (row.msisdn, row.category, row.location) == (subscriber.msisdn, "network",
                                                         "Leeds, LS6 2AB")
    assert row.due_at > row.created_at


def test_billing_dispute_end_to_end_goes_to_the_billing_queue(assistant, sender, subscriber,
                                                              stack_db, agents_online):
    verify_by_password(assistant, sender, subscriber, "I was overcharged on my bill")
    texts(assistant, sender, "There is a roaming charge but I never left the country")
    # Two answers in one message: the month and the amount.
    assert "Shall I file it?" in texts(assistant, sender, "the October bill, £12.50")
    replies = assistant.say(sender, "yes")
    answer = "\n".join(m.get("text", "") for m in replies)
    reference = re.search(r"CMP-\d{4}-\d{6}", answer).group(0)
    assert "passing you to one of our agents" in answer
    handoff = queue.record(assistant.redis(), sender)
    assert (handoff.reason, handoff.skill, handoff.verified) == ("billing_dispute", "billing",
                                                                 True)
    assert queue.cancel(assistant.redis(), sender)
    with stack_db.reading() as session:
        row = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
    assert (row.category, row.disputed_pence, row.bill_period[-2:]) == ("billing", 1250, "10")


def test_general_complaint_end_to_end(assistant, sender, subscriber, stack_db):
    verify_by_password(assistant, sender, subscriber, "I want to make a complaint")
    texts(assistant, sender, '/inform{"complaint_category": "customer_service"}')
    texts(assistant, sender, "The shop assistant in Leeds was very rude to me today")
    answer = texts(assistant, sender, "yes")
    reference = re.search(r"CMP-\d{4}-\d{6}", answer).group(0)
    with stack_db.reading() as session:
        assert session.scalars(select(Complaint.category).where(
            Complaint.reference == reference)).one() == "customer_service"


def test_complaint_status_of_own_and_of_someone_elses(assistant, sender, subscriber):
    verify_by_password(assistant, sender, subscriber, "I want to make a complaint")
    texts(assistant, sender, '/inform{"complaint_category": "customer_service"}')
    texts(assistant, sender, "Nobody called me back although they promised to")
    answer = texts(assistant, sender, "yes")
    mine = re.search(r"CMP-\d{4}-\d{6}", answer).group(0)
    assert "is open" in texts(assistant, sender, f"what's the status of {mine}")
    # Someone else, verified as themselves, asks about that reference: nothing is revealed.
    other = DemoSubscriber("447700900002", "", "", "135790", "", 0, 0, False)
    other_sender = sender + "-other"
    verify_by_password(assistant, other_sender, other, f"any update on complaint {mine}")
    reply = texts(assistant, other_sender, f"status of complaint {mine}")
    assert "can't find" in reply and "open" not in reply


def test_no_code_or_password_in_logs_or_touches(assistant, sender, subscriber):
    texts(assistant, sender, "what's my balance")
    texts(assistant, sender, local(subscriber.msisdn))
    texts(assistant, sender, '/inform{"verification_method": "otp"}')
    code = latest_code(assistant, subscriber.msisdn)
    texts(assistant, sender, "000000" if code != "000000" else "111111")
    texts(assistant, sender, code)
    assert PUK in texts(assistant, sender, "and my PUK please")  # the customer does get it
    password_sender = sender + "-pw"
    verify_by_password(assistant, password_sender, subscriber)
    stored = " ".join(t["text"] for s in (sender, password_sender)
                      for c in assistant.contacts(s) for t in c["touches"])
    logs = "".join(p.read_text(errors="replace") for p in assistant.log_dir.glob("*.log"))
    for secret in (code, PASSWORD, PUK):
        assert secret not in stored, secret
        assert secret not in logs, secret
    [contact] = assistant.contacts(sender)
    assert (contact["auth_method"], contact["auth_result"]) == ("otp_sms", "verified")
    assert contact["customer_msisdn"] == subscriber.msisdn


def test_verification_ends_with_the_contact(assistant, sender, subscriber):
    verify_by_password(assistant, sender, subscriber)
    texts(assistant, sender, "thanks, bye")
    assert "mobile number" in texts(assistant, sender, "what's my balance")


def test_a_bad_complaint_reference_is_reprompted_then_handed_over(assistant, sender, subscriber):
    verify_by_password(assistant, sender, subscriber, "what's happening with my complaint")
    assert "look like CMP-" in texts(assistant, sender, "the one from last week")
    assert "look like CMP-" in texts(assistant, sender, "I don't know it")
    last = assistant.say(sender, "no idea")
    assert any(b["payload"] == "/request_human" for m in last for b in m.get("buttons", []))


def test_nothing_about_someone_elses_number(assistant, sender, subscriber):
    verify_by_password(assistant, sender, subscriber)
    reply = texts(assistant, sender, "what's the balance on 07700 900003")
    assert "only help with the account you verified" in reply
    assert "Chloe" not in reply and "£32.00" not in reply and "£" not in reply
    # And the customer's own requests still work afterwards.
    assert "Go 30" in texts(assistant, sender, "what plan am I on")


def test_a_repeated_complaint_within_30_days_goes_to_the_queue(assistant, sender, subscriber,
                                                               agents_online):
    # Each complaint described in its opening: summary, then "yes".
    verify_by_password(assistant, sender, subscriber,
                       "I want to complain, the store in Leeds refused to swap my faulty SIM")
    first = assistant.say(sender, "yes")
    assert not any(b.get("payload") == "/request_human" for m in first
                   for b in m.get("buttons", []))
    assert "Shall I file it?" in texts(
        assistant, sender, "another complaint: your store staff never called me back as promised")
    second = assistant.say(sender, "yes")
    said = "\n".join(m.get("text", "") for m in second)
    assert "complaint number 2" in said and "passing you to one of our agents" in said
    assert queue.record(assistant.redis(), sender).reason == "repeated_complaint"
    assert queue.cancel(assistant.redis(), sender)
