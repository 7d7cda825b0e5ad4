"""The unknown-words guard: what counts as not understood."""

from __future__ import annotations

import pytest

from bot.components.unknown_words import UnknownWordsFallback


@pytest.fixture
def guard() -> UnknownWordsFallback:
    return UnknownWordsFallback(None, None, {"what", "roaming", "options", "hi", "bye",
                                             "thanks", "no", "nope", "evening",
                                             "a"})


@pytest.mark.parametrize("text", ["xqzv blorptang wuggle", "asdf", "¿¿ zzz !!",
                                  "aaaa",  # squeezed to "a": too short to be a drawn-out word
                                  "ok", "tx",  # one edit from "no", "hi": too short to guess
                                  "thnkz", "opshuns"])
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
        "byeeee", "hiii", "noooo",  # drawn out
        "thaks", "evenin", "optoins", "nop",  # one typo away
    ],
)
def test_messages_with_a_known_word_or_a_value_are_not(guard, text):
    assert not guard.is_unknown(text)
