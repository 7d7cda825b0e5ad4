"""The Rasa server as Switchboard runs it: Rasa's own CLI, plus our fixes applied first.

Run as ``python -m bot.server run ...`` with the same arguments as ``rasa run``.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction


@functools.cache
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's check of an action server response, with the schema compiled once.

    ``jsonschema.validate`` re-checks Rasa's large events schema on every call: that cost
    about 25 ms of CPU per custom action, more than the whole NLU pipeline. Same checks,
    same errors (the best match, with Rasa's hint appended).
    """
    error = best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        "from the Action endpoint is valid."
    )
    raise error


def apply_fixes() -> None:
    RemoteAction._validate_action_result = _validate_action_result


def main() -> None:
    apply_fixes()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
