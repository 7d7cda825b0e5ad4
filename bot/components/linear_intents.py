"""A linear intent classifier over the pretrained sentence features, blended with DIET's ranking.

With few examples per intent DIET learns mostly the words it saw: on BANKING77 10-shot it scores
68% with WordLlama's features added, while a logistic regression over the same sentence
features scores 81% (bench/nlu_bench.py, README "NLU benchmarks"). DIET stays for what it is good
at (our larger intents, word order); this component trains a multinomial logistic regression
(scikit-learn) on each message's dense sentence features plus its sparse ones scaled down, and
replaces the intent ranking by a mix of the two (``blend``): ``arithmetic``, ``blend`` x its
probabilities + (1 - ``blend``) x DIET's, or ``geometric``, a weighted geometric mean (a product
of experts, Hinton 2002). The arithmetic mean is the default and config.yml's choice: where the
two are sure and disagree it makes a tie, which the FallbackClassifier's ambiguity rule declines;
the geometric mean got 2.5 more points of our held-out messages right in
``bench/nlu_bench.py --only tune`` but declined fewer off-topic queries and answered
disagreements with sure wrong answers (README, "NLU benchmarks").
Persisted as plain arrays (no pickle).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

WEIGHTS_FILE = "linear_intents.npz"
RANKING_LENGTH = 10
OUT_OF_SCOPE = "out_of_scope"
FLOOR = 1e-6  # an intent beyond DIET's top ten: nearly, but not quite, impossible


def sentence_vector(message: Message, sparse_weight: float) -> scipy.sparse.csr_matrix | None:
    """The message's dense sentence features, then its sparse ones x ``sparse_weight`` (word
    and character n-gram counts are many and large: scaled down they refine, not dominate)."""
    _, dense = message.get_dense_features(TEXT)
    _, sparse = message.get_sparse_features(TEXT)
    if dense is None:
        return None
    parts = [scipy.sparse.csr_matrix(dense.features)]
    if sparse is not None and sparse_weight:
        parts.append(scipy.sparse.csr_matrix(sparse.features) * sparse_weight)
    return scipy.sparse.hstack(parts).tocsr()


def blend(linear: dict[str, float], earlier: dict[str, float], share: float,
          combine: str = "arithmetic", floor: float = FLOOR) -> dict[str, float]:
    """The two rankings (intent -> confidence) as one that sums to 1: ``geometric``,
    (linear + floor)^share x (earlier + floor)^(1 - share), renormalised; or ``arithmetic``,
    share x linear + (1 - share) x earlier. The floor bounds one ranking's veto: DIET says
    0.00 for out_of_scope and 1.00 for faq on "what are black holes". Raises ValueError for
    another ``combine``."""
    names = set(linear) | set(earlier)
    if combine == "arithmetic":
        mixed = {n: share * linear.get(n, 0.0) + (1 - share) * earlier.get(n, 0.0)
                 for n in names}
    elif combine == "geometric":
        mixed = {n: (linear.get(n, 0.0) + floor) ** share
                 * (earlier.get(n, 0.0) + floor) ** (1 - share) for n in names}
    else:
        raise ValueError(f"combine must be geometric or arithmetic, not {combine!r}")
    total = sum(mixed.values()) or 1.0
    return {name: value / total for name, value in mixed.items()}


def with_veto(mixed: dict[str, float], linear: dict[str, float],
              veto: float | None) -> dict[str, float]:
    """``mixed``, unless the regression gives ``out_of_scope`` at least ``veto``: then
    out_of_scope first with that confidence. None (the default): no veto. Measured with
    ``tune`` (DIET calls "what are black holes" a FAQ at 1.00, the regression off-topic at
    0.94): it declined no more held-out off-topic queries and cost up to 2.8 points in scope,
    so config.yml does not set it."""
    off_topic = linear.get(OUT_OF_SCOPE, 0.0)
    if veto is None or off_topic < veto or max(mixed, key=mixed.get) == OUT_OF_SCOPE:
        return mixed
    rest = {name: value for name, value in mixed.items() if name != OUT_OF_SCOPE}
    scale = (1 - off_topic) / (sum(rest.values()) or 1.0)
    return {OUT_OF_SCOPE: off_topic, **{name: v * scale for name, v in rest.items()}}


def softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class LinearIntentBlend(GraphComponent, IntentClassifier):
    """Logistic regression on sentence features, blended into the earlier classifier's ranking."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # C: inverse L2 strength; blend: this model's share of the final confidence (0-1);
        # combine: geometric or arithmetic (see ``blend``).
        # out_of_scope_veto: the regression's out_of_scope probability that decides alone
        # (None: never).
        return {"C": 1.0, "sparse_weight": 0.1, "blend": 0.5, "combine": "arithmetic",
                "floor": FLOOR, "out_of_scope_veto": None, "max_iter": 2000}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 weights: dict[str, np.ndarray] | None = None) -> None:
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.weights = weights

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LinearIntentBlend:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LinearIntentBlend:
        try:
            with model_storage.read_from(resource) as directory, \
                    np.load(directory / WEIGHTS_FILE, allow_pickle=False) as stored:
                weights = {name: stored[name] for name in stored.files}
        except ValueError:  # trained without examples: nothing to blend
            weights = None
        return cls(config, model_storage, resource, weights)

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        rows, labels = [], []
        for example in training_data.intent_examples:
            vector = sentence_vector(example, self.config["sparse_weight"])
            if vector is not None:
                rows.append(vector)
                labels.append(example.get(INTENT))
        if len(set(labels)) < 2:
            return self._resource
        model = LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"])
        model.fit(scipy.sparse.vstack(rows).tocsr(), labels)
        self.weights = {"coef": model.coef_.astype(np.float32),
                        "intercept": model.intercept_.astype(np.float32),
                        "classes": np.array(model.classes_, dtype=str)}
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / WEIGHTS_FILE, **self.weights)
        return self._resource

    def probabilities(self, vector: scipy.sparse.csr_matrix) -> dict[str, float]:
        coef = self.weights["coef"]
        width = min(vector.shape[1], coef.shape[1])  # same featurizers: equal widths
        scores = vector[:, :width] @ coef[:, :width].T + self.weights["intercept"]
        if scores.shape[1] == 1:  # two classes: one row of weights, P(second) = sigmoid
            scores = np.hstack([np.zeros_like(scores), scores])
        probs = softmax(np.asarray(scores))[0]
        return dict(zip(self.weights["classes"].tolist(), probs.tolist(), strict=True))

    def process(self, messages: list[Message]) -> list[Message]:
        if self.weights is None:
            return messages
        for message in messages:
            vector = sentence_vector(message, self.config["sparse_weight"])
            if vector is not None:
                self._blend(message, self.probabilities(vector))
        return messages

    def _blend(self, message: Message, linear: dict[str, float]) -> None:
        earlier = {c["name"]: c["confidence"] for c in message.get(INTENT_RANKING_KEY) or []}
        blended = with_veto(blend(linear, earlier, self.config["blend"],
                                  self.config["combine"], self.config["floor"]),
                            linear, self.config["out_of_scope_veto"])
        ranking = [{"name": name, "confidence": confidence} for name, confidence in
                   sorted(blended.items(), key=lambda kv: -kv[1])[:RANKING_LENGTH]]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
