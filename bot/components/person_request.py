"""A request for a person anywhere in a message wins over what else the message says.

"my bill is way too high, I want to speak to someone" is classified by its larger part (a
billing dispute) and would start a form, ignoring the one thing the customer asked for. This
component runs after the classifiers and fallbacks: when the text asks for a person, the intent
becomes ``request_human`` (so every rule for it applies, inside a form too), and the business
intent the rest of the message was about becomes a ``topic`` entity, which the handoff uses as
its skill and reason (actions/human.py). A request that is negated ("I don't want an agent")
is left alone.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    INTENT_RANKING_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.components.intents import choose_intent

REQUEST_HUMAN = "request_human"
TOPIC_ENTITY = "topic"
# Intents that are not a topic for an agent: the conversation's own moves.
NOT_A_TOPIC = frozenset({"greet", "goodbye", "thank_you", "affirm", "deny", "bot_challenge",
                         REQUEST_HUMAN, "cancel", "restart", "out_of_scope", "inform",
                         "nlu_fallback"})
MIN_TOPIC_CONFIDENCE = 0.15  # of the whole message: the person phrase dilutes the topic

_WHO = (r"(?:(?:a|an|the|some|your|ur|yr|one of (?:your|ur))\s+)?"
        r"(?:real\s+|actual\s+|live\s+|proper\s+)?"
        r"(?:person|human(?:\s+being)?|agent|someone|somebody|some\s+one|advis[eo]r|"
        r"representative|rep|operator|manager|supervisor|staff|colleague|"
        r"customer\s+(?:service|care|support)(?:\s+(?:agent|team|rep|advis[eo]r))?)")
PERSON_REQUEST = re.compile(
    r"\b(?:(?:talk|speak|chat)(?:\s+(?:to|with))|get\s+through\s+to|"
    r"(?:put|transfer|connect|pass|send)\s+me\s+(?:through\s+|on\s+|over\s+)?(?:to|with))\s+"
    + _WHO + r"\b"
    r"|\b(?:want|need|get|give|gimme|prefer|rather\s+have)\s+(?:me\s+)?"
    r"(?:a|an|to\s+(?:talk|speak)\s+to\s+a)\s+(?:real\s+|actual\s+|live\s+)?"
    r"(?:person|human|agent|advis[eo]r|representative|operator)\b"
    r"|\b(?:human|agent|person|operator)\s+(?:please|pls|plz|now)\b",
    re.IGNORECASE,
)
NEGATION = re.compile(r"\b(?:don'?t|do\s+not|no\s+need|not|never|without)\b[\w\s']{0,20}$",
                      re.IGNORECASE)
WORD = re.compile(r"[^\W_]+")


def asks_for_person(text: str) -> re.Match | None:
    """The phrase asking for a person, unless it is negated just before."""
    for match in PERSON_REQUEST.finditer(text):
        if not NEGATION.search(text[: match.start()]):
            return match
    return None


def topic_of(message: Message, request: re.Match) -> str | None:
    """The business intent the rest of a mixed message is about, if it says enough."""
    text = message.get(TEXT) or ""
    rest = text[: request.start()] + " " + text[request.end():]
    if len(WORD.findall(rest)) < 3:  # "can I talk to someone please": nothing else said
        return None
    for candidate in message.get(INTENT_RANKING_KEY) or []:
        if candidate["name"] not in NOT_A_TOPIC:
            if candidate["confidence"] < MIN_TOPIC_CONFIDENCE:
                return None
            return faq_key(message) if candidate["name"] == "faq" else candidate["name"]
    return None


def faq_key(message: Message) -> str:
    """A consultation's own key ("faq/bill_explained": billing's agents), else "faq"."""
    selected = (message.get("response_selector") or {}).get("faq", {}).get("response", {})
    return selected.get("intent_response_key") or "faq"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class PersonRequest(GraphComponent):
    """Sets ``request_human`` (and a ``topic`` entity) when a message asks for a person."""

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> PersonRequest:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            request = asks_for_person(message.get(TEXT) or "")
            if request is not None:
                self._redirect(message, request)
        return messages

    @staticmethod
    def _redirect(message: Message, request: re.Match) -> None:
        topic = topic_of(message, request)
        if topic:
            message.set(ENTITIES, [*(message.get(ENTITIES) or []), {
                ENTITY_ATTRIBUTE_TYPE: TOPIC_ENTITY, ENTITY_ATTRIBUTE_VALUE: topic,
                "start": 0, "end": 0, EXTRACTOR: PersonRequest.__name__}],
                add_to_output=True)
        intent = message.get(INTENT) or {}
        if intent.get("name") == REQUEST_HUMAN:
            return
        choose_intent(message, REQUEST_HUMAN)
