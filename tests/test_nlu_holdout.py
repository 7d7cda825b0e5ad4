"""Intent accuracy on held-out examples that were written apart from the training data."""

from __future__ import annotations

from collections import Counter

from switchboard.settings import PROJECT_ROOT
from tests.nlu_data import examples_by_label

MIN_ACCURACY = 0.90


def predicted_label(parse: dict) -> str:
    """The full label: `faq/<key>` from the ResponseSelector for consultations, else the intent."""
    intent = parse["intent"]["name"]
    if intent == "faq":
        selected = parse.get("response_selector", {}).get("faq", {}).get("response", {})
        return selected.get("intent_response_key") or "faq"
    return intent


def test_holdout_intent_accuracy(assistant):
    holdout = examples_by_label(PROJECT_ROOT / "tests" / "nlu_holdout.yml")
    errors: Counter[tuple[str, str]] = Counter()
    total = 0
    for label, texts in holdout.items():
        for text in texts:
            total += 1
            got = predicted_label(assistant.parse(text))
            if got != label:
                errors[(label, got)] += 1
    accuracy = 1 - sum(errors.values()) / total
    summary = f"accuracy {accuracy:.3f} on {total} examples; confusions: {errors.most_common()}"
    print(summary)
    assert accuracy >= MIN_ACCURACY, summary
