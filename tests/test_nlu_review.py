"""The intent review loop: from recorded contacts to a review file, and back into data/nlu."""

from __future__ import annotations

import argparse
import json
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from contacts import service
from contacts.models import ContactTouch
from operations import nlu_review
from operations.nlu_review import ReviewItem, append_examples, group, similar
from operations.nlu_review_cli import add_commands
from switchboard.services import Services
from switchboard.settings import PROJECT_ROOT, load_settings
from tests.nlu_data import examples_by_label

NLU_DIR = PROJECT_ROOT / "data" / "nlu"
HOLDOUT = PROJECT_ROOT / "tests" / "nlu_holdout.yml"
START = datetime(2026, 3, 2, 9, 0)
SINCE, UNTIL = datetime(2026, 3, 1), datetime(2026, 3, 8)

MISUNDERSTOOD = "how much airtime credit is on this line"
UNSURE = "do i still have minutes on my bundle"
BEFORE_HANDOFF = "the bill has a charge i dont recognise"
UNHAPPY = "i want to leave kestrel"
HELD_OUT = "how much credit is on my phone"  # a check_balance example of tests/nlu_holdout.yml
WIFI = "wifi calling not working"
WIFI_VARIANTS = ["Wifi calling NOT working!!", "wifi-calling not working",
                 "wifi calling not workin"]
VOICEMAIL = "my voicemail is full"
SECRET = "my pin is [redacted] and it is blocked"
UNDERSTOOD = "what's my balance"
ANNOTATED = "whats the credit on [07700 900111](phone_number)"


def say(session, who: str, hour: int, messages, *, handoff_after=(), csat=None) -> str:
    """A contact in which the customer sends ``messages`` ((text, intent, confidence)), a minute
    apart, each answered by the bot; handoffs are requested after the messages numbered in
    ``handoff_after``. Returns the contact's reference."""
    contact = service.begin_contact(session, channel="rest", external_id=who,
                                    at=START + timedelta(hours=hour))
    at = contact.started_at
    for number, (text, intent, confidence) in enumerate(messages):
        at += timedelta(minutes=1)
        service.touch_contact(session, contact, direction="in", author="customer", text=text,
                              intent=intent, confidence=confidence, at=at)
        service.touch_contact(session, contact, direction="out", author="bot", text="Sorry?",
                              at=at + timedelta(seconds=2))
        if number in handoff_after:
            service.record_operation(session, contact, category="handoff_requested",
                                     result="success", at=at + timedelta(seconds=5))
    if csat is not None:
        service.complete_contact(session, contact, disposition="customer_goodbye",
                                 at=at + timedelta(minutes=1), csat=csat)
    return contact.reference


@pytest.fixture
def history(db) -> dict[str, str]:
    """A week of contacts with one of each kind of message the review must (not) pick up."""
    refs: dict[str, str] = {}
    with db.transaction() as s:
        refs["fallback"] = say(s, "u1", 0, [("hi", "greet", 0.99),
                                            (MISUNDERSTOOD, "nlu_fallback", 0.3)], csat=4)
        refs["unsure"] = say(s, "u2", 1, [(UNSURE, "check_balance", 0.45),
                                          (HELD_OUT, "check_balance", 0.52)])
        refs["handoff"] = say(s, "u3", 2, [("hello", "greet", 0.98),
                                           (BEFORE_HANDOFF, "billing_dispute", 0.85),
                                           ("ok", "affirm", 0.99)], handoff_after=(1, 2))
        refs["unhappy"] = say(s, "u4", 3, [(UNHAPPY, "faq/contract_cancellation", 0.92)],
                              csat=1)
        refs["understood"] = say(s, "u5", 4, [(UNDERSTOOD, "check_balance", 0.97)], csat=5)
        for n, text in enumerate([WIFI, WIFI, *WIFI_VARIANTS]):
            refs[f"wifi{n}"] = say(s, f"w{n}", 5 + n, [(text, "nlu_fallback", 0.3)])
        refs["voicemail"] = say(s, "u6", 12, [(VOICEMAIL, "nlu_fallback", 0.3)])
        refs["old"] = say(s, "u7", -72, [("an old misunderstanding", "nlu_fallback", 0.3)])
        refs["later"] = say(s, "u8", 24 * 7, [("a later misunderstanding", "nlu_fallback", 0.3)])
        # An old record stored before masking existed: the review masks it again.
        contact = service.begin_contact(s, channel="rest", external_id="u9",
                                        at=START + timedelta(hours=13))
        s.add(ContactTouch(contact_id=contact.id, direction="in", author="customer",
                           text="my pin is 4321 and it is blocked", intent="nlu_fallback",
                           confidence=0.3, at=contact.started_at))
        refs["secret"] = contact.reference
        # Handed off just after the period: its trigger is not in the period, the message
        # before it is not the trigger.
        late = service.begin_contact(s, channel="rest", external_id="u10",
                                     at=UNTIL - timedelta(minutes=2))
        for text, at in (("just before the end", UNTIL - timedelta(minutes=1)),
                         ("just after the end", UNTIL + timedelta(minutes=1))):
            service.touch_contact(s, late, direction="in", author="customer", text=text,
                                  intent="inform", confidence=0.9, at=at)
        service.record_operation(s, late, category="handoff_requested", result="success",
                                 at=UNTIL + timedelta(minutes=2))
    return refs


def collected(db) -> list[ReviewItem]:
    with db.reading() as session:
        return nlu_review.collect(session, SINCE, UNTIL, 0.6)


# --- Collecting ---

def test_collect_picks_the_messages_worth_a_review_and_says_why(db, history):
    items = collected(db)
    why = {item.text: item.why for item in items}
    assert why[MISUNDERSTOOD] == ("fallback",)
    assert why[UNSURE] == ("low_confidence",)
    assert why[BEFORE_HANDOFF] == ("handoff",)
    assert why[UNHAPPY] == ("negative_csat",)
    assert why[SECRET] == ("fallback",)
    by_text = {item.text: item for item in items}
    assert by_text[UNSURE].reference == history["unsure"]
    assert by_text[UNSURE].intent == "check_balance" and by_text[UNSURE].confidence == 0.45
    assert by_text[UNHAPPY].intent == "faq/contract_cancellation"


def test_collect_leaves_out_what_went_well_and_what_is_outside_the_period(db, history):
    texts = [item.text for item in collected(db)]
    # understood; before and after the handoff trigger; outside the period; the bot's replies
    for absent in (UNDERSTOOD, "hi", "hello", "ok", "an old misunderstanding",
                   "a later misunderstanding", "Sorry?", "just before the end",
                   "just after the end"):
        assert absent not in texts
    assert not any("4321" in text for text in texts)
    assert len(texts) == 5 + 5 + 1 + 1  # four reasons and the held-out one, wifi, voicemail, pin


def test_a_higher_threshold_reviews_more(db, history):
    with db.reading() as session:
        strict = nlu_review.collect(session, SINCE, UNTIL, 0.995)
    assert {"hi", "hello", UNDERSTOOD} <= {item.text for item in strict}


# --- Grouping ---

def item(text: str, reference: str = "CT1", intent: str = "nlu_fallback") -> ReviewItem:
    return ReviewItem(text, intent, 0.3, reference, ("fallback",), START)


def test_near_duplicates_group_under_the_most_common_wording():
    groups = group([item(WIFI_VARIANTS[0], "CT1"), item(WIFI, "CT2"), item(WIFI, "CT3"),
                    item(WIFI_VARIANTS[1], "CT4"), item(WIFI_VARIANTS[2], "CT5"),
                    item(VOICEMAIL, "CT6")])
    assert [(g.text, g.count) for g in groups] == [(WIFI, 5), (VOICEMAIL, 1)]
    assert groups[0].references == ["CT1", "CT2", "CT3", "CT4", "CT5"]


def test_similarity_is_about_wording_not_topic():
    assert similar("my balance please", "please my balance")  # the same words
    assert similar("how much data have i left", "how much data have i got left")
    assert not similar("check my balance", "check my bill")
    assert not similar("roaming in spain", "roaming in france")


def test_a_group_is_filed_under_its_most_common_prediction():
    [one] = group([item(WIFI, "CT1", "report_network_issue"), item(WIFI, "CT2"),
                   item(WIFI, "CT3")])
    assert one.intent == "nlu_fallback" and one.other_intents == ["report_network_issue"]


# --- The review file ---

@pytest.fixture
def review_file(db, history, tmp_path) -> Path:
    items = collected(db)
    return nlu_review.write_review(tmp_path / "review.yml", group(items), since=SINCE,
                                   until=UNTIL, threshold=0.6)


def test_the_review_file_comments_every_example(review_file, history):
    text = review_file.read_text()
    assert text.startswith("# NLU review") and "--apply" in text
    lines = text.splitlines()
    wifi = lines.index(f"      - text: {json.dumps(WIFI)}")
    comment = " ".join(line.strip("# ") for line in lines[wifi - 3:wifi]
                       if line.lstrip().startswith("#"))
    assert "predicted nlu_fallback 0.30" in comment and "why fallback" in comment
    assert "5 messages" in comment
    assert all(history[f"wifi{n}"] in comment for n in range(5))
    for number, line in enumerate(lines):
        if line.lstrip().startswith("- text:"):
            assert lines[number - 1].lstrip().startswith("#"), line
    assert text.index("intent: nlu_fallback") < text.index("intent: check_balance")
    assert "4321" not in text and UNDERSTOOD not in text


def test_the_review_file_loads_with_rasa(review_file):
    from rasa.shared.nlu.training_data.loading import load_data

    with _no_rasa_warnings():
        data = load_data(str(review_file))
    examples = {(m.get_full_intent(), m.get("text")) for m in data.intent_examples}
    assert ("nlu_fallback", MISUNDERSTOOD) in examples
    assert ("check_balance", UNSURE) in examples
    assert ("billing_dispute", BEFORE_HANDOFF) in examples
    assert ("faq/contract_cancellation", UNHAPPY) in examples
    assert ("nlu_fallback", WIFI) in examples
    assert not any(text in WIFI_VARIANTS for _, text in examples)


@contextmanager
def _no_rasa_warnings() -> Iterator[None]:
    """Fails if Rasa warns about the data: it skips the examples it cannot read, and says so."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    problems = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert not problems, problems


# --- Applying a review ---

def move(review: str, example: str, intent: str) -> str:
    """What a product owner does in an editor: cut an example and its comment, paste it under
    another intent (a new block at the end if there is none)."""
    lines = review.splitlines()
    end = lines.index(f"      - text: {json.dumps(example)}") + 1
    start = end - 1
    while lines[start - 1].startswith("      #"):
        start -= 1
    moved = lines[start:end]
    del lines[start:end]
    header = f"  - intent: {intent}"
    if header not in lines:
        lines += [header, "    examples:"]
    at = lines.index(header) + 2
    lines[at:at] = moved
    return "\n".join(lines) + "\n"


def delete(review: str, example: str) -> str:
    return move(review, example, "to_delete").split("  - intent: to_delete")[0]


@pytest.fixture
def nlu_copy(tmp_path) -> Path:
    copy = tmp_path / "nlu"
    shutil.copytree(NLU_DIR, copy)
    return copy


@pytest.fixture
def reviewed(review_file) -> Path:
    """The review after the product owner's pass: most relabelled, two left under fallback."""
    text = move(review_file.read_text(), MISUNDERSTOOD, "check_balance")
    text = move(text, WIFI, "wifi_calling_issue")  # a new intent
    text = move(text, HELD_OUT, "check_balance")  # already there; stays a check_balance
    text = delete(text, UNHAPPY)
    text = text.replace("  - intent: check_balance\n    examples:\n",
                        "  - intent: check_balance\n    examples:\n"
                        f"      - text: {json.dumps(ANNOTATED)}\n")
    review_file.write_text(text)
    return review_file


def training(nlu_dir: Path) -> dict[str, list[str]]:
    return examples_by_label(*sorted(nlu_dir.glob("*.yml")))


def test_apply_merges_relabelled_examples_into_the_intents_files(reviewed, nlu_copy):
    holdout_before = HOLDOUT.read_bytes()
    result = nlu_review.apply(reviewed, nlu_copy, HOLDOUT)

    assert sorted(result.added["check_balance"]) == sorted([MISUNDERSTOOD, UNSURE, ANNOTATED])
    assert result.added["billing_dispute"] == [BEFORE_HANDOFF]
    assert result.added["wifi_calling_issue"] == [WIFI]
    assert result.new_intents == ["wifi_calling_issue"]
    after = training(nlu_copy)
    assert after["check_balance"].count(MISUNDERSTOOD) == 1
    assert sum(texts.count(MISUNDERSTOOD) for texts in after.values()) == 1
    assert UNHAPPY not in after["faq/contract_cancellation"]  # deleted by the reviewer
    assert (nlu_copy / "reviewed.yml").exists()
    assert HOLDOUT.read_bytes() == holdout_before


def test_apply_keeps_each_file_as_it_was_around_the_new_lines(reviewed, nlu_copy):
    result = nlu_review.apply(reviewed, nlu_copy, HOLDOUT)
    assert nlu_copy / "account.yml" in result.changed_files
    added = {f"      - {text}" for texts in result.added.values() for text in texts}
    for name in ("account.yml", "complaints.yml"):
        new_lines = (nlu_copy / name).read_text().splitlines()
        assert [line for line in new_lines if line not in added] == \
            (NLU_DIR / name).read_text().splitlines()
    account = (nlu_copy / "account.yml").read_text()
    assert account.index(f"- {MISUNDERSTOOD}") < account.index("- intent: check_data_usage")
    assert f"      - {ANNOTATED}\n" in account  # the entity annotation passes through as written


def test_apply_twice_adds_nothing_the_second_time(reviewed, nlu_copy):
    nlu_review.apply(reviewed, nlu_copy, HOLDOUT)
    first = {path.name: path.read_text() for path in nlu_copy.glob("*.yml")}
    again = nlu_review.apply(reviewed, nlu_copy, HOLDOUT)
    assert again.added_count == 0 and MISUNDERSTOOD in again.already_trained
    assert {path.name: path.read_text() for path in nlu_copy.glob("*.yml")} == first


def test_held_out_examples_are_never_trained(reviewed, nlu_copy):
    assert HELD_OUT in examples_by_label(HOLDOUT)["check_balance"]
    result = nlu_review.apply(reviewed, nlu_copy, HOLDOUT)
    assert result.in_holdout == [HELD_OUT]
    assert not any(HELD_OUT.lower() == t.lower() for ts in training(nlu_copy).values()
                   for t in ts)


def test_examples_still_labelled_fallback_are_refused(reviewed, nlu_copy):
    result = nlu_review.apply(reviewed, nlu_copy, HOLDOUT)
    assert sorted(result.refused) == sorted([VOICEMAIL, SECRET])
    assert "nlu_fallback" not in training(nlu_copy)
    assert not any(VOICEMAIL in path.read_text() for path in nlu_copy.glob("*.yml"))


def test_the_merged_training_data_loads_with_rasa(reviewed, nlu_copy):
    from rasa.shared.nlu.training_data.loading import load_data

    nlu_review.apply(reviewed, nlu_copy, HOLDOUT)
    with _no_rasa_warnings():
        data = load_data(str(nlu_copy))
    by_text = {m.get("text"): m for m in data.intent_examples}
    assert by_text[MISUNDERSTOOD].get_full_intent() == "check_balance"
    assert by_text["wifi calling not working"].get_full_intent() == "wifi_calling_issue"
    annotated = by_text["whats the credit on 07700 900111"]
    assert [e["entity"] for e in annotated.get("entities")] == ["phone_number"]
    assert len(data.regex_features) > 0 and data.lookup_tables  # the rest is untouched


def test_append_examples_inserts_before_the_next_block_and_its_blank_lines():
    text = ("version: \"3.1\"\nnlu:\n  - intent: a\n    examples: |\n      - one\n\n"
            "  # b is next\n  - intent: b\n    examples: |\n      - two\n")
    assert append_examples(text, "a", ["three"], Path("x.yml")) == (
        "version: \"3.1\"\nnlu:\n  - intent: a\n    examples: |\n      - one\n      - three\n\n"
        "  # b is next\n  - intent: b\n    examples: |\n      - two\n")
    assert append_examples(text, "c", ["four"], Path("x.yml")).endswith(
        "  - intent: c\n    examples: |\n      - four\n")


def test_a_broken_review_file_is_one_clear_error(tmp_path, nlu_copy):
    broken = tmp_path / "broken.yml"
    broken.write_text("nlu:\n  - intent: a\n    examples: [unclosed\n")
    with pytest.raises(nlu_review.ReviewError, match="not valid YAML"):
        nlu_review.apply(broken, nlu_copy, HOLDOUT)
    broken.write_text("nlu:\n  - intent: two words\n    examples: |\n      - hi\n")
    with pytest.raises(nlu_review.ReviewError, match="not an intent name"):
        nlu_review.apply(broken, nlu_copy, HOLDOUT)


# --- The command line ---

@pytest.fixture
def cli(db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))

    def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="switchboard")
        nlu = parser.add_subparsers(dest="command", required=True).add_parser("nlu")
        add_commands(nlu.add_subparsers(dest="nlu_command", required=True))
        args = parser.parse_args(["nlu", "review", *argv])
        args.services = Services(load_settings())  # as the command's root gives them
        code = args.func(args)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_cli_writes_a_review_then_applies_it(cli, history, tmp_path, nlu_copy):
    out_file = tmp_path / "week.yml"
    code, out, err = cli("--since", "2026-03-01", "--until", "2026-03-08", "--out",
                         str(out_file))
    assert code == 0, err
    assert f"Written: {out_file}" in out and "12 messages to review" in out
    text = move(out_file.read_text(), MISUNDERSTOOD, "check_balance")
    out_file.write_text(text)

    code, out, err = cli("--apply", str(out_file), "--nlu-dir", str(nlu_copy))
    assert code == 0, err
    assert "make nlu-report" in out and "Added" in out and "in the held-out test set" in out
    assert err.startswith("warning: refused") and "nlu_fallback" in err
    assert MISUNDERSTOOD in training(nlu_copy)["check_balance"]


def test_cli_errors_are_one_line_not_a_traceback(cli, tmp_path):
    for argv in (("--since", "last tuesday"),
                 ("--since", "2026-03-08", "--until", "2026-03-01"),
                 ("--apply", str(tmp_path / "missing.yml")),
                 ("--apply", str(tmp_path / "missing.yml"), "--threshold", "0.5"),
                 ("--since", "2026-03-01", "--out", str(NLU_DIR.parent / "review.yml"))):
        code, out, err = cli(*argv)
        assert code == 2, argv
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (NLU_DIR.parent / "review.yml").exists()


def test_cli_wants_either_a_period_or_a_file(cli, capsys):
    with pytest.raises(SystemExit) as neither:
        cli()
    assert neither.value.code == 2  # argparse's usage error, not a success
    assert "one of the arguments --since --apply is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as both:
        cli("--since", "2026-03-01", "--apply", "x.yml")
    assert both.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
