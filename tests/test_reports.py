"""Service reports against a generated contact history whose every number is worked out by hand.

The period is Monday 2026-03-02 00:00 to Monday 2026-03-09 00:00 (UTC). In it, nine contacts:

  C1  Ada, telegram, Mon 09:00   bot only, completed, CSAT 5
  C2  Ben, sms,      Mon 09:30   queued, picked up after 60 s, returned to the bot after 300 s,
                                 then completed by the bot, CSAT 4 (the double-count case)
  C3  anon webchat,  Tue 14:10   two fallbacks, queued, left the queue (abandoned)
  C4  anon rest,     Wed 20:05   nobody available: callback offered (pending), completed
  C5  Ben, telegram, Thu 11:00   queued, expired after 10 min, completed by timeout
  C6  anon sms,      Fri 16:00   queued, picked up after 150 s, closed by the agent after 600 s,
                                 CSAT 2
  C10 anon rest,     Sat 03:15   bot only, completed
  C11 anon telegram, Sat 10:00   queued, picked up after 30 s, still with the agent (open)
  C7  Ada, webchat,  Sun 22:30   queued, picked up after 10 s, transferred after 120 s, the second
                                 agent never releases it: closed 420 s later, CSAT 5

and outside it: C0 (Ada, started one second before the period, CSAT 1), C12 (started exactly
at ``until``, CSAT 1), C9 (Ada, Tue 03-10: 1 day after C7) and C8 (Ben, 03-13: 8 days after C5).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import struct
from datetime import datetime, timedelta

import pytest

from contacts import service
from operations import charts, reports
from operations.report_cli import add_commands
from operations.reports import ContactFacts, Operation, Ratio, WaitStats, build_report
from switchboard import migrate
from switchboard.db import Database
from switchboard.services import Services
from switchboard.settings import load_settings

SINCE = datetime(2026, 3, 2)
UNTIL = datetime(2026, 3, 9)


def t(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second)


# --- The generated history -----------------------------------------------------------------

class History:
    """Writes contacts through the contact service, the way the recorder does."""

    def __init__(self, session) -> None:
        self.session = session

    def begin(self, channel: str, external_id: str, at: datetime):
        return service.begin_contact(self.session, channel=channel, external_id=external_id,
                                     at=at)

    def say(self, contact, text: str, intent: str | None, at: datetime) -> None:
        service.touch_contact(self.session, contact, direction="in", author="customer",
                              text=text, intent=intent, confidence=0.9, at=at)

    def reply(self, contact, text: str, at: datetime, author: str = "bot") -> None:
        service.touch_contact(self.session, contact, direction="out", author=author, text=text,
                              at=at)

    def op(self, contact, category: str, result: str, detail: str, at: datetime,
           reference: str | None = None) -> None:
        service.record_operation(self.session, contact, category=category, result=result,
                                 detail=detail, at=at, reference=reference)

    def pickup(self, contact, agent: str, at: datetime, skill: str | None = None) -> None:
        self.op(contact, "agent_pickup", "success", agent, at, reference=skill)
        service.set_agent(self.session, contact, agent)

    def release(self, contact, detail: str, at: datetime) -> None:
        self.op(contact, "agent_release", "success", detail, at)

    def end(self, contact, disposition: str, at: datetime, **kwargs) -> None:
        service.complete_contact(self.session, contact, disposition=disposition, at=at, **kwargs)


def build_history(db: Database) -> None:
    with db.transaction() as session:
        h = History(session)
        ada = service.upsert_customer(session, "447700900001", name="Ada")
        ben = service.upsert_customer(session, "447700900002", name="Ben")
        for channel, external_id, customer in (("telegram", "tg-ada", ada),
                                               ("webchat", "web-ada", ada),
                                               ("sms", "sms-ben", ben),
                                               ("telegram", "tg-ben", ben)):
            service.link_identity(session, channel, external_id, customer)

        c0 = h.begin("telegram", "tg-ada", datetime(2026, 3, 1, 23, 59, 59))
        h.say(c0, "balance please", "check_balance", datetime(2026, 3, 1, 23, 59, 59))
        h.op(c0, "handoff_requested", "success", "requested", t(2, 0, 0, 30))
        h.pickup(c0, "ana", t(2, 0, 1))
        h.release(c0, "ana: closed agent_closed", t(2, 0, 3))
        h.end(c0, "agent_closed", t(2, 0, 3), csat=1)

        c1 = h.begin("telegram", "tg-ada", t(2, 9, 0))
        h.say(c1, "what is my balance", "check_balance", t(2, 9, 0))
        h.reply(c1, "Your balance is ...", t(2, 9, 0, 5))
        h.end(c1, "customer_goodbye", t(2, 9, 2), csat=5)

        c2 = h.begin("sms", "sms-ben", t(2, 9, 30))
        h.say(c2, "I want a human", "request_human", t(2, 9, 30))
        h.op(c2, "handoff_requested", "success", "requested", t(2, 9, 31))
        h.pickup(c2, "ana", t(2, 9, 32))
        h.reply(c2, "Hi, Ana here", t(2, 9, 33), author="agent")
        h.release(c2, "ana: returned", t(2, 9, 37))
        service.set_agent(session, c2, None)
        h.say(c2, "and my balance?", "check_balance", t(2, 9, 38))
        h.end(c2, "customer_goodbye", t(2, 9, 40), csat=4)

        c3 = h.begin("webchat", "web-c", t(3, 14, 10))
        h.say(c3, "asdf qwerty", "nlu_fallback", t(3, 14, 10))
        h.say(c3, "ASDF qwerty ", "nlu_fallback", t(3, 14, 11))
        h.op(c3, "handoff_requested", "success", "repeated_fallback", t(3, 14, 12))
        h.end(c3, "queue_abandoned", t(3, 14, 20), status="abandoned")

        c4 = h.begin("rest", "rest-d", t(4, 20, 5))
        h.say(c4, "talk to a person", "request_human", t(4, 20, 5))
        h.op(c4, "handoff_requested", "pending", "requested", t(4, 20, 6))
        h.op(c4, "callback_request", "pending", "general: requested", t(4, 20, 7))
        h.end(c4, "callback_requested", t(4, 20, 7))

        c5 = h.begin("telegram", "tg-ben", t(5, 11, 0))
        h.say(c5, "this charge is wrong", "dispute_charge", t(5, 11, 0))
        h.op(c5, "handoff_requested", "success", "billing_dispute", t(5, 11, 1))
        h.op(c5, "handoff_requested", "failure", "expired", t(5, 11, 11))
        h.end(c5, "inactivity_timeout", t(5, 11, 30))

        c6 = h.begin("sms", "sms-f", t(6, 16, 0))
        h.say(c6, "I complained twice already", "complaint", t(6, 16, 0))
        h.op(c6, "handoff_requested", "success", "repeated_complaint", t(6, 16, 2))
        h.pickup(c6, "ben", t(6, 16, 4, 30))
        h.reply(c6, "Sorry about that", t(6, 16, 5), author="agent")
        h.op(c6, "agent_note", "success", "promised a refund", t(6, 16, 10))
        h.release(c6, "ben: closed agent_closed", t(6, 16, 14, 30))
        h.end(c6, "agent_closed", t(6, 16, 14, 30), csat=2)

        c10 = h.begin("rest", "rest-e", t(7, 3, 15))
        h.say(c10, "hello", "greet", t(7, 3, 15))
        h.say(c10, "buy a data bundle", "buy_bundle", t(7, 3, 16))
        h.end(c10, "customer_goodbye", t(7, 3, 20))

        c11 = h.begin("telegram", "tg-g", t(7, 10, 0))
        h.say(c11, "my internet is down", "report_outage", t(7, 10, 0))
        h.say(c11, "[image]", None, t(7, 10, 0, 30))
        h.op(c11, "handoff_requested", "success", "bot_failure", t(7, 10, 1))
        h.pickup(c11, "ana", t(7, 10, 1, 30))
        h.reply(c11, "Let me check", t(7, 10, 2), author="agent")

        c7 = h.begin("webchat", "web-ada", t(8, 22, 30))
        h.say(c7, "roaming charges", "faq/roaming", t(8, 22, 30))
        h.say(c7, "  asdf QWERTY", "nlu_fallback", t(8, 22, 30, 20))
        h.say(c7, "Where is my parcel?", "nlu_fallback", t(8, 22, 30, 40))
        h.op(c7, "handoff_requested", "success", "verification_lockout", t(8, 22, 31))
        h.pickup(c7, "ana", t(8, 22, 31, 10))
        h.release(c7, "ana: transferred to cy", t(8, 22, 33, 10))
        h.pickup(c7, "cy", t(8, 22, 33, 10))
        h.reply(c7, "Cy here", t(8, 22, 35), author="agent")
        h.end(c7, "agent_closed", t(8, 22, 40, 10))
        service.rate_contact(session, c7, 5)

        c12 = h.begin("webchat", "web-h", UNTIL)
        h.say(c12, "hi", "greet", UNTIL)
        h.op(c12, "handoff_requested", "success", "requested", t(9, 0, 1))
        h.end(c12, "queue_abandoned", t(9, 0, 5), status="abandoned", csat=1)

        c9 = h.begin("webchat", "web-ada", t(10, 8, 0))
        h.say(c9, "hi again", "greet", t(10, 8, 0))
        h.end(c9, "customer_goodbye", t(10, 8, 5))

        c8 = h.begin("telegram", "tg-ben", t(13, 12, 0))
        h.say(c8, "hello", "greet", t(13, 12, 0))
        h.end(c8, "customer_goodbye", t(13, 12, 5))


@pytest.fixture
def history(db: Database) -> Database:
    build_history(db)
    return db


def report_of(db: Database, channel: str | None = None):
    with db.reading() as session:
        return build_report(session, SINCE, UNTIL, channel)


# --- Every metric, all channels ------------------------------------------------------------

def test_counts_people_and_final_owners(history):
    report = report_of(history)
    assert report.contacts == 9  # C1 C2 C3 C4 C5 C6 C7 C10 C11; not C0, C12 (== until), C8, C9
    # Ada (C1, C7) + Ben (C2, C5) + anonymous identities web-c, rest-d, sms-f, rest-e, tg-g = 7
    assert report.unique_customers == 7
    # agent: C2 (handed back, finished by the bot: still agent, once), C6, C7, C11 = 4
    # bot: C1 C3 C4 C5 C10 = 5; 5 + 4 = 9 contacts, nobody counted twice
    assert report.contacts_by_owner == {"bot": 5, "agent": 4}
    # completed: bot C1 C4 C5 C10 = 4 (C3 abandoned); agent C2 C6 C7 = 3 (C11 still open)
    assert report.completed_by_owner == {"bot": 4, "agent": 3}


def test_containment_and_handoffs(history):
    report = report_of(history)
    # contained: completed, bot owner, no handoff_requested: C1, C10 = 2 of 9
    # (C2 was completed by the bot but had an agent; C4 completed but a callback was offered)
    assert report.containment == Ratio(2, 9)
    assert report.containment.rate == pytest.approx(0.2222, abs=1e-4)
    # handed off (any result): C2 C3 C4 C5 C6 C7 C11 = 7 of 9
    assert report.handoff == Ratio(7, 9)
    # first handoff_requested detail per contact (C5's later "expired" is not a reason)
    assert list(report.handoff_reasons.items()) == [
        ("requested", 2), ("billing_dispute", 1), ("bot_failure", 1),
        ("repeated_complaint", 1), ("repeated_fallback", 1), ("verification_lockout", 1)]


def test_queue_speed_of_answer_and_abandonment(history):
    report = report_of(history)
    # queued (success): C2 C3 C5 C6 C7 C11 = 6; nobody took C3 (left) and C5 (expired): 2 of 6
    assert report.queue_abandonment == Ratio(2, 6)
    waits = report.speed_of_answer
    # C2 09:31 -> 09:32 = 60 s; C6 16:02 -> 16:04:30 = 150 s; C11 10:01 -> 10:01:30 = 30 s;
    # C7 22:31 -> 22:31:10 = 10 s (its second pickup is a transfer, not a new answer)
    assert sorted(waits.waits) == [10.0, 30.0, 60.0, 150.0]
    assert waits.average == pytest.approx(62.5)  # (10 + 30 + 60 + 150) / 4 = 250 / 4
    assert waits.percentile(50) == pytest.approx(45.0)  # rank 1.5: 30 + 0.5 * (60 - 30)
    assert waits.percentile(90) == pytest.approx(123.0)  # rank 2.7: 60 + 0.7 * (150 - 60)
    # 60 s is on the 20-60 s bound: it belongs there
    assert waits.buckets == {"0-20 s": 1, "20-60 s": 2, "1-2 min": 0, "2-5 min": 1,
                             "5-10 min": 0, ">10 min": 0}


def test_average_handle_time(history):
    report = report_of(history)
    # C2 09:32 -> 09:37 = 300; C6 16:04:30 -> 16:14:30 = 600; C7 ana 22:31:10 -> 22:33:10 = 120,
    # C7 cy 22:33:10 -> (never released) ended 22:40:10 = 420; C11 still open: ignored
    assert sorted(report.handle_seconds) == [120.0, 300.0, 420.0, 600.0]
    assert report.average_handle_seconds == pytest.approx(360.0)  # 1440 / 4


def test_first_contact_resolution(history):
    report = report_of(history)
    # completed: C1 C2 C4 C5 C6 C7 C10 = 7 (C3 abandoned, C11 open)
    # not resolved: C1 (Ada back with C7 on webchat 6.5 days later), C2 (Ben back with C5 after
    # 3 days), C7 (Ada back with C9 on 03-10, after the period: still counts)
    # resolved: C4, C6, C10 (never back), C5 (Ben's C8 is 8 days later) = 4 of 7
    assert report.first_contact_resolution == Ratio(4, 7)


def test_csat_intents_and_fallbacks(history):
    report = report_of(history)
    # C1 5, C2 4, C6 2, C7 5 (rated after it ended); C0's and C12's 1s are outside the period
    assert report.csat_distribution == {1: 0, 2: 1, 3: 0, 4: 1, 5: 2}
    assert report.csat_average == pytest.approx(4.0)  # (5 + 4 + 2 + 5) / 4 = 16 / 4
    # customer intents; None (C11's image) and nlu_fallback left out; ties by name
    assert report.top_intents == [
        ("check_balance", 2), ("request_human", 2), ("buy_bundle", 1), ("complaint", 1),
        ("dispute_charge", 1), ("faq/roaming", 1), ("greet", 1), ("report_outage", 1)]
    # "asdf qwerty", "ASDF qwerty " (C3) and "  asdf QWERTY" (C7) are one text
    assert report.top_fallback_texts == [("asdf qwerty", 3), ("where is my parcel?", 1)]


def test_volume_by_hour_weekday_and_day(history):
    report = report_of(history)
    expected_hours = [0] * 24
    # starts: C10 03h; C1, C2 09h; C11 10h; C5 11h; C3 14h; C6 16h; C4 20h; C7 22h
    for hour, n in {3: 1, 9: 2, 10: 1, 11: 1, 14: 1, 16: 1, 20: 1, 22: 1}.items():
        expected_hours[hour] = n
    assert report.volume_by_hour == expected_hours
    # Mon C1 C2; Tue C3; Wed C4; Thu C5; Fri C6; Sat C10 C11; Sun C7
    assert report.volume_by_weekday == {"Mon": 2, "Tue": 1, "Wed": 1, "Thu": 1, "Fri": 1,
                                        "Sat": 2, "Sun": 1}
    assert [(d.date.day, d.contacts, d.handed_off) for d in report.daily] == [
        (2, 2, 1), (3, 1, 1), (4, 1, 1), (5, 1, 1), (6, 1, 1), (7, 2, 1), (8, 1, 1)]


def test_channel_filter(history):
    report = report_of(history, "telegram")
    # telegram: C1 (Ada), C5 (Ben), C11 (tg-g); C0 started before the period
    assert (report.contacts, report.unique_customers) == (3, 3)
    assert report.contacts_by_owner == {"bot": 2, "agent": 1}  # C1 C5 | C11
    assert report.completed_by_owner == {"bot": 2, "agent": 0}
    assert report.containment == Ratio(1, 3)  # C1
    assert report.handoff == Ratio(2, 3)  # C5, C11
    assert report.handoff_reasons == {"billing_dispute": 1, "bot_failure": 1}
    assert report.queue_abandonment == Ratio(1, 2)  # C5 expired; C11 answered
    assert report.speed_of_answer.waits == (30.0,)
    assert report.handle_seconds == () and report.average_handle_seconds is None
    # C1 is not resolved: Ada came back on *webchat* (C7); C5 is
    assert report.first_contact_resolution == Ratio(1, 2)
    assert report.csat_distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 1}
    assert report.top_intents == [("check_balance", 1), ("dispute_charge", 1),
                                  ("report_outage", 1)]
    assert report.top_fallback_texts == []
    assert report.volume_by_weekday == {"Mon": 1, "Tue": 0, "Wed": 0, "Thu": 1, "Fri": 0,
                                        "Sat": 1, "Sun": 0}
    assert report.daily[1].contacts == 0 and report.daily[1].handoff_rate is None


def test_to_dict_rounds_and_serialises(history):
    data = report_of(history).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert (data["since"], data["until"], data["channel"]) == (
        "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z", None)
    assert data["final_owner"] == {"bot": {"contacts": 5, "completed": 4},
                                   "agent": {"contacts": 4, "completed": 3}}
    assert data["containment"] == {"count": 2, "total": 9, "rate": 0.2222}  # 2 / 9
    assert data["handoff"] == {"count": 7, "total": 9, "rate": 0.7778}  # 7 / 9
    assert data["queue_abandonment"] == {"count": 2, "total": 6, "rate": 0.3333}  # 2 / 6
    assert data["first_contact_resolution"] == {"count": 4, "total": 7, "rate": 0.5714}  # 4 / 7
    assert data["speed_of_answer"] == {
        "answered": 4, "average_seconds": 62.5, "p50_seconds": 45.0, "p90_seconds": 123.0,
        "buckets": {"0-20 s": 1, "20-60 s": 2, "1-2 min": 0, "2-5 min": 1, "5-10 min": 0,
                    ">10 min": 0}}
    assert data["handle_time"] == {"handles": 4, "average_seconds": 360.0}
    assert data["csat"] == {"responses": 4, "average": 4.0,
                            "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 2}}
    assert data["daily"][0] == {"date": "2026-03-02", "contacts": 2, "handed_off": 1,
                                "handoff_rate": 0.5}


def test_an_empty_period_has_no_rates(db):
    report = report_of(db)  # no history written
    assert report.contacts == 0 and report.containment.rate is None
    assert report.speed_of_answer.average is None and report.csat_average is None
    assert report.first_contact_resolution == Ratio(0, 0)
    assert report.to_dict()["speed_of_answer"]["p90_seconds"] is None


@pytest.mark.parametrize("since, until", [(SINCE, SINCE), (UNTIL, SINCE)],
                         ids=["empty", "reversed"])
def test_an_empty_or_reversed_period_is_refused(db, since, until):
    with db.reading() as session, pytest.raises(reports.ReportError, match="period is empty"):
        build_report(session, since, until)


# --- For the capacity planner --------------------------------------------------------------

def test_handoff_arrivals_are_selected_by_their_own_time(history):
    with history.reading() as session:
        everything = reports.handoff_arrivals(session, SINCE, UNTIL)
        on_telegram = reports.handoff_arrivals(session, SINCE, UNTIL, channel="telegram")
    # successful handoffs only (not C4's pending, not C5's expiry); C0's counts (its contact
    # started before the period, its handoff at 00:00:30 in it); C12's (03-09 00:01) does not
    assert everything == [t(2, 0, 0, 30), t(2, 9, 31), t(3, 14, 12), t(5, 11, 1),
                          t(6, 16, 2), t(7, 10, 1), t(8, 22, 31)]
    assert on_telegram == [t(2, 0, 0, 30), t(5, 11, 1), t(7, 10, 1)]  # C0, C5, C11


def test_agent_handle_seconds_by_pickup_time(history):
    with history.reading() as session:
        week = reports.agent_handle_seconds(session, SINCE, UNTIL)
        late = reports.agent_handle_seconds(session, t(8, 22, 32), UNTIL)
    # by pickup time: C0 00:01 -> 00:03 = 120; C2 300; C6 600; C7 120 then 420; C11 open
    assert week == [120.0, 300.0, 600.0, 120.0, 420.0]
    # only cy's pickup (22:33:10) is in the window; it still pairs with the contact's end
    assert late == [420.0]


# --- The definitions on hand-made contacts -------------------------------------------------

def facts(*operations: tuple[str, str, str, int], status: str = "completed",
          handled_by: str = "bot", ended: int | None = 600) -> ContactFacts:
    """A contact started at T0 with operations at T0 + seconds."""
    t0 = datetime(2026, 1, 1)
    return ContactFacts(
        id=1, channel="rest", started_at=t0,
        ended_at=None if ended is None else t0 + timedelta(seconds=ended), status=status,
        handled_by=handled_by, customer_id=None, identity_id=1,
        operations=[Operation(c, r, d, t0 + timedelta(seconds=s)) for c, r, d, s in operations])


QUEUED = ("handoff_requested", "success", "requested")
PICKUP = ("agent_pickup", "success", "ana")
RELEASE = ("agent_release", "success", "ana: returned")


def test_queue_outcomes():
    # a handoff still waiting in an open contact is neither answered nor abandoned
    assert reports.queue_outcomes(facts((*QUEUED, 0), status="open", ended=None)) == []
    assert reports.queue_outcomes(facts((*QUEUED, 0))) == [None]
    # expired, queued again, answered 5 s after the second request
    expired = ("handoff_requested", "failure", "expired")
    assert reports.queue_outcomes(facts((*QUEUED, 0), (*expired, 100), status="open",
                                        ended=None)) == [None]  # the bot talks on: abandoned
    assert reports.queue_outcomes(facts((*QUEUED, 0), (*expired, 100), (*QUEUED, 200),
                                        (*PICKUP, 205))) == [None, 5.0]
    # a pickup after a transfer answers nothing new
    transfer = ("agent_release", "success", "ana: transferred to cy")
    assert reports.queue_outcomes(facts((*QUEUED, 0), (*PICKUP, 7), (*transfer, 50),
                                        ("agent_pickup", "success", "cy", 50))) == [7.0]


def test_handle_periods():
    t0 = datetime(2026, 1, 1)
    # a release with no pickup is ignored; a second pickup while one is open continues it
    assert reports.handle_periods(facts((*RELEASE, 5), (*PICKUP, 10), (*PICKUP, 20),
                                        (*RELEASE, 70))) == [(t0 + timedelta(seconds=10), 60.0)]
    # never released: until the contact ended, or nothing while it is open
    assert reports.handle_periods(facts((*PICKUP, 100), ended=400)) == [
        (t0 + timedelta(seconds=100), 300.0)]
    assert reports.handle_periods(facts((*PICKUP, 100), status="with_agent", ended=None)) == []


def test_final_owner():
    assert reports.final_owner(facts()) == "bot"
    assert reports.final_owner(facts((*PICKUP, 1), (*RELEASE, 2))) == "agent"
    assert reports.final_owner(facts(handled_by="both")) == "agent"  # an agent replied


def test_wait_buckets_put_a_bound_in_the_lower_bucket():
    stats = WaitStats((0.0, 20.0, 20.5, 60.0, 120.0, 300.0, 600.0, 600.5))
    assert stats.buckets == {"0-20 s": 2, "20-60 s": 2, "1-2 min": 1, "2-5 min": 1,
                             "5-10 min": 1, ">10 min": 1}


# --- Charts ---------------------------------------------------------------------------------

def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_charts_are_png_images(history):
    report = report_of(history)
    images = [draw(report) for draw in charts.CHARTS.values()]
    for image in images:
        assert png_size(image) == (800, 400) and len(image) > 10_000
    assert len(set(images)) == 3


def test_charts_of_an_empty_period_still_draw(db):
    report = report_of(db)
    for draw in charts.CHARTS.values():
        assert png_size(draw(report)) == (800, 400)


# --- The command line -------------------------------------------------------------------------

@pytest.fixture
def report_command(tmp_path, monkeypatch, capsys):
    """Runs ``switchboard report ...`` in this process against a SQLite file with the history."""
    db = Database(f"sqlite:///{tmp_path / 'switchboard.db'}")
    migrate.upgrade(db)
    build_history(db)
    db.dispose()
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    parser = argparse.ArgumentParser(prog="switchboard")
    add_commands(parser.add_subparsers(dest="command", required=True))

    def run(*args: str) -> tuple[int, str, str]:
        parsed = parser.parse_args(["report", *args])
        parsed.services = services  # as the command's root gives them
        code = parsed.func(parsed)
        out, err = capsys.readouterr()
        return code, out, err

    services = Services(load_settings())
    yield run
    services.db.dispose()


WEEK = ("--since", "2026-03-02", "--until", "2026-03-09T00:00:00Z")


def test_cli_text(report_command):
    code, out, _ = report_command(*WEEK)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == ("Service report: contacts started 2026-03-02 00:00 to 2026-03-09 00:00 "
                        "UTC, all channels")
    assert "Contacts                  9 (7 people)" in lines
    assert "Final owner               bot 5 (4 completed), agent 4 (3 completed)" in lines
    assert "Containment               22.2% (2 of 9 contacts, bot alone)" in lines
    assert "Queue abandonment         33.3% (2 of 6 queued handoffs)" in lines
    assert "Speed of answer           ASA 62.5 s, p50 45.0 s, p90 123.0 s (4 answered)" in lines
    assert "Average handle time       360.0 s (4 agent turns)" in lines
    assert "First-contact resolution  57.1% (4 of 7 completed contacts)" in lines
    assert "CSAT                      4.00 (4 ratings; 1: 0, 2: 1, 3: 0, 4: 1, 5: 2)" in lines
    assert 'Top fallback texts        "asdf qwerty" 3, "where is my parcel?" 1' in lines


def test_cli_json_with_a_channel(report_command):
    code, out, _ = report_command(*WEEK, "--channel", "sms", "--format", "json")
    assert code == 0
    data = json.loads(out)
    # sms: C2 (Ben, handed back, completed by the bot) and C6 (anonymous): both agent contacts
    assert (data["channel"], data["contacts"], data["unique_customers"]) == ("sms", 2, 2)
    assert data["final_owner"] == {"bot": {"contacts": 0, "completed": 0},
                                   "agent": {"contacts": 2, "completed": 2}}
    assert data["containment"] == {"count": 0, "total": 2, "rate": 0.0}
    assert data["speed_of_answer"]["average_seconds"] == 105.0  # (60 + 150) / 2
    assert data["handle_time"] == {"handles": 2, "average_seconds": 450.0}  # (300 + 600) / 2
    # C2: Ben came back (C5, on telegram) within 7 days; C6 did not: 1 of 2
    assert data["first_contact_resolution"] == {"count": 1, "total": 2, "rate": 0.5}


def test_cli_csv(report_command):
    code, out, _ = report_command(*WEEK, "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["metric", "key", "value"]
    for row in (["contacts", "", "9"], ["channel", "", ""], ["containment", "rate", "0.2222"],
                ["final_owner.agent", "contacts", "4"], ["handoff_reasons", "requested", "2"],
                ["speed_of_answer.buckets", "20-60 s", "2"], ["top_intents", "check_balance", "2"],
                ["top_fallback_texts", "asdf qwerty", "3"], ["volume_by_hour", "9", "2"],
                ["volume_by_weekday", "Sat", "2"], ["daily.contacts", "2026-03-07", "2"],
                ["daily.handoff_rate", "2026-03-07", "0.5"], ["csat.distribution", "5", "2"]):
        assert row in rows, row
    assert len(rows) == len({(metric, key) for metric, key, _ in rows})  # one row per metric


def test_cli_writes_charts(report_command, tmp_path):
    code, _, err = report_command(*WEEK, "--charts", str(tmp_path / "charts"))
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert names == ["handoff_rate_by_day.png", "speed_of_answer.png", "volume_by_hour.png"]
    assert all(png_size((tmp_path / "charts" / n).read_bytes()) == (800, 400) for n in names)
    assert err.count("chart written:") == 3


def test_cli_defaults_to_the_last_seven_days(report_command):
    code, out, _ = report_command("--format", "json")
    assert code == 0
    data = json.loads(out)
    since, until = (datetime.fromisoformat(data[k].rstrip("Z")) for k in ("since", "until"))
    assert until - since == timedelta(days=7)
    assert abs(until - service.utcnow()) < timedelta(minutes=1)


def test_cli_errors_are_one_line(report_command, tmp_path):
    (tmp_path / "a-file").write_text("")
    for args, message in (
        (("--channel", "fax"), "error: unknown channel 'fax'; configured: "),
        (("--since", "last tuesday"), "error: --since must be an ISO 8601 date"),
        (("--since", "2026-03-09", "--until", "2026-03-02"), "error: --since (2026-03-09"),
        # Found by the newcomer attack: an OverflowError traceback, and a 12 MB line
        (("--until", "0001-01-02"), "error: --until (0001-01-02) leaves no room"),
        (("--since", "0001-01-01"), "error: the period is longer than 3660 days"),
        ((*WEEK, "--charts", str(tmp_path / "a-file")), "error: cannot write charts to "),
    ):
        code, _, err = report_command(*args)
        assert code == 2, args
        assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err
