"""Canned answers for agents: the assistant's own FAQ answers (domain/faq.yml), by FAQ key, so
an agent's answer to a common question says what the bot would have said."""

from __future__ import annotations

import functools

import yaml

from switchboard.settings import PROJECT_ROOT

FAQ_DOMAIN = PROJECT_ROOT / "domain" / "faq.yml"


@functools.cache
def canned_answers() -> dict[str, str]:
    """FAQ key (``roaming``) -> the answer's text (the first variant)."""
    responses = yaml.safe_load(FAQ_DOMAIN.read_text())["responses"]
    return {name.split("/", 1)[1]: variants[0]["text"]
            for name, variants in sorted(responses.items())
            if name.startswith("utter_faq/") and variants and variants[0].get("text")}
