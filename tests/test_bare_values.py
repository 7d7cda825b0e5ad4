"""A message that is only a value is ``inform``; a value beside other words is not."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.components.bare_values import BareValues


def parsed(text: str, intent: str, *entities: tuple[str, str]) -> Message:
    found = []
    for kind, value in entities:
        start = text.index(value)
        found.append({"entity": kind, "start": start, "end": start + len(value), "value": value})
    return Message(data={"text": text, "entities": found,
                         "intent": {"name": intent, "confidence": 0.46},
                         "intent_ranking": [{"name": intent, "confidence": 0.46}]})


@pytest.mark.parametrize("message", [
    parsed("07700 900123", "out_of_scope", ("phone_number", "07700 900123")),
    parsed("CMP-2026-000123.", "check_bill", ("complaint_reference", "CMP-2026-000123")),
    parsed("Sheffield", "affirm", ("location", "Sheffield")),
    parsed("  unlimited max ", "change_plan", ("plan_name", "unlimited max")),
    parsed("1GB boost!", "buy_data_pack", ("data_pack", "1GB boost")),
])
def test_only_a_value_is_inform(message):
    BareValues().process([message])
    assert message.get("intent")["name"] == "inform"


@pytest.mark.parametrize("message", [
    parsed("is there 5g in Sheffield", "faq", ("location", "Sheffield")),
    parsed("switch me to unlimited max", "change_plan", ("plan_name", "unlimited max")),
    parsed("07700 900123 cancel ringback", "unsubscribe_vas", ("phone_number", "07700 900123")),
    parsed("yes", "affirm"),
])
def test_a_value_with_other_words_keeps_its_intent(message):
    before = message.get("intent")["name"]
    BareValues().process([message])
    assert message.get("intent")["name"] == before
