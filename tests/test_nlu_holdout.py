"""Intent accuracy on held-out examples that were written apart from the training data: over the
whole set and for each label, on the running stack's model; and the guard that keeps the set
apart from the training data by more than spelling."""

from __future__ import annotations

from switchboard.nlu_report import (
    HOLDOUT_PATH,
    MIN_ACCURACY,
    MIN_LABEL_ACCURACY,
    score_holdout,
)
from switchboard.settings import PROJECT_ROOT
from tests.nlu_data import examples_by_label, near_duplicate

NLU_FILES = sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml"))


def test_holdout_examples_are_not_near_duplicates_of_training_examples():
    """A held-out example one word or a contraction away from a training example of its label
    measures memory, not understanding ("when's my bill due" / "when is my bill due")."""
    training = examples_by_label(*NLU_FILES)
    flagged = []
    for label, texts in examples_by_label(HOLDOUT_PATH).items():
        for text in texts:
            found = near_duplicate(text, training.get(label, []))
            if found:
                flagged.append(f"{label}: {text!r} ~ {found[0]!r} ({found[1]})")
    assert not flagged, f"{len(flagged)} near-duplicates:\n" + "\n".join(flagged)


def test_near_duplicates_are_found():
    """The guard itself: what it must catch, and what it must let through."""
    assert near_duplicate("when's my bill due", ["when is my bill due"])
    assert near_duplicate("I've lost my phone", ["i lost my phone"])
    assert near_duplicate("Whats my balance??", ["what's my balance"])
    assert near_duplicate("please block my sim card now", ["block my sim card"])
    assert near_duplicate("roaming activate please", ["activate roaming please"])
    assert near_duplicate("how do I set up voicemial", ["how do I set up voicemail"])
    assert not near_duplicate("hiya", ["hi"])
    assert not near_duplicate("oi, my bill's gone mental this month", ["my bill is wrong"])


def test_holdout_intent_accuracy(assistant):
    score = score_holdout(assistant.parse)
    summary = score.summary(worst=8)
    print(summary)
    assert score.accuracy >= MIN_ACCURACY, summary
    below = score.below(MIN_LABEL_ACCURACY)
    assert not below, f"labels under {MIN_LABEL_ACCURACY}: {below}\n{summary}"
