"""The contact service's operations against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contacts import service
from contacts.service import ContactError, ContactFilter, ContactNotFound

T0 = datetime(2026, 10, 1, 9, 0, 0)


def begin(session, sender="s1", channel="rest", at=T0, external_id=None):
    return service.begin_contact(session, channel=channel, external_id=external_id or sender,
                                 sender_id=sender, at=at)


def test_begin_touch_complete_and_detail_in_order(db):
    with db.transaction() as session:
        contact = begin(session)
        service.touch_contact(session, contact, direction="in", author="customer", text="hi",
                              intent="greet", confidence=0.97, at=T0, key="k1")
        service.touch_contact(session, contact, direction="out", author="bot", text="Hello!",
                              at=T0 + timedelta(seconds=1), key="k2")
        service.record_operation(session, contact, category="balance_query", result="success",
                                 at=T0 + timedelta(seconds=2))
        service.complete_contact(session, contact, disposition="customer_goodbye",
                                 at=T0 + timedelta(seconds=3), csat=5)
        reference = contact.reference
    with db.reading() as session:
        detail = service.contact_detail(session, reference)
    assert [(t.author, t.text, t.intent) for t in detail.touches] == [
        ("customer", "hi", "greet"), ("bot", "Hello!", None)]
    assert detail.touches[0].confidence == pytest.approx(0.97)
    assert [(o.category, o.result) for o in detail.operations] == [("balance_query", "success")]
    contact = detail.contact
    assert (contact.status, contact.disposition, contact.csat) == (
        "completed", "customer_goodbye", 5)
    assert contact.started_at == T0 and contact.ended_at == T0 + timedelta(seconds=3)
    assert contact.reference.startswith("CT261001-") and len(contact.reference) == 15


def test_a_repeated_touch_key_is_stored_once(db):
    with db.transaction() as session:
        contact = begin(session)
        first = service.touch_contact(session, contact, direction="in", author="customer",
                                      text="hello", key="rest:s1:m1")
        again = service.touch_contact(session, contact, direction="in", author="customer",
                                      text="hello", key="rest:s1:m1")
        op = service.record_operation(session, contact, category="plan_query", result="success",
                                      key="op-1")
        op_again = service.record_operation(session, contact, category="plan_query",
                                            result="success", key="op-1")
        reference = contact.reference
    assert first is not None and again is None and op is not None and op_again is None
    with db.reading() as session:
        detail = service.contact_detail(session, reference)
    assert len(detail.touches) == 1 and len(detail.operations) == 1


def test_completing_twice_keeps_the_first_ending(db):
    with db.transaction() as session:
        contact = begin(session)
        service.complete_contact(session, contact, disposition="customer_goodbye", at=T0)
        service.complete_contact(session, contact, disposition="inactivity_timeout",
                                 at=T0 + timedelta(hours=1))
        assert contact.disposition == "customer_goodbye" and contact.ended_at == T0


def test_secrets_are_masked_in_stored_touches(db):
    with db.transaction() as session:
        contact = begin(session)
        service.touch_contact(session, contact, direction="in", author="customer",
                              text="my password is 482913")
        service.expect_secret(session, contact)
        service.touch_contact(session, contact, direction="in", author="customer",
                              text="it's 7 3 9 1 2 0")  # masked because it was asked for
        service.touch_contact(session, contact, direction="in", author="customer",
                              text="the code 555123 didn't work",
                              entities=[{"entity": "otp_code", "start": 9, "end": 15}])
        service.touch_contact(session, contact, direction="in", author="customer",
                              text="what is my bill for 0712345678")
        reference = contact.reference
    with db.reading() as session:
        texts = [t.text for t in service.contact_detail(session, reference).touches]
    assert texts == ["my password is [redacted]", "[redacted]", "the code [redacted] didn't work",
                     "what is my bill for 0712345678"]
    assert not any(secret in " ".join(texts) for secret in ("482913", "7 3 9 1 2 0", "555123"))


def test_unknown_configuration_values_are_refused_with_the_known_ones(db):
    with db.transaction() as session, pytest.raises(ContactError, match="configured: .*telegram"):
        begin(session, channel="pigeon")
    with db.transaction() as session:
        contact = begin(session)
        with pytest.raises(ContactError, match="operation category"):
            service.record_operation(session, contact, category="nonsense", result="success")
        with pytest.raises(ContactError, match="direction"):
            service.touch_contact(session, contact, direction="sideways", author="bot", text="x")
        with pytest.raises(ContactError, match="csat"):
            service.complete_contact(session, contact, disposition="agent_closed", csat=9)


def test_query_filters_and_pages_newest_first(db):
    with db.transaction() as session:
        customer = service.upsert_customer(session, "254700000001", name="Amina")
        service.link_identity(session, "sms", "254700000001", customer)
        for day in range(7):
            contact = begin(session, sender=f"q{day}", channel="sms" if day % 2 else "telegram",
                            at=T0 + timedelta(days=day), external_id="254700000001"
                            if day % 2 else f"tg{day}")
            if day == 3:
                service.set_agent(session, contact, "agent-7")
            if day < 2:
                service.complete_contact(session, contact, disposition="customer_goodbye")
    with db.reading() as session:
        everything = service.query_contacts(session, page_size=3)
        assert everything.total == 7 and everything.pages == 3
        assert [c.sender_id for c in everything.items] == ["q6", "q5", "q4"]
        last = service.query_contacts(session, page=3, page_size=3)
        assert [c.sender_id for c in last.items] == ["q0"]
        sms = service.query_contacts(session, ContactFilter(channel="sms"))
        assert sorted(c.sender_id for c in sms.items) == ["q1", "q3", "q5"]
        mine = service.query_contacts(session, ContactFilter(customer_msisdn="254700000001"))
        assert mine.total == 3
        period = service.query_contacts(session, ContactFilter(
            since=T0 + timedelta(days=2), until=T0 + timedelta(days=4)))
        assert sorted(c.sender_id for c in period.items) == ["q2", "q3"]
        assert [c.sender_id for c in service.query_contacts(
            session, ContactFilter(agent_id="agent-7")).items] == ["q3"]
        completed = service.query_contacts(session, ContactFilter(status="completed"))
        assert sorted(c.sender_id for c in completed.items) == ["q0", "q1"]
        assert service.query_contacts(session, ContactFilter(customer_msisdn="999")).total == 0
        with pytest.raises(ContactError):
            service.query_contacts(session, page=0)
        with pytest.raises(ContactError):
            service.query_contacts(session, ContactFilter(status="sleeping"))


def test_two_month_history_unifies_channels_newest_first_with_counts(db):
    now = datetime(2026, 11, 20, 12, 0)
    with db.transaction() as session:
        customer = service.upsert_customer(session, "254711111111", name="Baraka", plan="Flex 10")
        old = begin(session, sender="tg-old", channel="telegram", external_id="tg-42",
                    at=now - timedelta(days=75))  # older than two months
        recent_tg = begin(session, sender="tg-1", channel="telegram", external_id="tg-42",
                          at=now - timedelta(days=20))
        service.touch_contact(session, recent_tg, direction="in", author="customer", text="hi",
                              intent="greet")
        service.touch_contact(session, recent_tg, direction="in", author="customer",
                              text="roaming?", intent="faq/roaming")
        sms = begin(session, sender="254711111111", channel="sms", at=now - timedelta(days=3))
        # Verification on each channel links both identities to the customer: one history.
        service.link_identity(session, "telegram", "tg-42", customer)
        service.link_identity(session, "sms", "254711111111", customer)
        other = begin(session, sender="someone-else", channel="sms", at=now - timedelta(days=1))
        refs = {c.sender_id: c.reference for c in (old, recent_tg, sms, other)}
    with db.reading() as session:
        history = service.recent_contacts(session, "254711111111", now=now)
        assert [s.contact.reference for s in history.contacts] == [refs["254711111111"],
                                                                    refs["tg-1"]]
        assert history.counts_by_channel == {"sms": 1, "telegram": 1} and history.total == 2
        assert history.contacts[1].topic == "faq/roaming"
        assert history.customer.name == "Baraka"
        with pytest.raises(ContactNotFound):
            service.recent_contacts(session, "000", now=now)


def test_configuration_is_data_seeded_by_the_migration(db):
    with db.reading() as session:
        config = service.contact_configuration(session)
    assert {"rest", "webchat", "telegram", "sms", "whatsapp"} <= {c["code"] for c in
                                                                   config["channels"]}
    assert {"inbound", "outbound"} <= {m["code"] for m in config["interaction_modes"]}
    assert {"balance_query", "plan_change", "complaint_filed", "identity_verification"} <= {
        c["code"] for c in config["operation_categories"]}
    assert "inactivity_timeout" in {d["code"] for d in config["disposition_codes"]}
    assert all(row["name"] for rows in config.values() for row in rows)


def test_unknown_contact_reference_is_not_found(db):
    with db.reading() as session, pytest.raises(ContactNotFound, match="CT000000-XXXXXX"):
        service.contact_detail(session, "CT000000-XXXXXX")


def test_agent_touch_marks_the_contact_handled_by_both(db):
    with db.transaction() as session:
        contact = begin(session)
        service.touch_contact(session, contact, direction="out", author="bot", text="Hi")
        service.set_agent(session, contact, "agent-1")
        service.touch_contact(session, contact, direction="out", author="agent", text="Hello")
        assert (contact.handled_by, contact.status, contact.agent_id) == (
            "both", "with_agent", "agent-1")
