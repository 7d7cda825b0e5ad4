"""A consultation answer is given only when the ResponseSelector is sure enough of it.

The FallbackClassifier judges the intent (``faq``) but not which of the 14 answers the
ResponseSelector picked: a message that is clearly a question yet matches no answer well got
the nearest one anyway. Below ``threshold`` (the picked answer's confidence, 0-1; tuned with
``bench/nlu_bench.py --only tune`` on data held out from training) the message becomes
``nlu_fallback``, so the customer is asked to rephrase instead of reading a wrong answer.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT
from rasa.shared.nlu.training_data.message import Message

from bot.components.intents import choose_intent

RESPONSE_SELECTOR = "response_selector"


def retrieval_confidence(message: Message, retrieval_intent: str) -> float | None:
    """The confidence of the answer the ResponseSelector picked, if it picked one."""
    selected = (message.get(RESPONSE_SELECTOR) or {}).get(retrieval_intent) or {}
    response = selected.get("response") or {}
    return response.get("confidence")


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class RetrievalThreshold(GraphComponent):
    """Turns a low-confidence retrieval into ``nlu_fallback``."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"retrieval_intent": "faq", "threshold": 0.5}

    def __init__(self, config: dict[str, Any]) -> None:
        self.retrieval_intent = config["retrieval_intent"]
        self.threshold = float(config["threshold"])

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> RetrievalThreshold:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if (message.get(INTENT) or {}).get("name") != self.retrieval_intent:
                continue
            confidence = retrieval_confidence(message, self.retrieval_intent)
            if confidence is not None and confidence < self.threshold:
                choose_intent(message, DEFAULT_NLU_FALLBACK_INTENT_NAME)
        return messages
