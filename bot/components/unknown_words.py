"""Fall back when a message has no word the assistant was ever trained on.

DIET's character n-grams give some intent 0.35-0.45 confidence even for keyboard mashing
("xqzv blorptang wuggle"), above any threshold that keeps real messages: a message none of
whose words occur in the training data is not understood, whatever the classifier says.
Words with digits count as known, since they are values (phone numbers, codes, references).
A customer's spelling is forgiven: a word is known if it is a trained word drawn out
("helloooo", "yess": repeated letters squeezed) or one edit from a trained word of three
letters or more ("thnx", "evenin", "optoins": one insertion, deletion, substitution or swap of
neighbours, the optimal string alignment distance, rapidfuzz), so only text with nothing near
our vocabulary is refused here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import payloads
from bot.components.intents import choose_intent

WORD = re.compile(r"[^\W_]+")
REPEATS = re.compile(r"(.)\1+")
MIN_FUZZY_LENGTH = 3  # "ok" is one edit from "on", "lol" from "ll": too short to guess
VOCABULARY_FILE = "vocabulary.json"


def words_of(text: str) -> list[str]:
    return [word.lower() for word in WORD.findall(text)]


def squeezed(word: str) -> str:
    """The word with each run of a repeated letter made one ("byeee" -> "bye")."""
    return REPEATS.sub(r"\1", word)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class UnknownWordsFallback(GraphComponent):
    """Sets `nlu_fallback` on messages whose words are all unknown to the training data."""

    def __init__(
        self, model_storage: ModelStorage, resource: Resource, vocabulary: set[str]
    ) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary

    @property
    def vocabulary(self) -> set[str]:
        return self._vocabulary

    @vocabulary.setter
    def vocabulary(self, words: set[str]) -> None:
        self._vocabulary = words
        self._squeezed = {squeezed(word) for word in words}
        self._fuzzy_candidates = sorted(w for w in words if len(w) >= MIN_FUZZY_LENGTH)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsFallback:
        return cls(model_storage, resource, set())

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsFallback:
        with model_storage.read_from(resource) as directory:
            vocabulary = json.loads((directory / VOCABULARY_FILE).read_text())
        return cls(model_storage, resource, set(vocabulary))

    def train(self, training_data: TrainingData) -> Resource:
        vocabulary = set()
        for example in training_data.training_examples:
            vocabulary.update(words_of(example.get(TEXT) or ""))
        for table in training_data.lookup_tables:
            for element in table["elements"]:
                vocabulary.update(words_of(element))
        self.vocabulary = vocabulary
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(json.dumps(sorted(vocabulary)))
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if payloads.is_marked(message.get("metadata")):
                continue  # a button the assistant offered: not words to know
            if self.is_unknown(message.get(TEXT) or ""):
                self._set_fallback(message)
        return messages

    def is_unknown(self, text: str) -> bool:
        if text.startswith("/"):  # an intent payload from a button
            return False
        words = words_of(text)
        return bool(words) and not any(self.is_known(word) for word in words)

    def is_known(self, word: str) -> bool:
        """Trained, a value (has a digit), drawn out, or one typo from a trained word."""
        if word in self._vocabulary or any(ch.isdigit() for ch in word):
            return True
        if len(squeezed(word)) >= 2 and squeezed(word) in self._squeezed:
            return True
        return len(word) >= MIN_FUZZY_LENGTH and process.extractOne(
            word, self._fuzzy_candidates, scorer=OSA.distance, score_cutoff=1
        ) is not None

    @staticmethod
    def _set_fallback(message: Message) -> None:
        choose_intent(message, DEFAULT_NLU_FALLBACK_INTENT_NAME)
