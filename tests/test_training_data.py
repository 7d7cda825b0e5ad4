"""The training data honours the intent catalogue and stays apart from the held-out set."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from switchboard.settings import PROJECT_ROOT
from tests.catalogue import ALL_LABELS, ENTITIES, FAQ_KEYS
from tests.nlu_data import examples_by_label

NLU_FILES = sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml"))
HOLDOUT = PROJECT_ROOT / "tests" / "nlu_holdout.yml"


def load_domain() -> dict:
    merged: dict = {"intents": [], "entities": [], "responses": {}}
    for path in sorted((PROJECT_ROOT / "domain").glob("*.yml")):
        part = yaml.safe_load(path.read_text())
        merged["intents"] += part.get("intents", [])
        merged["entities"] += part.get("entities", [])
        merged["responses"].update(part.get("responses", {}))
    return merged


@pytest.fixture(scope="module")
def training() -> dict[str, list[str]]:
    return examples_by_label(*NLU_FILES)


@pytest.mark.parametrize("label", ALL_LABELS)
def test_every_catalogue_label_has_20_distinct_examples(training, label):
    examples = training.get(label, [])
    assert len(set(map(str.lower, examples))) >= 20, f"{label}: {len(examples)} examples"


def test_training_data_has_no_labels_outside_the_catalogue(training):
    assert set(training) <= set(ALL_LABELS)


def test_domain_declares_the_catalogue():
    domain = load_domain()
    plain = {label.split("/")[0] for label in ALL_LABELS}
    assert plain <= set(domain["intents"])
    assert set(ENTITIES) <= set(domain["entities"])


@pytest.mark.parametrize("key", FAQ_KEYS)
def test_every_faq_key_has_a_real_answer(key):
    answers = load_domain()["responses"].get(f"utter_faq/{key}")
    assert answers, f"no response utter_faq/{key}"
    text = answers[0]["text"]
    assert len(text) >= 150 and text.count(".") >= 2, f"utter_faq/{key} is not a real answer"


def test_no_example_is_labelled_twice(training):
    seen: dict[str, str] = {}
    clashes = []
    for label, examples in training.items():
        for text in examples:
            other = seen.setdefault(text.lower(), label)
            if other != label:
                clashes.append((text, other, label))
    assert not clashes


def test_holdout_is_never_part_of_training(training):
    trained = {text.lower() for examples in training.values() for text in examples}
    holdout = examples_by_label(HOLDOUT)
    assert set(holdout) == set(ALL_LABELS), "the held-out set covers every label"
    leaked = [t for texts in holdout.values() for t in texts if t.lower() in trained]
    assert not leaked


def test_rasa_data_validate_passes():
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate", "--domain", "domain", "--data", "data",
         "--config", "config.yml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_every_account_request_has_a_configured_operation_category(migrated_db):
    from actions.account import OPERATION_CATEGORIES, SERVICE_LABELS
    from contacts import service

    assert set(OPERATION_CATEGORIES) == set(SERVICE_LABELS)
    with migrated_db.reading() as session:
        configured = {c["code"] for c in
                      service.contact_configuration(session)["operation_categories"]}
    assert set(OPERATION_CATEGORIES.values()) <= configured
