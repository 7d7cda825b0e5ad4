"""Values by kind, from what the customer said: numbers, money, months and dates, places, our
plans, packs and subscriptions (fuzzy, for typos), a complaint described in their own words.

Each function reads free text and returns a clean value or None; the forms use them both to
check an answer ("yes" is not a place) and to take values the customer gave unasked (in their
first message, earlier turns, or an answer to another question). Numbers in words are read by
text2num ("two fifty", "twenty gig"), dates by dateparser ("last Monday", "since Friday").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml
from rapidfuzz import fuzz, process
from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from text_to_num import alpha2digit

from actions.flow import FlowValidation, reject
from switchboard.settings import PROJECT_ROOT

PHONE = re.compile(r"(?<!\d)(?:\+44\s?7\d{3}|07\d{3})\s?\d{3}\s?\d{3}(?!\d)")
REFERENCE = re.compile(r"CMP-\d{4}-\d{6}", re.IGNORECASE)
POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})\b", re.IGNORECASE)
OUTWARD_CODE = re.compile(r"^\s*([A-Z]{1,2}\d[A-Z\d]?)\s*$", re.IGNORECASE)
STREET = re.compile(
    r"\b(?:\d+[a-z]?\s+)?(?:[A-Za-z']+\s+){1,3}(?:road|rd|street|st|lane|ln|avenue|ave|close|"
    r"drive|way|crescent|place|square|terrace|grove|gardens|hill|row|walk|court|mews|parade)\b",
    re.IGNORECASE)
SECRET_WORDS = re.compile(r"\b(?:pass\s?word|passcode|pin|otp|security code)\b", re.IGNORECASE)
# Towns that are also common words count only when written with a capital.
WORD_TOWNS = frozenset({"Reading", "Bath", "Hull", "Derby", "Stoke", "Preston"})
ALL = re.compile(r"\b(?:all|every|everything|both)\b", re.IGNORECASE)


@functools.cache
def towns() -> tuple[str, ...]:
    """Our city list: the ``location`` lookup table of the NLU data."""
    data = yaml.safe_load((PROJECT_ROOT / "data" / "nlu" / "entities.yml").read_text())
    lookup = next(item for item in data["nlu"] if item.get("lookup") == "location")
    return tuple(line.strip("- ").strip() for line in lookup["examples"].splitlines()
                 if line.strip("- ").strip())


def phone_numbers(text: str) -> list[str]:
    """UK mobile numbers in the text, in international form (447700900123)."""
    found = []
    for match in PHONE.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group(0))
        found.append("44" + digits[1:] if digits.startswith("0") else digits)
    return found


def scrub(text: str) -> str:
    """The text without numbers that are not amounts or dates (phones, references)."""
    return REFERENCE.sub(" ", PHONE.sub(" ", text or ""))


def secret_looking(text: str) -> bool:
    """A message that names or holds a secret: never a request to act on."""
    return bool(SECRET_WORDS.search(text or "") or re.search(r"(?<!\d)\d{4,8}(?!\d)",
                                                            scrub(text)))


# --- Money ---

def _digits(text: str) -> str:
    return alpha2digit(text, "en", threshold=0)


def money_pence(text: str, bare: bool = False) -> int | None:
    """An amount of money in pence: "£2.50", "2.50", "12 quid", "two fifty", "50p"; a bare
    number ("12") only when ``bare`` (the answer to "how much?")."""
    original = scrub(text)
    cleaned = _digits(POSTCODE.sub(" ", original)).replace(",", "")
    patterns = [
        (r"£\s?(\d+)(?:\.(\d{1,2}))?", 1),
        (r"(\d+)\s?(?:pounds?|quid|gbp)(?:\s*(?:and\s*)?(\d{1,2})\s?(?:p\b|pence)?)?", 1),
        (r"(?<![\d.])(\d+)\.(\d{2})(?![\d.])", 1),
        (r"(?<![\d.£])(\d{1,3})\s?(?:p|pence)\b", 0),
    ]
    if not re.search(r"\d", original):  # "two fifty": only words became these digits
        patterns.append((r"\b(\d{1,3}) (\d{2})\b", 1))
    if bare:
        patterns.append((r"(?<![\d.])(\d{1,5})(?![\d.]|\s?(?:gb|g\b|gig|mb|min))", 1))
    for pattern, pounds in patterns:
        match = re.search(pattern, cleaned, re.IGNORECASE)
        if match:
            whole = int(match.group(1))
            pence = match.group(2) if match.lastindex and match.lastindex > 1 else None
            value = whole * 100 + int((pence or "0").ljust(2, "0")) if pounds else whole
            return value if 0 < value <= 1_000_000 else None
    return None


# --- Dates and months ---

DATE_WORDS = re.compile(
    r"\d|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|ago|"
    r"\b(?:last|this|past)\s+(?:week|month|year)|fortnight|\b(?:jan|feb|mar|apr|jun|jul|aug|"
    r"sep|sept|oct|nov|dec)[a-z]*\b|\bmay\b", re.IGNORECASE)
# dateparser does not read these: say them in words it does.
PHRASES = [(r"\b(?:the|last)\s+weekend\b", "saturday"), (r"\bthis (?:morning|afternoon)\b",
                                                         "today"),
           (r"\blast night\b", "yesterday"), (r"\ba couple of\b", "2"), (r"\ba few\b", "3")]


def _dates(text: str, today: date) -> list[tuple[str, date]]:
    """Dates mentioned in the text, not later than today, with the words that said them."""
    from dateparser.search import search_dates

    cleaned = scrub(text)
    cleaned = re.sub(r"£\s?\d+(?:\.\d+)?|\b\d+\.\d{2}\b", " ", cleaned)
    cleaned = POSTCODE.sub(" ", cleaned)
    for pattern, words in PHRASES:
        cleaned = re.sub(pattern, words, cleaned, flags=re.IGNORECASE)
    base = datetime.combine(today, datetime.min.time()).replace(hour=12)
    settings = {"PREFER_DATES_FROM": "past", "RELATIVE_BASE": base,
                "RETURN_AS_TIMEZONE_AWARE": False}
    found = search_dates(cleaned, languages=["en"], settings=settings) or []
    return [(words, when.date()) for words, when in found
            if _says_a_date(words, cleaned) and when.date() <= today]


def _says_a_date(words: str, text: str) -> bool:
    if not DATE_WORDS.search(words) or re.fullmatch(r"\s*\d+\s*", words):
        return False
    if re.fullmatch(r"\s*may\s*", words, re.IGNORECASE):  # "I may have": only "since May"
        return bool(re.search(r"\b(?:since|in|from|of|early|late|mid|last)\s+may\b", text,
                              re.IGNORECASE)) or "May" in words
    return True


def since_date(text: str, today: date) -> date | None:
    """When a problem started: "since last Monday", "two days ago", "3rd November"."""
    found = _dates(text, today)
    return found[0][1] if found else None


def bill_month(text: str, today: date) -> str | None:
    """A bill's month as ``2026-10``: "October", "my Oct bill", "last month", "2026-10"."""
    exact = re.search(r"\b(20\d\d)-(0[1-9]|1[0-2])\b", text or "")
    if exact:
        return exact.group(0)
    for words, when in _dates(text, today):
        if re.search(r"[a-z]{3,}|\d{1,2}/\d{4}", words, re.IGNORECASE) and not re.search(
                r"day|ago|yesterday|today|week", words, re.IGNORECASE):
            return f"{when:%Y-%m}"
    return None


# --- Places ---

def place(text: str) -> str | None:
    """Where a problem happens: a known town (typos forgiven), a UK postcode or a street."""
    parts: list[tuple[int, str]] = []
    street = STREET.search(text or "")
    if street and not re.fullmatch(r"(?:my|the|our|this|that|a)\s+\w+", street.group(0), re.I):
        parts.append((street.start(), street.group(0).strip()))
    town = _town(text or "")
    if town:
        parts.append(town)
    postcode = POSTCODE.search(text or "")
    if postcode:
        parts.append((postcode.start(), f"{postcode.group(1)} {postcode.group(2)}".upper()))
    elif OUTWARD_CODE.match(text or ""):  # the whole answer is a district: "LS6"
        parts.append((0, text.strip().upper()))
    return ", ".join(value for _, value in sorted(parts)) or None


def _town(text: str) -> tuple[int, str] | None:
    words = list(re.finditer(r"[A-Za-z][A-Za-z'-]+", text))
    candidates = []
    for size in (2, 1):  # "Milton Keynes" before "Milton"
        for i in range(len(words) - size + 1):
            start, end = words[i].start(), words[i + size - 1].end()
            candidates.append((start, text[start:end]))
    for start, said in candidates:
        for name in towns():
            if said.lower() == name.lower() and (name not in WORD_TOWNS or said == name):
                return start, name
    for start, said in candidates:  # typos: "Sheffeild", "Manchestr"
        if len(said) >= 6:
            match = process.extractOne(said, towns(), scorer=fuzz.ratio, score_cutoff=85)
            if match and match[0] not in WORD_TOWNS:
                return start, match[0]
    return None


# --- Our plans, packs and subscriptions ---

@dataclass(frozen=True)
class Mention:
    name: str
    full: bool  # every word of the name was said
    words: int
    position: int  # where it was said: the later, the more recent the customer's choice


def _normalise(text: str) -> list[str]:
    lowered = _digits(text or "").lower()
    lowered = re.sub(r"\bone\s*(?=g)", "1", lowered)
    lowered = re.sub(r"(\d+)\s*(?:gb|gigs?|gigabytes?|g)\b", r"\1gb", lowered)
    lowered = re.sub(r"\bgo\s*(\d+)", r"go \1", lowered)
    lowered = re.sub(r"subscri\w*|thing", " ", lowered)
    return re.findall(r"[a-z0-9]+", lowered)


def _same(word: str, said: str) -> bool:
    if word == said:
        return True
    return (not any(c.isdigit() for c in word) and len(word) >= 5
            and fuzz.ratio(word, said) >= 80)


def option(text: str, names: Sequence[str], exclude: Sequence[str] = ()) -> str | None:
    """The name of ours the customer meant, the most recently said if several: "unlimted
    max" is Unlimited Max, "a 5 gig boost" the 5GB Boost, "Family Share... no, Unlimited"
    Unlimited. Names in ``exclude`` (the plan they are on) are passed over."""
    said = _normalise(text)
    mentions = [m for name in names if name not in exclude
                for m in [_mention(name, said, names)] if m]
    if not mentions:
        return None
    best = max(mentions, key=lambda m: (m.position, m.full, m.words))
    return best.name


def _mention(name: str, said: list[str], names: Sequence[str]) -> Mention | None:
    words = _normalise(name)
    others = {w for other in names if other != name for w in _normalise(other)}
    hits = {w: [i for i, s in enumerate(said) if _same(w, s)] for w in words}
    unique = [w for w in words if hits[w] and w not in others and not w.isdigit()]
    anchors = [hits[w][-1] for w in unique] or [i for w in words for i in hits[w][-1:]]
    if not anchors:
        return None
    anchor = max(anchors)  # the words must be said together, around the latest mention
    near = [w for w in words if any(abs(i - anchor) <= len(words) for i in hits[w])]
    full = len(near) == len(words)
    if not full and not unique:
        return None
    return Mention(name, full, len(near), anchor)


def wants_all(text: str) -> bool:
    return bool(ALL.search(text or ""))


# --- A complaint in the customer's own words ---

PREAMBLE = re.compile(
    r"^\s*(?:(?:hi|hello|hey)\b[\s,!.]*)?(?:(?:i(?:'d| would)?\s+(?:want|like|wish|need)\s+to\s+"
    r"(?:make\s+|file\s+|lodge\s+|raise\s+|register\s+)?(?:a\s+|an\s+)?(?:formal\s+)?"
    r"complain(?:t)?(?:\s+about\s+\w+)?|complaint)\s*[:,.\-]\s*)", re.IGNORECASE)
GENERIC = frozenset(re.split(r"\s+", (
    "i im i'm ive i've me my mine you your yours we our a an the to of in on at for and or but "
    "is was are were be been am it its it's this that please pls hi hello hey want wanted "
    "would like wish need make file lodge raise register submit put open complaint complain "
    "complaining formal official about with service report problem issue dispute can could "
    "do so very just some")))


def description(text: str) -> str | None:
    """The text itself when it describes what happened (not just "I want to complain")."""
    words = re.findall(r"[A-Za-z0-9'£.]+", text or "")
    content = [w for w in words if w.lower().strip(".") not in GENERIC]
    if len(words) < 5 or len(content) < 3 or secret_looking(text):
        return None
    return (PREAMBLE.sub("", text).strip() or text.strip())[:2000]


# --- What was said in this request, turn by turn ---

SECRET_SLOTS = frozenset({"otp_code", "service_password"})
# A request's facts are not looked for before these: an earlier request was served or ended.
BOUNDARY_ACTIONS = frozenset({
    "action_after_verification", "action_change_plan", "action_buy_data_pack",
    "action_unsubscribe_vas", "action_report_lost_sim", "action_activate_roaming",
    "action_submit_complaint", "action_complaint_status", "action_cancel_flow",
    "action_leave_flow", "action_restart", "action_session_start"})


@dataclass(frozen=True)
class Turn:
    text: str
    intent: str | None
    entities: tuple[dict, ...]
    loop: str | None  # the form that was active when it was said
    requested: str | None  # the slot that form was asking for
    after_boundary: int  # how many boundaries came before it


def turns(events: Sequence[dict]) -> list[Turn]:
    """The customer's messages with the form state each answered (secrets left out)."""
    loop = requested = None
    boundaries, said = 0, []
    for event in events:
        kind = event.get("event")
        if kind == "active_loop":
            loop = event.get("name")
        elif kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind in ("restart", "session_started") or (
                kind == "action" and event.get("name") in BOUNDARY_ACTIONS):
            boundaries += 1
        elif kind == "user":
            parse = event.get("parse_data") or {}
            intent = (parse.get("intent") or {}).get("name")
            if intent in ("goodbye", "restart"):
                boundaries += 1
            if loop and requested in SECRET_SLOTS:
                continue  # a code or password: never read for anything else
            said.append(Turn(event.get("text") or "", intent,
                             tuple(parse.get("entities") or ()), loop if loop else None,
                             requested if loop else None, boundaries))
    return said


# A bare value typed out of context asks for what it names ("the 5GB Boost", "Go 10",
# "CMP-2026-000123"): the request it implies (data/rules/forms.yml routes such messages).
IMPLIED = {"data_pack": "buy_data_pack", "plan_name": "change_plan",
           "complaint_reference": "complaint_status"}


def implied_request(intent: str | None, entities: Sequence[dict]) -> str | None:
    """The request a message is: its intent, or for a bare value the one the value implies."""
    if intent != "inform":
        return intent
    return next((IMPLIED[e.get("entity")] for e in entities if e.get("entity") in IMPLIED), None)


def request_texts(events: Sequence[dict], request: str | None) -> list[str]:
    """What the customer said for this request, oldest first: the message that asked for it,
    what they said before it since the last request ended, and their non-secret answers to
    verification since (inside other flows' questions, only the request itself counts)."""
    said = turns(events)
    trigger = next((i for i in range(len(said) - 1, -1, -1)
                    if implied_request(said[i].intent, said[i].entities) == request), None)
    if trigger is None:
        return []
    start = said[trigger].after_boundary
    before = [t.text for t in said[:trigger]
              if t.after_boundary == start and t.loop in (None, "verification_form")]
    after = [t.text for t in said[trigger + 1:] if t.loop in (None, "verification_form")]
    return [*before, said[trigger].text, *after]


def latest_answer(events: Sequence[dict], form: str) -> Turn | None:
    """The customer's newest message if it answered this form (not another flow, not a
    secret), else None."""
    last_user = next((e for e in reversed(events) if e.get("event") == "user"), None)
    said = turns(events)
    if last_user is None or not said or said[-1].text != (last_user.get("text") or ""):
        return None
    return said[-1] if said[-1].loop == form else None


def first(texts: Sequence[str], read) -> object | None:
    """The value ``read`` finds in the newest text that has one."""
    for text in reversed(texts):
        value = read(text)
        if value is not None:
            return value
    return None


# --- Forms that listen ---

KIND_RETRIES = 2  # re-ask once with an example; a second miss offers a person
TYPED_CHANGE = re.compile(r"\b(?:change|edit|fix|correct|update)\b.*?\b(where|location|place|"
                          r"town|postcode|since|date|when|description|happened|month|bill|"
                          r"amount|plan|pack)\b", re.IGNORECASE)
TYPED_FIELDS = {"where": "complaint_location", "location": "complaint_location",
                "place": "complaint_location", "town": "complaint_location",
                "postcode": "complaint_location", "since": "complaint_since",
                "date": "complaint_since", "when": "complaint_since",
                "description": "complaint_description", "happened": "complaint_description",
                "month": "bill_period", "bill": "bill_period", "amount": "disputed_amount",
                "plan": "plan_choice", "pack": "pack_choice"}


def reask(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str,
          message: str) -> dict[str, Any]:
    """An answer of the wrong kind: ask again (the message carries an example), and after a
    second miss give up, so the flow offers a person."""
    return reject(dispatcher, tracker, slot, message, limit=KIND_RETRIES)


def changed_field(answer: Turn, required: Sequence[str]) -> str | None:
    """The field a summary's "Change ..." button (or "change the amount") asks to redo."""
    pressed = next((str(e.get("value")) for e in answer.entities
                    if e.get("entity") == "change_field"), None)
    typed = TYPED_CHANGE.search(answer.text)
    field_name = pressed or (TYPED_FIELDS[typed.group(1).lower()] if typed else None)
    return field_name if field_name in required and field_name != "confirmed" else None


class ListeningForm(FlowValidation):
    """A form that takes every value the customer's latest answer holds: the one asked for
    (its own validate_<slot>), others still missing, and at the summary a different value
    for one already shown (a change of mind), which shows the summary again."""

    listens_for: tuple[str, ...] = ()  # slots read from any answer, by ``read``

    async def read(self, slot: str, text: str, tracker: Tracker) -> Any | None:
        """The value of ``slot`` in ``text``, as its validation stores it, or None."""
        return None

    async def get_extraction_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[EventType]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker,
                                             domain)
        heard = await self._heard(tracker, required)
        return [*events, *(SlotSet(slot, value) for slot, value in heard.items())]

    async def _heard(self, tracker: Tracker, required: list[str]) -> dict[str, Any]:
        answer = latest_answer(tracker.events, self.form_name())
        if answer is None:
            return {}
        at_summary = tracker.get_slot("requested_slot") == "confirmed"
        field_name = changed_field(answer, required) if at_summary else None
        if field_name:
            return {field_name: None, "confirmed": None}
        found = {}
        for slot in self.listens_for:
            if (slot not in required or slot == tracker.get_slot("requested_slot")
                    or (tracker.get_slot(slot) is not None and not at_summary)):
                continue
            value = await self.read(slot, answer.text, tracker)
            if value is not None and value != tracker.get_slot(slot):
                found[slot] = value
        if found and at_summary:
            found["confirmed"] = None  # a changed summary is confirmed afresh
        return found

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[EventType]:
        """rasa_sdk's, except that a slot cleared to ask again is not an answer to check."""
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker,
                                             domain)
        slots = {k: v for k, v in tracker.slots_to_validate().items() if k in required}
        for name, value in list(slots.items()):
            method = getattr(self, f"validate_{name}", None)
            if value is None or method is None:
                continue
            output = await method(value, dispatcher, tracker, domain)
            slots.update(output)
            tracker.slots.update(output)
        return [SlotSet(name, value) for name, value in slots.items()]
