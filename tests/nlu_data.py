"""Read Rasa NLU YAML files into {label: [example texts]} with entity markup removed, and find
held-out examples that are near-duplicates of training examples."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from switchboard.nlu_report import examples_by_label, plain_text

__all__ = ["examples_by_label", "near_duplicate", "normalise", "plain_text"]

# Contractions, written with or without the apostrophe, become their full words, so "when's my
# bill due" and "when is my bill due" are one text.
_WHOLE = {"won't": "will not", "can't": "can not", "cannot": "can not", "shan't": "shall not",
          "let's": "let us", "ain't": "is not"}
_ENDINGS = (("n't", " not"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"),
            ("'d", " would"), ("'m", " am"), ("'s", " is"))
_BARE = {"whats": "what is", "whens": "when is", "wheres": "where is", "hows": "how is",
         "thats": "that is", "theres": "there is", "im": "i am", "ive": "i have",
         "youre": "you are", "dont": "do not", "doesnt": "does not", "didnt": "did not",
         "cant": "can not", "wont": "will not", "isnt": "is not", "arent": "are not",
         "wasnt": "was not", "havent": "have not", "hasnt": "has not", "couldnt": "could not",
         "wouldnt": "would not", "shouldnt": "should not", "lets": "let us"}

# Two texts are near-duplicates when, normalised, they are the same words; or one word apart
# (added, dropped or swapped) and not both one word long; or the held-out one contains a whole
# training example of three words or more; or their characters are this similar (rapidfuzz's
# normalised Indel similarity, also with the words sorted: misspellings, reordering).
SIMILARITY = 90
CONTAINED_WORDS = 3


def normalise(text: str) -> list[str]:
    """Lower case, contractions spelled out, punctuation gone: the words of a text."""
    text = text.lower().replace("\u2019", "'")
    for short, full in _WHOLE.items():
        text = text.replace(short, full)
    for ending, full in _ENDINGS:
        text = re.sub(rf"(\w){ending}\b", rf"\1{full}", text)
    words = re.sub(r"[^\w\s]", " ", text).split()
    return " ".join(_BARE.get(word, word) for word in words).split()


def near_duplicate(held_out: str, trained: Iterable[str]) -> tuple[str, str] | None:
    """The first training example ``held_out`` is a near-duplicate of, and why; else None."""
    words = normalise(held_out)
    for example in trained:
        other = normalise(example)
        if words == other:
            return example, "the same words"
        if max(len(words), len(other)) >= 2 and Levenshtein.distance(words, other) <= 1:
            return example, "one word apart"
        if len(other) >= CONTAINED_WORDS and _contains(words, other):
            return example, "contains it"
        a, b = " ".join(words), " ".join(other)
        if max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) >= SIMILARITY:
            return example, "similar characters"
    return None


def _contains(words: list[str], part: list[str]) -> bool:
    return any(words[i:i + len(part)] == part for i in range(len(words) - len(part) + 1))
