"""What our components share when they overrule the classifier: the chosen intent first in the
ranking, with confidence 1 (the rules key on the top intent; the ranking keeps what DIET thought,
for the contact record and the review loop)."""

from __future__ import annotations

from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message


def choose_intent(message: Message, name: str) -> None:
    """Make ``name`` the message's intent, first in its ranking (once)."""
    chosen = {"name": name, "confidence": 1.0}
    ranking = [c for c in message.get(INTENT_RANKING_KEY) or [] if c.get("name") != name]
    message.set(INTENT, chosen, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)
