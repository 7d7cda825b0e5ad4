"""Pretrained dense features for DIET and the ResponseSelector: WordLlama's static embeddings.

Our sparse features (word and character n-gram counts) know only words seen in training; a
pretrained representation lets "I need to see my usage" land near "how much data have I used".
WordLlama (Lee Miller, MIT licence) distils a large language model's token embeddings into a
32,000 x 256 table over Llama 2's tokenizer; a message's vector is the mean of its tokens' rows.
Chosen by ``bench/nlu_bench.py`` over all-MiniLM-L6-v2 (README, NLU benchmarks): as good on
BANKING77 10-shot for about 1/400th of the CPU per message, and no transformer runtime.

The vectors come inside the ``wordllama`` wheel, which ``make`` fetches with ``pip download
--no-deps`` into ``<venv>/share/switchboard/`` (the package itself pins numpy >= 2 and pydantic
>= 2, which Rasa 3.6 cannot take, so it is never installed or imported: the weights and the
tokenizer are read straight from the wheel). Nothing is downloaded at run time. Both files'
SHA-256 are pinned below: a different file is refused, never silently used.

Features: one 256-dim sentence vector (mean over the message's subword tokens) and one 256-dim
vector per whitespace token (mean over that word's subwords), as DIET's dense sequence features.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer as RasaTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

WHEEL_PATTERN = "wordllama-0.4.0.post1-*.whl"  # the version the Makefile fetches
WEIGHTS_MEMBER = "wordllama/weights/l2_supercat_256.safetensors"
WEIGHTS_SHA256 = "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5"
TOKENIZER_MEMBER = "wordllama/tokenizers/l2_supercat_tokenizer_config.json"
TOKENIZER_SHA256 = "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68"
DIMENSIONS = 256


class WeightsRefused(RuntimeError):
    """The embedding files are missing or are not the ones pinned here."""


def default_wheel_dir() -> Path:
    """Where ``make`` puts the wheel: the virtualenv's data directory."""
    return Path(sys.prefix) / "share" / "switchboard"


def _checked(archive: zipfile.ZipFile, member: str, sha256: str) -> bytes:
    data = archive.read(member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise WeightsRefused(f"{member} has SHA-256 {digest}, expected {sha256}: refusing it")
    return data


@functools.lru_cache(maxsize=2)
def load_embeddings(wheel_dir: str) -> tuple[Any, np.ndarray]:
    """(tokenizer, 32000 x 256 float16 table) from the wheel in ``wheel_dir``, hashes checked.

    Cached: training and loading a model in one process read the 16 MB table once.
    """
    from safetensors.numpy import load as load_safetensors
    from tokenizers import Tokenizer

    wheels = sorted(Path(wheel_dir).glob(WHEEL_PATTERN))
    if not wheels:
        raise WeightsRefused(f"no {WHEEL_PATTERN} in {wheel_dir}: run `make setup` (it fetches "
                             "the wheel), or remove SentenceFeaturizer from config.yml")
    with zipfile.ZipFile(wheels[-1]) as archive:
        table = load_safetensors(_checked(archive, WEIGHTS_MEMBER, WEIGHTS_SHA256))
        tokenizer_json = _checked(archive, TOKENIZER_MEMBER, TOKENIZER_SHA256).decode()
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    (embedding,) = table.values()  # float16 as shipped: 16 MB per process, not 32
    return tokenizer, np.ascontiguousarray(embedding)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense sentence and token features from WordLlama's pretrained static embeddings."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [RasaTokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["tokenizers", "safetensors"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "wheel_dir": None, "normalize": True}

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        wheel_dir = self._config.get("wheel_dir") or default_wheel_dir()
        self.tokenizer, self.table = load_embeddings(str(wheel_dir))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentenceFeaturizer:
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to validate: the files are checked when loaded."""

    def embed(self, texts: list[str]) -> np.ndarray:
        """One mean-of-subwords vector per text (zeros for a text with no token), scaled to
        length sqrt(256) = 16: a mean's length shrinks with the number of tokens averaged (one
        token ~10, five ~3), which says nothing about meaning; at 16 each dimension is ~1,
        the scale of DIET's other inputs."""
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(
                texts, add_special_tokens=False)):
            if encoding.ids:
                vectors[row] = self.table[encoding.ids].astype(np.float32).mean(axis=0)
        if self._config.get("normalize", True):
            lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors *= np.sqrt(DIMENSIONS) / np.maximum(lengths, 1e-6)
        return vectors

    def _featurize(self, message: Message, attribute: str) -> None:
        tokens = message.get(TOKENS_NAMES[attribute])
        if not tokens:
            return
        sequence = self.embed([token.text for token in tokens])
        sentence = self.embed([message.get(attribute)])
        self.add_features_to_message(sequence, sentence, attribute, message)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
                self._featurize(message, attribute)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
