"""Task completion and turns per flow, from scripted customers talking to the running stack.

Each persona is a customer with an opening message in their own voice (several facts at once,
typos, facts in another order, a change of mind) and the facts they give when asked. The
simulated customer answers whatever the assistant asks from those facts, as a person would
(the number, the password button and the password, a plan, a month...), restates the request
when it is not understood, and stops when the task is done, given up, or after MAX_TURNS.
A task is complete when the contact record holds the expected operation, successful, with the
expected values. Turns are the customer's messages, verification included.

    .venv/bin/python bench/conversations.py            # prints the table (test model, own stack)
    .venv/bin/python bench/conversations.py --only transcript   # personas whose name matches

tests/test_conversations_listen.py runs the same personas as tests.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MAX_TURNS = 14
PASSWORD = "482913"
PASSWORD_PAYLOAD = '/inform{"verification_method": "password"}'
REFERENCE = re.compile(r"CMP-\d{4}-\d{6}")

# What a customer says again when the assistant did not get the request (by flow).
RESTATE = {
    "change_plan": "I want to change my plan",
    "buy_data_pack": "I want to buy a data pack",
    "unsubscribe_vas": "cancel my subscriptions",
    "report_lost_sim": "I lost my phone, block my sim",
    "activate_roaming": "turn on roaming",
    "report_network_issue": "I want to report a network problem",
    "billing_dispute": "I was overcharged on my bill",
    "file_complaint": "I want to make a complaint",
    "complaint_status": "what's the status of my complaint",
    "check_balance": "what's my balance",
    "check_data_usage": "how much data do I have left",
    "get_puk": "I need my PUK code",
}
# The contact-record operation each flow ends in.
OPERATION = {
    "change_plan": "plan_change", "buy_data_pack": "data_pack_purchase",
    "unsubscribe_vas": "vas_unsubscription", "report_lost_sim": "sim_suspension",
    "activate_roaming": "roaming_activation", "report_network_issue": "network_issue_report",
    "billing_dispute": "billing_dispute", "file_complaint": "complaint_filed",
    "complaint_status": "complaint_status_query", "check_balance": "balance_query",
    "check_data_usage": "data_usage_query", "get_puk": "puk_request",
}
# A reply that ends the task, well or not (then the contact record says which).
DONE = re.compile(
    r"you're now on|is on your line now|I've cancelled|is suspended|roaming is now on|"
    r"Roaming is already on|I've registered your|Your complaint CMP-|open complaint|"
    r"of credit on|balance to pay|You've used|PUK code is|"
    r"Let's stop here|stopped there|haven't changed anything|haven't filed|"
    r"passing you to one of our agents|can.t find a complaint", re.IGNORECASE)
# The assistant's questions, and which fact answers each (first match wins).
QUESTIONS = [
    (re.compile(r"service password", re.I), "password"),
    (re.compile(r"mobile number", re.I), "number"),
    (re.compile(r"You can move to|Which plan", re.I), "plan"),
    (re.compile(r"Which data pack", re.I), "pack"),
    (re.compile(r"Which would you like to cancel|Which should I cancel", re.I), "vas"),
    (re.compile(r"complaint about\?|What is the complaint about", re.I), "category"),
    (re.compile(r"describe what happened|tell me a little more|what happened\?", re.I),
     "description"),
    (re.compile(r"Where does the problem|town, postcode or street|Which town", re.I),
     "location"),
    (re.compile(r"Since when|When did (it|the problem) start", re.I), "since"),
    (re.compile(r"Which bill|which month", re.I), "month"),
    (re.compile(r"How much .*dispute|amount in pounds|How much were you", re.I), "amount"),
    (re.compile(r"complaint reference|Which is yours", re.I), "reference"),
]
NOT_UNDERSTOOD = re.compile(r"What would you like me to do with that|didn't quite understand|"
                            r"What can I help you with|What else can I do|couldn't handle that",
                            re.I)


@dataclass(frozen=True)
class Persona:
    name: str
    flow: str  # the request (an intent), a row of the table
    opening: str  # {number} and {reference} are filled in
    answers: dict[str, str] = field(default_factory=dict)  # what they say when asked
    expect: dict[str, Any] = field(default_factory=dict)  # values the record must hold
    turns: int = 0  # the fewest turns the missing facts allow
    at_summary: str | None = None  # a change of mind typed at the first summary
    setup: str | None = None  # "open_complaint": the customer has one before they write
    changed: dict[str, str] = field(default_factory=dict)  # their facts after at_summary


P = Persona
PERSONAS: list[Persona] = [
    # --- change plan ---
    P("plan_plain", "change_plan", "I want to change my plan", {"plan": "Unlimited"},
      {"reference": "unlimited"}, 6),
    P("plan_number_and_plan_at_once", "change_plan",
      "hi, my number is {number}, please switch me to Unlimited Max", {"plan": "Unlimited Max"},
      {"reference": "unlimited_max"}, 4),
    P("plan_typo", "change_plan", "can u move me to unlimted max pls", {"plan": "unlimted max"},
      {"reference": "unlimited_max"}, 5),
    P("plan_current_named_first", "change_plan",
      "I'm on Go 30 but want something cheaper, Go 10 would do. my number's {number}",
      {"plan": "Go 10"},
      {"reference": "go_10"}, 4),
    P("plan_change_of_mind_in_answer", "change_plan", "upgrade my tariff",
      {"plan": "Family Share... actually no, Unlimited"}, {"reference": "unlimited"}, 6),
    P("plan_change_of_mind_at_summary", "change_plan", "switch me to Go 10 please",
      {"plan": "Go 10"}, {"reference": "unlimited"}, 6, at_summary="hmm, make it Unlimited instead",
      changed={"plan": "Unlimited"}),
    # --- data packs ---
    P("transcript_1_pack_and_number_in_one", "buy_data_pack",
      "hi I'm Grace, my number is {number}, can I get a 1GB boost?", {"pack": "1GB Boost"},
      {"reference": "boost_1gb"}, 4),
    P("pack_plain", "buy_data_pack", "I need more data", {"pack": "5GB Boost"},
      {"reference": "boost_5gb"}, 6),
    P("pack_words_and_number", "buy_data_pack", "add a 5 gig boost to {number} please",
      {"pack": "5GB Boost"},
      {"reference": "boost_5gb"}, 4),
    P("pack_typo", "buy_data_pack", "can i buy the weekend unlimted thing",
      {"pack": "weekend unlimted"},
      {"reference": "weekend_unlimited"}, 5),
    P("pack_number_words", "buy_data_pack", "ran out of data again. twenty gig boost please",
      {"pack": "20GB Boost"}, {"reference": "boost_20gb"}, 5),
    P("pack_change_of_mind_at_summary", "buy_data_pack", "I'd like the 1GB Boost",
      {"pack": "1GB Boost"}, {"reference": "boost_5gb"}, 6, at_summary="actually the 5GB one",
      changed={"pack": "5GB Boost"}),
    # --- value-added services ---
    P("transcript_6_stop_charging_music", "unsubscribe_vas",
      "stop charging me for Kestrel Music, I never signed up to it", {"vas": "Kestrel Music"},
      {"reference": "music"}, 5),
    P("vas_plain", "unsubscribe_vas", "cancel my subscriptions", {"vas": "Ringback Tones"},
      {"reference": "ringback"}, 6),
    P("vas_number_first", "unsubscribe_vas",
      "{number} here. get rid of the ringback tones thing", {"vas": "ringback tones"},
      {"reference": "ringback"}, 4),
    P("vas_everything", "unsubscribe_vas", "unsubscribe me from everything, all of it",
      {"vas": "all of them"},
      {"reference": "music,ringback"}, 5),
    P("vas_typo", "unsubscribe_vas", "remove the music subscrption", {"vas": "the music one"},
      {"reference": "music"}, 5),
    # --- lost or stolen SIM ---
    P("sim_plain", "report_lost_sim", "I lost my phone", {}, {}, 5),
    P("sim_all_at_once", "report_lost_sim",
      "my phone was stolen on the bus, number {number}, block it now", {}, {}, 4),
    P("sim_short", "report_lost_sim", "lost my sim, pls bar it", {}, {}, 5),
    # --- roaming ---
    P("roaming_trip", "activate_roaming", "I'm off to Spain on Friday, turn on roaming", {}, {},
      5),
    P("roaming_number_first", "activate_roaming", "roaming on for {number} please", {}, {}, 4),
    P("roaming_plain", "activate_roaming", "activate roaming", {}, {}, 5),
    # --- network complaints ---
    P("transcript_3_signal_at_home", "report_network_issue",
      "I want to complain, my signal keeps dropping at home",
      {"description": "my signal keeps dropping at home",
       "location": "in Sheffield, since last Monday, calls drop every few minutes",
       "since": "since last Monday"},
      {"category": "network", "location": "Sheffield", "since": True}, 6),
    P("network_all_in_one", "report_network_issue",
      "no signal in Leeds since Friday, calls won't connect at all",
      {"description": "no signal in Leeds since Friday, calls won't connect at all",
       "location": "Leeds", "since": "since Friday"},
      {"category": "network", "location": "Leeds", "since": True}, 5),
    P("network_terse", "report_network_issue", "4g not working",
      {"description": "mobile data just spins, pages never load", "location": "LS6 2AB",
       "since": "two days ago"},
      {"category": "network", "location": "LS6 2AB", "since": True}, 8),
    P("network_place_no_date", "report_network_issue", "my calls keep dropping in Manchester",
      {"description": "my calls keep dropping in Manchester", "location": "Manchester",
       "since": "since last week"},
      {"category": "network", "location": "Manchester", "since": True}, 6),
    P("network_typo_town", "report_network_issue",
      "no signal at my house in Sheffeild since monday, its been a nightmare",
      {"description": "no signal at my house, calls and data both gone", "location": "Sheffield",
       "since": "since monday"},
      {"category": "network", "location": "Sheffield", "since": True}, 5),
    # --- billing disputes ---
    P("transcript_2_charged_twice", "billing_dispute", "I was charged twice for my roaming pass",
      {"description": "I was charged twice for my roaming pass", "month": "October",
       "amount": "£2.50"},
      {"category": "billing", "month": 10, "pence": 250}, 7),
    P("billing_all_in_one", "billing_dispute",
      "my October bill is wrong, you charged me £12.50 for roaming I never used",
      {"description": "you charged me £12.50 for roaming I never used", "month": "October",
       "amount": "£12.50"},
      {"category": "billing", "month": 10, "pence": 1250}, 5),
    P("billing_terse", "billing_dispute", "I was overcharged",
      {"description": "there's a charge for a data pack I never bought", "month": "last month",
       "amount": "eight pounds"},
      {"category": "billing", "pence": 800}, 8),
    P("billing_words_amount", "billing_dispute",
      "dispute a charge of two fifty on my November bill, I never bought a day pass",
      {"description": "a charge of two fifty, I never bought a day pass", "month": "November",
       "amount": "two fifty"},
      {"category": "billing", "month": 11, "pence": 250}, 5),
    P("billing_number_first", "billing_dispute",
      "{number} - you billed me 40 quid extra in October for calls I never made",
      {"description": "you billed me 40 quid extra for calls I never made", "month": "October",
       "amount": "40 quid"},
      {"category": "billing", "month": 10, "pence": 4000}, 4),
    # --- other complaint types ---
    P("complaint_plain", "file_complaint", "I want to make a complaint",
      {"category": "customer service",
       "description": "Nobody called me back although they promised to twice"},
      {"category": "customer_service"}, 7),
    P("complaint_staff", "file_complaint",
      "the staff in your Leeds store were really rude to me yesterday",
      {"category": "customer service",
       "description": "the staff in your Leeds store were really rude to me yesterday"},
      {"category": "customer_service"}, 5),
    P("complaint_device", "file_complaint",
      "the phone you sold me is broken and I want to complain",
      {"category": "device", "description": "the phone you sold me is broken"},
      {"category": "device"}, 5),
    P("complaint_roaming", "file_complaint",
      "I want to complain about roaming, I was cut off in France for the whole trip",
      {"category": "roaming", "description": "I was cut off in France for the whole trip"},
      {"category": "roaming"}, 5),
    P("complaint_data", "file_complaint",
      "complaint: mobile data is painfully slow every evening for weeks",
      {"category": "data", "description": "mobile data is painfully slow every evening"},
      {"category": "data"}, 5),
    P("complaint_agent", "file_complaint",
      "your agent hung up on me twice today, I want to complain",
      {"category": "customer service", "description": "your agent hung up on me twice today"},
      {"category": "customer_service"}, 5),
    # --- complaint status ---
    P("transcript_4_status_without_reference", "complaint_status",
      "what's the status of my complaint?", {}, {}, 4, setup="open_complaint"),
    P("status_with_reference", "complaint_status", "any update on {reference}?", {}, {}, 4,
      setup="open_complaint"),
    P("status_number_given", "complaint_status",
      "has my complaint been sorted? my number is {number}", {}, {}, 3,
      setup="open_complaint"),
    # --- one-step answers ---
    P("balance_number_given", "check_balance", "hi, what's my balance? number is {number}", {},
      {}, 3),
    P("data_plain", "check_data_usage", "how much data have I got left", {}, {}, 4),
    P("puk_number_given", "get_puk", "I need my PUK, {number}", {}, {}, 3),
]


@dataclass
class Outcome:
    turns: int
    transcript: list[tuple[str, str]]  # (customer, assistant)
    done: bool


def local(msisdn: str) -> str:
    return f"0{msisdn[2:6]} {msisdn[6:]}"


def answer(persona: Persona, replies: list[dict], facts: dict[str, str],
           state: dict[str, Any]) -> str:
    """What this customer says next, given the assistant's last replies."""
    said = "\n".join(r.get("text") or "" for r in replies)
    payloads = [b.get("payload", "") for r in replies for b in r.get("buttons") or []]
    if PASSWORD_PAYLOAD in payloads:
        return PASSWORD_PAYLOAD
    if "/affirm" in payloads and not re.search(r"agents\?", said):
        if persona.at_summary and not state.get("changed"):
            state["changed"] = True
            facts.update(persona.changed)
            return persona.at_summary
        return "/affirm"
    for pattern, fact in QUESTIONS:
        if pattern.search(said) and fact in facts:
            if fact == "category":
                wanted = facts[fact].replace(" ", "_")
                button = next((p for p in payloads if f'"{wanted}"' in p), None)
                if button:
                    return button
            return facts[fact]
    state["restated"] = state.get("restated", 0) + 1
    return RESTATE[persona.flow]


def converse(say: Callable[[str, str], list[dict]], sender: str, persona: Persona,
             msisdn: str, reference: str | None = None) -> Outcome:
    """Hold the persona's conversation; stop when a reply ends the task or after MAX_TURNS."""
    facts = {"number": local(msisdn), "password": PASSWORD, "reference": reference or "",
             **persona.answers}
    text = persona.opening.format(number=local(msisdn), reference=reference)
    transcript: list[tuple[str, str]] = []
    state: dict[str, Any] = {}
    for turn in range(1, MAX_TURNS + 1):
        replies = say(sender, text)
        said = "\n".join(r.get("text") or "" for r in replies)
        transcript.append((text, said))
        if DONE.search(said):
            return Outcome(turn, transcript, True)
        text = answer(persona, replies, facts, state)
    return Outcome(MAX_TURNS, transcript, False)


def completed(persona: Persona, operations: list[dict], complaint: Any | None) -> bool:
    """Whether the contact record holds the task, done, with the persona's values."""
    wanted = OPERATION[persona.flow]
    done = [o for o in operations if o["category"] == wanted and o["result"] == "success"]
    if not done:
        return False
    expect = persona.expect
    if "reference" in expect and done[-1]["reference"] != expect["reference"]:
        return False
    if "category" in expect:
        return complaint is not None and complaint_matches(complaint, expect)
    return True


def complaint_matches(row: Any, expect: dict[str, Any]) -> bool:
    checks = [row.category == expect["category"]]
    if "location" in expect:
        checks.append(expect["location"].lower() in (row.location or "").lower())
    if expect.get("since"):
        checks.append(bool(row.since))
    if "month" in expect:
        checks.append(bool(row.bill_period) and int(row.bill_period[-2:]) == expect["month"])
    if "pence" in expect:
        checks.append(row.disputed_pence == expect["pence"])
    return all(checks)


def filed_complaint(db: Any, operations: list[dict]) -> Any | None:
    """The complaint row a conversation's operations name, if any."""
    from sqlalchemy import select

    from accounts.models import Complaint

    references = [o["reference"] for o in operations if REFERENCE.fullmatch(o["reference"] or "")]
    if not references:
        return None
    with db.reading() as session:
        row = session.scalars(select(Complaint).where(
            Complaint.reference == references[-1])).first()
        if row is not None:
            session.expunge(row)
        return row


def new_subscriber(db: Any) -> str:
    """A fresh subscriber (Go 30, Kestrel Music and Ringback Tones) with PASSWORD."""
    from accounts.demo import DemoSubscriber, add_subscriber

    msisdn = f"4477009{random.randrange(10**5):05d}"
    sub = DemoSubscriber(msisdn, "Grace Mwangi", "go_30", PASSWORD, "61728394", 1800, 12_300,
                         False, (("music", "Kestrel Music", 499),
                                 ("ringback", "Ringback Tones", 150)))
    with db.transaction() as session:
        add_subscriber(session, sub)
    return msisdn


def open_complaint(db: Any, msisdn: str) -> str:
    from accounts import complaints

    filed = complaints.file_complaint(db, complaints.NewComplaint(
        msisdn=msisdn, category="network", description="No signal at home in the evenings",
        location="York", since="2026-11-01"))
    return filed.reference


# --- Running it against a stack of its own ---

REST_TOKEN = "bench-rest-token"
API_TOKEN = "bench-api-token"


def main() -> None:
    from processes.launcher import Stack
    from processes.ports import free_port
    from switchboard.db import Database
    from switchboard.settings import PROJECT_ROOT, Settings
    from switchboard.training import ensure_model, fast_config
    from tests.helpers import http

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the personas whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="print every transcript")
    args = parser.parse_args()
    personas = [p for p in PERSONAS if args.only in p.name]
    model = ensure_model(fast_config(PROJECT_ROOT / "models" / "test-config.yml"),
                         PROJECT_ROOT / "models")
    with tempfile.TemporaryDirectory(prefix="switchboard-conversations-") as tmp:
        env = {**os.environ, "SWITCHBOARD_DATA_DIR": tmp,
               "SWITCHBOARD_REDIS_PORT": str(free_port()), "RASA_PORT": str(free_port()),
               "ACTION_SERVER_PORT": str(free_port()), "CONSOLE_PORT": str(free_port()),
               "RECORDER_PORT": str(free_port()), "QUEUE_CLOCK_PORT": str(free_port()),
               "REST_CHANNEL_TOKEN": REST_TOKEN, "SWITCHBOARD_API_TOKEN": API_TOKEN,
               "RASA_API_TOKEN": API_TOKEN, "SMS_GATEWAY": "outbox",
               "HANDOFF_OPENING_HOURS": "Mon-Sun 00:00-24:00"}
        env.pop("REDIS_URL", None)
        env.pop("DATABASE_URL", None)
        settings = Settings.from_env(env)
        base = f"http://127.0.0.1:{settings.rasa_port}"
        contacts_url = f"http://127.0.0.1:{settings.console_port}/api/contacts"

        def say(sender: str, text: str) -> list[dict]:
            status, body = http("POST", f"{base}/webhooks/rest/webhook",
                                {"sender": sender, "message": text}, token=REST_TOKEN)
            assert status == 200, (status, body)
            return body

        def operations(sender: str) -> list[dict]:
            wait_recorded(settings.console_port)
            _, page = http("GET", f"{contacts_url}?sender=rest:{sender}", token=API_TOKEN)
            return [o for c in page["items"] for o in http(
                "GET", f"{contacts_url}/{c['reference']}", token=API_TOKEN)[1]["operations"]]

        with Stack(settings, model, log_dir=Path(tmp) / "logs"):
            db = Database(settings.database_url)
            results = [run_one(p, db, say, operations, args.verbose) for p in personas]
    print_table(results)


def run_one(persona: Persona, db: Any, say: Callable, operations: Callable,
            verbose: bool) -> tuple[Persona, Outcome, bool]:
    msisdn = new_subscriber(db)
    reference = open_complaint(db, msisdn) if persona.setup == "open_complaint" else None
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    outcome = converse(say, sender, persona, msisdn, reference)
    ops = operations(sender)
    ok = completed(persona, ops, filed_complaint(db, ops))
    print(f"{persona.name:<42} {'ok' if ok else 'FAILED':<7} {outcome.turns:>2} turns",
          flush=True)
    if verbose or not ok:
        for customer, assistant in outcome.transcript:
            print(f"    > {customer}\n      {assistant[:300]!r}")
    return persona, outcome, ok


def wait_recorded(port: int, timeout: float = 30.0) -> None:
    import time

    from tests.helpers import http

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = http("GET", f"http://127.0.0.1:{port}/health")
        if status == 200 and body.get("recorder_lag") == 0:
            return
        time.sleep(0.1)


def print_table(results: list[tuple[Persona, Outcome, bool]]) -> None:
    flows = list(dict.fromkeys(p.flow for p, _, _ in results))
    print(f"\n{'flow':<22} {'personas':>8} {'completed':>10} {'mean turns':>11} "
          f"{'fewest possible':>16}")
    for flow in [*flows, "all"]:
        rows = [(p, o, ok) for p, o, ok in results if flow in ("all", p.flow)]
        done = [o.turns for _, o, ok in rows if ok]
        mean = f"{statistics.mean(done):.1f}" if done else "-"
        best = statistics.mean(p.turns for p, _, _ in rows)
        print(f"{flow:<22} {len(rows):>8} {len(done) / len(rows):>9.0%} {mean:>11} "
              f"{best:>16.1f}")


if __name__ == "__main__":
    main()
