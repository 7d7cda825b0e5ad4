"""The unknown-words guard: what counts as not understood."""

from __future__ import annotations

import pytest

from bot.components.unknown_words import UnknownWordsFallback

IN_SCOPE = {"what", "roaming", "options", "hi", "bye", "thanks", "no", "good", "evening",
            "balance", "a"}
OFF_TOPIC_ONLY = {"recipe", "oui", "add", "deal", "hull"}  # words of out_of_scope examples


@pytest.fixture
def guard() -> UnknownWordsFallback:
    return UnknownWordsFallback(None, None, IN_SCOPE | OFF_TOPIC_ONLY, IN_SCOPE)


@pytest.mark.parametrize("text", [
    "xqzv blorptang wuggle", "asdf", "¿¿ zzz !!",
    "aaaa",  # "a" drawn out? too short to tell from a scream
    "ok", "nop", "yui", "asd jkl sdf",  # one edit from "no", "oui", "add": too short to guess
    "null",  # one edit from "hull", but four letters
    "thnkz", "opshuns",  # two edits away
    "recipy",  # one edit from a word only the off-topic examples use
    "god",  # "good" squeezed, but not drawn out
])
def test_messages_without_a_known_word_are_unknown(guard, text):
    assert guard.is_unknown(text)


@pytest.mark.parametrize(
    "text",
    [
        "what roaming options do you have?",  # known words among unknown ones
        "HI",  # case does not matter
        "07700 900123",  # values: numbers are never "unknown words"
        "CMP-2026-000123",
        "/request_human",  # a button payload
        "",  # nothing to judge
        "?!",
        "byeeee", "hiii", "noooo", "goooood",  # drawn out
        "thaks", "evenin", "optoins", "balanse",  # five letters or more, one typo away
        "oui", "recipe",  # trained, if only off-topic: the classifier declines them
    ],
)
def test_messages_with_a_known_word_or_a_value_are_not(guard, text):
    assert not guard.is_unknown(text)
