"""``switchboard customers erase <number>``: one customer's data goes from the database and from
Redis, run as an operator runs it; other customers keep theirs; the erasure is recorded without
the number; erasing again is harmless."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from accounts.complaints import NewComplaint, file_complaint
from accounts.demo import DemoSubscriber, add_subscriber
from accounts.models import Complaint
from contacts import erasure, events, service
from contacts.models import ChannelIdentity, Contact, ContactTouch, Customer, Erasure
from handoff import queue
from switchboard.db import Database
from switchboard.redis_client import redis_client
from switchboard.settings import PROJECT_ROOT, Settings
from tests.helpers import fresh_msisdn
from tests.test_retention import _tracker_key
from tests.test_self_service import local, texts, verify_by_password
from verification import attempts, codes

REFERENCE = re.compile(r"ER\d{6}-[0-9A-F]{6}")


def erase_cli(settings: Settings, *args: str, answer: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "processes", "customers", "erase", *args],
                          env=env, cwd=PROJECT_ROOT, input=answer, capture_output=True,
                          text=True, timeout=120)


def spaced(msisdn: str) -> tuple[str, str]:
    """07700 900123 as an operator types it: two words."""
    return local(msisdn)[:5], local(msisdn)[5:]


# --- On the running stack ---

@pytest.fixture
def stack_db(assistant) -> Database:
    return Database(assistant.settings.database_url)


@pytest.fixture
def subscriber(stack_db) -> DemoSubscriber:
    """A subscriber of this test's own, with a service password to verify with."""
    sub = DemoSubscriber(fresh_msisdn(), "Grace Mwangi", "go_30",
                         "482913", "61728394", 1800, 12_300, False)
    with stack_db.transaction() as session:
        add_subscriber(session, sub)
    return sub


def test_erase_removes_a_verified_customers_data_from_database_and_redis(
        assistant, sender, subscriber, stack_db):
    msisdn, client = subscriber.msisdn, assistant.redis()
    bystander = sender + "-bystander"  # its id contains the erased one: it must stay
    assistant.say(bystander, "what roaming options do you have?")
    verify_by_password(assistant, sender, subscriber, "I have no signal at home")  # described
    texts(assistant, sender, "Leeds LS6 2AB")
    texts(assistant, sender, "since last Tuesday")  # the summary: filed once confirmed
    complaint = re.search(r"CMP-\d{4}-\d{6}", texts(assistant, sender, "yes"))[0]
    assistant.wait_recorded()
    conversation, contact_ids = _conversation_of(stack_db, msisdn)
    _texted_before_verifying(stack_db, msisdn)
    _waiting_in_the_queue(client, conversation, msisdn)
    codes.issue_code(client, "test-secret", msisdn)
    attempts.record_failure(client, msisdn, time.time(), "attempt-1")
    bystander_key = _tracker_key(client, bystander)

    result = erase_cli(assistant.settings, *spaced(msisdn), "--yes")

    assert result.returncode == 0, result.stderr
    reference = REFERENCE.search(result.stdout)[0]
    with stack_db.reading() as session:
        assert service.find_customer(session, msisdn) is None
        assert _identities_of(session, conversation, msisdn) == []
        erased = session.scalars(select(Contact).where(Contact.id.in_(contact_ids))).all()
        assert len(erased) == len(contact_ids)  # still counted by reports
        assert all(c.customer_id is None and c.sender_id.startswith("anonymised:")
                   for c in erased)
        assert set(session.scalars(select(ContactTouch.text).where(
            ContactTouch.contact_id.in_(contact_ids)))) == {""}
        row = session.scalars(select(Complaint).where(Complaint.reference == complaint)).one()
        assert (row.description, row.location, row.since, row.contact_reference) == (
            "", None, None, None)
        assert (row.category, row.status) == ("network", "open")
        record = session.scalars(select(Erasure).where(Erasure.reference == reference)).one()
        assert _nothing_identifying_in(record, msisdn)
        assert (record.contacts, record.customers, record.complaints) == (
            len(contact_ids) + 1, 1, 1)
        assert record.identities == 2 and record.redis_records >= 6
    keys = list(client.scan_iter("switchboard:*", count=1000))
    assert [k for k in keys if msisdn in k or (conversation in k and bystander not in k)] == []
    assert queue.owner(client, conversation) == "bot"
    assert conversation not in queue.waiting(client, "complaints")
    assert [e for _, e in client.xrange(queue.EVENTS) if e.get("sender_id") == conversation] == []
    _still_intact(assistant, bystander, bystander_key)

    again = erase_cli(assistant.settings, "+" + msisdn, "--yes")
    assert again.returncode == 0, again.stderr
    assert "0 contacts anonymised" in again.stdout
    _still_intact(assistant, bystander, bystander_key)


def _conversation_of(db, msisdn: str) -> tuple[str, list[int]]:
    """The verified conversation's id as the contact record holds it, and its contacts."""
    with db.reading() as session:
        rows = session.execute(select(Contact.id, Contact.sender_id).join(Customer).where(
            Customer.msisdn == msisdn)).all()
    [conversation] = {sender for _, sender in rows}
    return conversation, [contact_id for contact_id, _ in rows]


def _texted_before_verifying(db, msisdn: str) -> None:
    """The number once texted us and never verified there: an identity not linked to them."""
    with db.transaction() as session:
        contact = service.begin_contact(session, channel="sms", external_id=f"sms:{msisdn}")
        service.touch_contact(session, contact, direction="in", author="customer",
                              text="hi it's Grace, is my bill ready?")


def _waiting_in_the_queue(client, conversation: str, msisdn: str) -> None:
    queue.enqueue(client, queue.Handoff(
        conversation, "rest", "complaints", "complaint", customer_msisdn=msisdn, verified=True,
        transcript=[{"author": "customer", "text": "no signal in Leeds LS6 2AB"}]))
    assert queue.owner(client, conversation) == "queued"


def _identities_of(session, conversation: str, msisdn: str) -> list[ChannelIdentity]:
    return list(session.scalars(select(ChannelIdentity).where(
        ChannelIdentity.external_id.in_([conversation, f"sms:{msisdn}"]))))


def _nothing_identifying_in(record: Erasure, msisdn: str) -> bool:
    values = " ".join(str(getattr(record, column.name)) for column in Erasure.__table__.columns)
    return msisdn[2:] not in values  # neither 4477... nor 077...


def _still_intact(assistant, conversation: str, tracker_key: str) -> None:
    assert assistant.redis().exists(tracker_key)
    [contact] = assistant.contacts(conversation)
    assert "roaming" in contact["touches"][0]["text"]


# --- The command itself, on SQLite and PostgreSQL ---

@pytest.fixture
def settings(redis_settings, db, tmp_path) -> Settings:
    """This database, and a Redis database of these tests' own (emptied) on the test server."""
    url = redis_settings.effective_redis_url.rsplit("/", 1)[0] + "/5"
    settings = dataclasses.replace(redis_settings, redis_url=url, database_url=db.url,
                                   data_dir=tmp_path)
    redis_client(settings).flushdb()
    return settings


def test_erase_asks_first_and_erases_only_when_told(db, settings):
    msisdn = "447700900555"
    with db.transaction() as session:
        customer = service.upsert_customer(session, msisdn, name="Ola Nowak")
        service.link_identity(session, "telegram", "telegram:8080", customer)
        contact = service.begin_contact(session, channel="telegram", external_id="telegram:8080")
        service.touch_contact(session, contact, direction="in", author="customer",
                              text="I live at 4 Park Row")
    file_complaint(db, NewComplaint(msisdn, "network", "no 4G at home", location="LS1 4DY"))
    client = redis_client(settings)
    client.set("switchboard:tracker:telegram:8080", "{}")

    refused = erase_cli(settings, "07700900555", answer="n\n")
    assert refused.returncode == 1 and "Nothing erased" in refused.stdout
    assert "1 contact, 1 channel identity, a customer record, 1 complaint" in refused.stdout
    assert client.exists("switchboard:tracker:telegram:8080")
    with db.reading() as session:
        assert service.find_customer(session, msisdn) is not None

    done = erase_cli(settings, "+447700900555", answer="y\n")
    assert done.returncode == 0, done.stderr
    assert "1 contact anonymised (1 message emptied)" in done.stdout
    assert not client.exists("switchboard:tracker:telegram:8080")
    with db.reading() as session:
        assert service.find_customer(session, msisdn) is None
        assert session.scalar(select(ContactTouch.text)) == ""
        assert session.scalar(select(Complaint.description).where(
            Complaint.msisdn == msisdn)) == ""
    _forget_complaints(db, msisdn)


def test_a_number_that_is_not_one_is_refused(db, settings):
    before = _erasures(db)
    result = erase_cli(settings, "12345", "--yes")
    assert result.returncode == 2 and "not a UK mobile number" in result.stderr
    assert _erasures(db) == before


def test_erasure_waits_for_the_contact_recorder_rather_than_racing_it(db, settings,
                                                                      monkeypatch):
    client = redis_client(settings)
    events.publish(client, {"event": "user", "sender_id": "sms:447700900556", "text": "hi"})
    subject = erasure.find_subject(db, "447700900556")
    monkeypatch.setattr(erasure, "RECORDER_PATIENCE", 0.2)
    before = _erasures(db)
    with pytest.raises(erasure.ErasureError, match="recorder"):
        erasure.erase(db, client, subject)
    assert _erasures(db) == before and len(events.appended(client)) == 1


def _erasures(db) -> int:
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(Erasure))


def _forget_complaints(db, msisdn: str) -> None:
    with db.transaction() as session:
        for row in session.scalars(select(Complaint).where(Complaint.msisdn == msisdn)):
            session.delete(row)
