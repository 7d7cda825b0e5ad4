"""Our fix to Rasa's action-response validation keeps Rasa's behaviour."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.server import apply_fixes

VALID = {
    "events": [{"event": "slot", "name": "requested_service", "value": "check_bill"}],
    "responses": [{"text": "hello"}],
}


@pytest.fixture(scope="module")
def action() -> RemoteAction:
    apply_fixes()
    return RemoteAction("action_account_request", action_endpoint=None)


def test_a_valid_action_server_response_passes(action):
    assert action._validate_action_result(VALID) is True


@pytest.mark.parametrize(
    "response",
    [
        {"events": [{"event": "no_such_event"}], "responses": []},
        {"events": "not a list", "responses": []},
        {"events": [], "responses": ["not an object"]},
    ],
)
def test_an_invalid_response_is_rejected_with_the_hint(action, response):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(response)
