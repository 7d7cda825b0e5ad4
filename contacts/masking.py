"""Mask secrets (one-time codes, service passwords, PUK and PIN codes) before text is stored.

Three signals, any of which masks: the bot had just asked for a secret (the whole reply is the
secret), the NLU extracted a secret entity, or the text says "code/password/PIN/PUK ... 1234".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "[redacted]"

# Slots and entities whose values are secrets.
SECRET_NAMES = frozenset({"otp_code", "service_password", "password", "pin", "puk"})

_SECRET_AFTER_WORD = re.compile(
    r"(?i)\b(code|otp|password|passcode|pass|pin|puk|pwd)\b"
    r"(\W{0,3}(?:(?:it'?s|it is|is|was|=|:)\W{0,3})?)"
    r"((?=[A-Za-z]*\d)[A-Za-z0-9]{4,12})\b"  # a value with a digit: "my code is wrong" stays
)
# A message that is only a short number (spaces allowed: "112 359") is a code. Not dashes: a
# bill month "2026-10" is a value some slots hold.
_LONE_DIGITS = re.compile(r"^\s*(?:\d ?){3,7}\d\s*$")


def mask_secrets(
    text: str,
    entities: Iterable[Mapping[str, Any]] = (),
    expects_secret: bool = False,
) -> str:
    """The text with every secret replaced by ``[redacted]``."""
    if not text:
        return text
    if expects_secret or _LONE_DIGITS.match(text):
        return MASK
    for entity in sorted(entities, key=lambda e: e.get("start", 0), reverse=True):
        if entity.get("entity") in SECRET_NAMES:
            start, end = entity.get("start"), entity.get("end")
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
                text = text[:start] + MASK + text[end:]
    return _SECRET_AFTER_WORD.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def mask_tracker_events(events: list[dict[str, Any]],
                        secret_slots: Iterable[str] = frozenset({"otp_code",
                                                                 "service_password"})) -> None:
    """Mask, in place, the serialised events of a Rasa tracker before it is stored: the
    customer's answer to a secret question (``requested_slot`` one of ``secret_slots``), secrets
    in any other message (as ``mask_secrets``), secret slot values, and secrets in the bot's
    own texts (a PUK it gave). Nested dicts are replaced, never mutated: they may be shared with
    the live tracker's events, which the running turn still uses."""
    secret_slots = frozenset(secret_slots)
    asked = False
    for index, event in enumerate(events):
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            asked = event.get("value") in secret_slots
        elif kind == "slot" and event.get("name") in SECRET_NAMES | secret_slots \
                and event.get("value") not in (None, MASK):
            events[index] = {**event, "value": MASK}
        elif kind == "slot" and isinstance(event.get("value"), str) and event["value"]:
            # a slot filled from the whole message ("password, it's 135790" as the method)
            events[index] = {**event, "value": mask_secrets(event["value"])}
        elif kind == "user" and event.get("text"):
            events[index] = _masked_user(event, asked)
        elif kind == "bot" and event.get("text"):
            events[index] = {**event, "text": mask_secrets(event["text"])}


def _masked_user(event: dict[str, Any], asked: bool) -> dict[str, Any]:
    parse_data = event.get("parse_data") or {}
    entities = parse_data.get("entities") or []
    text = mask_secrets(event["text"], entities, asked)
    # A secret entity loses its value and its offsets (they pointed into the unmasked text).
    safe_entities = [{**e, "value": MASK, "start": None, "end": None}
                     if e.get("entity") in SECRET_NAMES else e for e in entities]
    return {**event, "text": text,
            "parse_data": {**parse_data, "text": text, "entities": safe_entities}}
