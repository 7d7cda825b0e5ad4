"""A message that is nothing but a value (a number, a code, a reference) is ``inform``.

Digit-only messages carry no meaning for a classifier: with 500 off-topic training examples
and pretrained features, "222222" scored out_of_scope as often as inform. A message whose text
is all covered by extracted value entities (phone numbers, codes, complaint references, from
the regexes in data/nlu/entities.yml) is a value the customer gives us, whatever else
the classifiers say.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.intents import choose_intent

VALUE_ENTITIES = frozenset({"phone_number", "otp_code", "complaint_reference"})
LEFTOVER = re.compile(r"[^\W_]")  # a letter or digit outside every value


def is_bare_value(message: Message) -> bool:
    """True when the entities of ``VALUE_ENTITIES`` cover every letter and digit."""
    text = message.get(TEXT) or ""
    spans = [(e["start"], e["end"]) for e in message.get(ENTITIES) or []
             if e.get("entity") in VALUE_ENTITIES and e.get("end", 0) > e.get("start", 0)]
    if not spans:
        return False
    rest = list(text)
    for start, end in spans:
        rest[start:end] = " " * (end - start)
    return not LEFTOVER.search("".join(rest))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class BareValues(GraphComponent):
    """Sets ``inform`` on messages that are only values."""

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> BareValues:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if is_bare_value(message) and (message.get(INTENT) or {}).get("name") != "inform":
                choose_intent(message, "inform")
        return messages
