"""Fall back when a message has no word the assistant was ever trained on.

DIET's character n-grams give some intent 0.35-0.45 confidence even for keyboard mashing
("xqzv blorptang wuggle"), above any threshold that keeps real messages: a message none of
whose words occur in the training data is not understood, whatever the classifier says.
Words with digits count as known, since they are values (phone numbers, codes, references).

A customer's spelling is forgiven, narrowly (keyboard mashing must still be refused: a rule
that let random 3-letter strings through read "asd jkl sdf" as yes):
- a word drawn out is known when shrinking each run of three or more of a letter to one or two
  gives a trained word exactly ("helloooo" -> hello, "byeee" -> bye, "nooo" -> no);
- a word of five letters or more is known when it is one edit (insertion, deletion,
  substitution or swap of neighbours: the optimal string alignment distance, rapidfuzz) from a
  trained word of five letters or more of a request we serve ("evenin" -> evening, "optoins"
  -> options); the off-topic examples' words are not candidates, or "null" would pass as hull.
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
DRAWN_OUT = re.compile(r"(.)\1{2,}")  # three or more of one letter
MIN_FUZZY_LENGTH = 5  # one edit in fewer letters turns random strings into words
OFF_TOPIC = "out_of_scope"
VOCABULARY_FILE = "vocabulary.json"


def words_of(text: str) -> list[str]:
    return [word.lower() for word in WORD.findall(text)]


def undrawn(word: str) -> set[str]:
    """The word with each run of three or more of a letter made one or two of it, every way
    ("byeee" -> {"bye", "byee"}); empty when it has no such run."""
    forms = {""}
    position = 0
    for run in DRAWN_OUT.finditer(word):
        middle = word[position:run.start()]
        forms = {f + middle + run.group(1) * n for f in forms for n in (1, 2)}
        position = run.end()
    return {f + word[position:] for f in forms} if position else set()


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class UnknownWordsFallback(GraphComponent):
    """Sets `nlu_fallback` on messages whose words are all unknown to the training data."""

    def __init__(
        self, model_storage: ModelStorage, resource: Resource, vocabulary: set[str],
        in_scope: set[str] | None = None,
    ) -> None:
        """``vocabulary``: every trained word; ``in_scope``: those of examples we serve (not
        off-topic), the candidates for a misspelling (default: the whole vocabulary)."""
        self._model_storage = model_storage
        self._resource = resource
        self._use(vocabulary, vocabulary if in_scope is None else in_scope)

    def _use(self, vocabulary: set[str], in_scope: set[str]) -> None:
        self.vocabulary = vocabulary
        self._fuzzy_candidates = sorted(w for w in in_scope if len(w) >= MIN_FUZZY_LENGTH)

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
            stored = json.loads((directory / VOCABULARY_FILE).read_text())
        return cls(model_storage, resource, set(stored["words"]), set(stored["in_scope"]))

    def train(self, training_data: TrainingData) -> Resource:
        vocabulary, in_scope = set(), set()
        for example in training_data.training_examples:
            words = words_of(example.get(TEXT) or "")
            vocabulary.update(words)
            if example.get("intent") != OFF_TOPIC:
                in_scope.update(words)
        for table in training_data.lookup_tables:
            for element in table["elements"]:
                vocabulary.update(words_of(element))
                in_scope.update(words_of(element))
        self._use(vocabulary, in_scope)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(
                json.dumps({"words": sorted(vocabulary), "in_scope": sorted(in_scope)}))
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
        """Trained, a value (has a digit), a trained word drawn out, or a long word one typo
        from a long trained word of a request we serve."""
        if word in self.vocabulary or any(ch.isdigit() for ch in word):
            return True
        if any(len(form) >= 2 and form in self.vocabulary for form in undrawn(word)):
            return True  # "zzz" is not a drawn-out "z"
        return len(word) >= MIN_FUZZY_LENGTH and process.extractOne(
            word, self._fuzzy_candidates, scorer=OSA.distance, score_cutoff=1
        ) is not None

    @staticmethod
    def _set_fallback(message: Message) -> None:
        choose_intent(message, DEFAULT_NLU_FALLBACK_INTENT_NAME)
