"""A value given with a request: the request is what the customer wants.

"07700 967960 here. get rid of the ringback tones thing" scored unsubscribe_vas 0.36 and inform
0.32: the number reads as ``inform``, the words as the request, and the two were close enough
for the FallbackClassifier's ambiguity rule to answer "Sorry, I didn't understand" to a clear
request. When a message carries a value (a phone number, a code, a reference) and more words,
and ``inform`` is one of the classifier's two best guesses, the other guess is the intent if it
reaches the fallback threshold: the value still fills its slot from the entity (actions take
values from everything said). A message that is only a value is ``BareValues``' case.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.components.bare_values import VALUE_ENTITIES, is_bare_value
from bot.components.intents import choose_intent

NOT_A_REQUEST = frozenset({"inform", "nlu_fallback", "out_of_scope"})


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class ValueWithRequest(GraphComponent):
    """Prefers the request over ``inform`` in a message that gives a value and asks something.
    Config: ``threshold`` (the FallbackClassifier's, 0.3), the least confidence the request
    needs."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"threshold": 0.3}

    def __init__(self, config: dict[str, Any]) -> None:
        self.threshold = float(config.get("threshold", 0.3))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ValueWithRequest:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            request = self.request_beside_a_value(message)
            if request is not None:
                choose_intent(message, request)
        return messages

    def request_beside_a_value(self, message: Message) -> str | None:
        """The request intent to choose, or None when the rule does not apply."""
        if (message.get(INTENT) or {}).get("name") not in ("inform", "nlu_fallback"):
            return None
        if is_bare_value(message) or not any(
                e.get("entity") in VALUE_ENTITIES for e in message.get(ENTITIES) or []):
            return None
        best_two = [c for c in message.get(INTENT_RANKING_KEY) or []
                    if c.get("name") != "nlu_fallback"][:2]
        if "inform" not in {c.get("name") for c in best_two}:
            return None
        other = [c for c in best_two if c.get("name") not in NOT_A_REQUEST]
        if other and other[0].get("confidence", 0.0) >= self.threshold:
            return other[0]["name"]
        return None
