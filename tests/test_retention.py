"""Retention: Rasa's trackers expire after TRACKER_TTL_DAYS without a message (on the running
stack), and contact records past CONTACT_RETENTION_DAYS are anonymised by an hourly, leased
sweep (on SQLite and PostgreSQL) without changing what reports count."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from contacts import retention, service
from contacts.models import ChannelIdentity, Contact, ContactOperation, ContactTouch, Customer
from handoff import worker
from operations.reports import build_report
from switchboard.redis_client import redis_client
from switchboard.settings import Settings

NOW = datetime(2026, 11, 26, 12, 0)
OLD = NOW - timedelta(days=800)  # past the default 730 days
RECENT = NOW - timedelta(days=10)
MSISDN = "447700900777"


# --- Trackers in Redis ---

def test_ttl_reaches_rasa_as_whole_seconds():
    assert Settings.from_env({}).rasa_endpoint_env()["TRACKER_TTL_SECONDS"] == "259200"
    env = Settings.from_env({"TRACKER_TTL_DAYS": "0.5"}).rasa_endpoint_env()
    assert env["TRACKER_TTL_SECONDS"] == "43200"


def test_a_tracker_expires_after_days_without_a_message_and_each_message_renews_it(
        assistant, sender):
    client = assistant.redis()
    ttl = assistant.settings.tracker_ttl_days * 86400
    assistant.say(sender, "hi")
    key = _tracker_key(client, sender)
    assert ttl - 120 < client.ttl(key) <= ttl
    client.expire(key, 100)  # as if the last message were almost TRACKER_TTL_DAYS ago
    assistant.say(sender, "what roaming options do you have?")
    assert ttl - 120 < client.ttl(key) <= ttl


def _tracker_key(client, sender: str) -> str:
    """The conversation's tracker key, whatever namespace the channel gave its id."""
    bare = sender.removeprefix("rest:")
    [key] = [k for k in client.scan_iter("switchboard:tracker:*", count=1000)
             if k.endswith(f":{bare}")]
    return key


# --- Contact records ---

@pytest.fixture
def settings(redis_settings, db) -> Settings:
    """This database, and a Redis database of these tests' own (emptied) on the test server."""
    url = redis_settings.effective_redis_url.rsplit("/", 1)[0] + "/4"
    settings = dataclasses.replace(redis_settings, redis_url=url, database_url=db.url)
    redis_client(settings).flushdb()
    return settings


@pytest.fixture
def redis_client_(settings):
    return redis_client(settings)


def _contact(session, channel: str, sender: str, at: datetime, turns, operations=(),
             customer=None) -> int:
    """A completed contact: ``turns`` of (direction, text, intent), ``operations`` of
    (category, result, detail, reference)."""
    if customer is not None:
        service.link_identity(session, channel, sender, customer)
    contact = service.begin_contact(session, channel=channel, external_id=sender, at=at)
    for n, (direction, text, intent) in enumerate(turns, start=1):
        service.touch_contact(session, contact, direction=direction,
                              author="customer" if direction == "in" else "bot", text=text,
                              at=at + timedelta(seconds=n), intent=intent,
                              confidence=0.9 if intent else None,
                              key=f"{direction}:{sender}:{at:%Y%m%d%H%M}:{n}")
    for n, (category, result, detail, reference) in enumerate(operations, start=1):
        service.record_operation(session, contact, category=category, result=result,
                                 detail=detail, reference=reference,
                                 at=at + timedelta(seconds=30 + n), key=f"op:{sender}:{at}:{n}")
    service.complete_contact(session, contact, disposition="customer_goodbye",
                             at=at + timedelta(minutes=5))
    return contact.id


def _old_and_recent_contacts(db) -> dict[str, int]:
    with db.transaction() as session:
        grace = service.upsert_customer(session, MSISDN, name="Grace Mwangi", plan="go_30")
        sms = f"sms:{MSISDN}"
        return {
            "old": _contact(session, "sms", sms, OLD, [
                ("in", "my number is 07700 900777 and I have no signal in LS6 2AB",
                 "network_issue"),
                ("out", "Sorry Grace, I've filed complaint CMP-2024-000001.", None),
                ("in", "blorp zzkx", "nlu_fallback")], [
                ("complaint_filed", "success", "", "CMP-2024-000001"),
                ("handoff_requested", "success", "billing_dispute", "billing"),
                ("billing_dispute", "refused", "line 447700900777 is suspended", None)],
                customer=grace),
            "old_again": _contact(session, "sms", sms, OLD + timedelta(days=2),
                                  [("in", "still no signal at home", "network_issue")]),
            "visitor": _contact(session, "rest", "rest:old-visitor", OLD + timedelta(hours=3),
                                [("in", "do you cover Leeds", "faq/coverage")]),
            "recent": _contact(session, "sms", sms, RECENT,
                               [("in", "what's my balance", "check_balance")]),
        }


def _report(db) -> dict:
    with db.reading() as session:
        report = build_report(session, OLD - timedelta(days=1), OLD + timedelta(days=5))
        return report.to_dict()


def test_old_contacts_are_anonymised_recent_ones_kept_and_reports_count_the_same(
        db, redis_client_):
    ids = _old_and_recent_contacts(db)
    before = _report(db)
    assert before["top_fallback_texts"]  # what the NLU missed is readable before

    done = retention.sweep(db, redis_client_, 730, now=NOW)

    assert (done.contacts, done.touches, done.identities, done.customers) == (3, 5, 1, 0)
    with db.reading() as session:
        old = session.get(Contact, ids["old"])
        assert old.customer_id is None and old.begin_key is None
        assert old.sender_id.startswith(retention.PSEUDONYM_PREFIX)
        pseudonym = session.get(ChannelIdentity, old.identity_id)
        assert (pseudonym.channel, pseudonym.external_id) == ("other", old.sender_id)
        assert (old.channel, old.disposition, old.started_at) == ("sms", "customer_goodbye", OLD)
        touches = _touches(session, ids["old"])
        assert [(t.text, t.key, t.intent) for t in touches] == [
            ("", None, "network_issue"), ("", None, None), ("", None, "nlu_fallback")]
        assert [(o.category, o.result, o.detail, o.reference)
                for o in _operations(session, ids["old"])] == [
            ("complaint_filed", "success", "", None),
            ("handoff_requested", "success", "billing_dispute", "billing"),  # a skill stays
            ("billing_dispute", "refused", "", None)]
        # One person's contacts of the same sweep share one pseudonym: still one person.
        assert session.get(Contact, ids["old_again"]).sender_id == old.sender_id
        assert _identity(session, "rest:old-visitor") is None  # no contact left on it
        recent = session.get(Contact, ids["recent"])
        assert recent.sender_id == f"sms:{MSISDN}" and recent.customer_id is not None
        assert [t.text for t in _touches(session, ids["recent"])] == ["what's my balance"]
        assert session.scalars(select(Customer.name).where(Customer.msisdn == MSISDN)).one()
    after = _report(db)
    assert after["top_fallback_texts"] == []
    assert {**after, "top_fallback_texts": []} == {**before, "top_fallback_texts": []}
    assert after["contacts"] == 3 and after["unique_customers"] == 2
    assert retention.sweep(db, redis_client_, 730, now=NOW).contacts == 0  # done once


def test_a_customer_whose_every_contact_aged_out_is_forgotten(db, redis_client_):
    with db.transaction() as session:
        customer = service.upsert_customer(session, MSISDN, name="Grace Mwangi")
        _contact(session, "telegram", "telegram:5550001", OLD, [("in", "hello", "greet")],
                 customer=customer)
    done = retention.sweep(db, redis_client_, 730, now=NOW)
    assert (done.contacts, done.identities, done.customers) == (1, 1, 1)
    with db.reading() as session:
        assert service.find_customer(session, MSISDN) is None
        assert _identity(session, "telegram:5550001") is None
        assert session.scalars(select(Contact.channel)).all() == ["telegram"]  # still counted


def test_a_sweep_resumes_where_a_capped_one_stopped(db, redis_client_, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    with db.transaction() as session:
        for n in range(5):
            _contact(session, "rest", f"rest:visitor-{n}", OLD + timedelta(minutes=n),
                     [("in", f"hello {n}", "greet")])
    assert retention.sweep(db, redis_client_, 730, now=NOW, max_batches=2).contacts == 4
    assert retention.sweep(db, redis_client_, 730, now=NOW, max_batches=2).contacts == 1
    redis_client_.delete(retention.WATERMARK_KEY)  # lapsed: the whole walk finds nothing new
    assert retention.sweep(db, redis_client_, 730, now=NOW).contacts == 0
    with db.reading() as session:
        assert set(session.scalars(select(ContactTouch.text))) == {""}


def test_the_lease_makes_a_concurrent_second_sweep_a_no_op(db, settings, redis_client_):
    with db.transaction() as session:
        _contact(session, "rest", "rest:old-visitor", OLD, [("in", "hello", "greet")])
    start, results = threading.Barrier(2), []

    def sweeper() -> None:
        start.wait()
        results.append(retention.run_if_due(settings, now=NOW))

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.contacts if r else -1 for r in results) == [-1, 1]
    assert retention.run_if_due(settings, now=NOW) is None  # not again within the hour
    assert 3500 < redis_client_.ttl(retention.LEASE_KEY) <= retention.INTERVAL_SECONDS


def test_the_queue_clock_runs_the_retention_sweep(db, settings):
    with db.transaction() as session:
        contact_id = _contact(session, "rest", "rest:old-visitor", OLD,
                              [("in", "hello", "greet")])
    assert asyncio.run(worker.sweep(settings, now=NOW.timestamp()))["anonymised"] == 1
    assert asyncio.run(worker.sweep(settings, now=NOW.timestamp()))["anonymised"] == 0
    with db.reading() as session:
        assert _touches(session, contact_id)[0].text == ""


def _touches(session, contact_id: int) -> list[ContactTouch]:
    return list(session.scalars(select(ContactTouch).where(ContactTouch.contact_id == contact_id)
                                .order_by(ContactTouch.id)))


def _operations(session, contact_id: int) -> list[ContactOperation]:
    return list(session.scalars(select(ContactOperation)
                                .where(ContactOperation.contact_id == contact_id)
                                .order_by(ContactOperation.id)))


def _identity(session, external_id: str) -> ChannelIdentity | None:
    return session.scalars(select(ChannelIdentity)
                           .where(ChannelIdentity.external_id == external_id)).first()
